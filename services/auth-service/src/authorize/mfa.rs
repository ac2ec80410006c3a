//! The second factor: an authenticator app (TOTP), with recovery codes for a lost phone.
//!
//! Once the first factor is done and `user:post_authentication` agreed, the policy that applies
//! is the organization's (when the sign-in is to one that set its own) or the environment's:
//! `off`, `optional` or `required`. `user:pre_mfa` runs then with that policy in `context.mfa`,
//! and `kinde.mfa.setEnforcementPolicy` may change it for this sign-in (`skip` for one
//! organization, `required` for a sensitive one). Then:
//! - a user who enrolled types a code from the app, or one of their recovery codes;
//! - a user who did not is shown a QR code to scan and types the first code from it, then sees
//!   their ten recovery codes once; under `optional` they may skip.
//!
//! The browser holds a ticket (a random secret in the form, stored hashed) naming the waiting
//! sign-in; a code works once (its 30-second step is stored), five wrong codes spend the ticket,
//! and wrong codes count towards the account's sign-in throttle. The session starts only after.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;
use claimflow_contracts::{
    event::{EventAuth, EventMfa, EventOrganization, EventUser},
    mfa::{MfaEnforcement, MfaPolicy, AUTHENTICATOR_APP},
    workflow::SessionPolicy,
    Trigger,
};
use claimflow_storage::{entity::user, MfaCheck, NewMfaChallenge, RECOVERY_CODES};

use super::{cookies, pages, pages::FormPage, storage_page, AuthorizationRequest, Refusal};
use crate::{issuance, secrets, totp, user_tokens, user_tokens::PASSWORD_CONNECTION_ID, AppState};

/// How long the page waits for a code.
const CHALLENGE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Who passed the first factor, and what the session to come keeps of it.
pub(super) struct FirstFactor<'a> {
    pub user: &'a user::Model,
    pub session_policy: Option<SessionPolicy>,
}

/// Whether this sign-in needs a second factor: `None` when it does not (the session may start),
/// else the page that asks for it (or why the sign-in stops).
pub(super) async fn gate(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    first: &FirstFactor<'_>,
    caller: (SocketAddr, &HeaderMap),
) -> Option<Response> {
    let user = first.user;
    let organizations = match state.store.user_organizations(&user.id).await {
        Ok(organizations) => organizations,
        Err(err) => return Some(storage_page(err).into_response()),
    };
    // NOTE: a sign-in to an organization the user is not in is refused later, with the code.
    let org_code = super::organization_for(request, &organizations).ok().flatten();
    let (policy, context, role_exempt) = match policy_for(state, org_code.as_deref(), &user.id).await {
        Ok(found) => found,
        Err(err) => return Some(storage_page(err).into_response()),
    };
    let auth = EventAuth::connection(PASSWORD_CONNECTION_ID);
    let mut event =
        super::sign_in_event(state, request, Trigger::UserPreMfa, caller, auth, Some(EventUser::of(&user.id)));
    event.context.organization = org_code.map(|code| EventOrganization { code });
    event.context.mfa = Some(EventMfa {
        policy,
        context: context.to_owned(),
        enabled_factors: vec![AUTHENTICATOR_APP.to_owned()],
        is_user_role_exempt: role_exempt,
        is_user_connection_exempt: false,
    });
    let default = if role_exempt { MfaEnforcement::Skip } else { MfaEnforcement::of(policy) };
    let enforcement = match issuance::run_sign_in_workflow(state, event, Vec::new()).await {
        Ok(outcome) => outcome.and_then(|outcome| outcome.mfa_enforcement).unwrap_or(default),
        Err(error) if error.code.as_str() == "access_denied" => {
            let refusal = Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                state: request.state.clone(),
                error: "access_denied",
                description: error.description,
            };
            return Some(refusal.into_response());
        }
        Err(error) => {
            tracing::warn!(error = error.code.as_str(), description = %error.description, "sign-in stopped by its pre-MFA workflow");
            return Some(pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in could not be completed",
                "A check this service runs could not be made just now. Try again in a moment.",
            ));
        }
    };
    let enrolled = user.totp_secret.is_some();
    let optional = match enforcement {
        MfaEnforcement::Skip => return None,
        // NOTE: under `optional`, a user who enrolled is asked for a code all the same.
        MfaEnforcement::Optional => !enrolled,
        MfaEnforcement::Required => false,
    };
    let ticket = user_tokens::new_secret();
    let enrolment = (!enrolled).then(|| totp::enrolment(&issuer_label(state), &user.email));
    let sealed = enrolment.as_ref().map(|enrolment| state.config.secrets.seal(&enrolment.secret));
    let challenge = NewMfaChallenge {
        ticket_hash: &secrets::hash_secret(&ticket),
        user_id: &user.id,
        session_policy: first.session_policy.map(SessionPolicy::as_str),
        pending_secret: sealed.as_deref(),
        optional,
        lifetime_ms: CHALLENGE_LIFETIME_MS,
    };
    if let Err(err) = state.store.create_mfa_challenge(challenge).await {
        return Some(storage_page(err).into_response());
    }
    let shown = Shown { ticket: &ticket, enrolment: enrolment.as_ref(), optional, recovery_codes: &[] };
    Some(page(state, request, nonce, shown, None, StatusCode::OK))
}

/// The policy for `user_id`'s sign-in to `org_code` (or to no organization), where it comes from
/// (`context.mfa.context`), and whether the user's roles exempt them from it: an organization's
/// own policy exempts a member whose roles there are all among its exempt roles (as Kinde does:
/// one role that is not, and the policy applies).
async fn policy_for(
    state: &AppState,
    org_code: Option<&str>,
    user_id: &str,
) -> Result<(MfaPolicy, &'static str, bool), claimflow_storage::StorageError> {
    if let Some(code) = org_code {
        if let Some(organization) = state.store.find_organization(code).await? {
            if let Some(policy) = organization.mfa_policy {
                let exempt = organization.mfa_exempt_roles();
                let role_exempt = !exempt.is_empty() && {
                    let roles = state.store.user_access(code, user_id).await?.roles;
                    !roles.is_empty() && roles.iter().all(|role| exempt.contains(&role.key))
                };
                return Ok((policy, "organization", role_exempt));
            }
        }
    }
    Ok((state.store.environment_mfa_policy().await?, "environment", false))
}

/// The name an authenticator app lists the account under: the issuer's host.
fn issuer_label(state: &AppState) -> String {
    url::Url::parse(&state.config.issuer)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "claimflow".to_owned())
}

/// What the page shows.
struct Shown<'a> {
    ticket: &'a str,
    /// Enrolment: the QR code and the key.
    enrolment: Option<&'a totp::Enrolment>,
    optional: bool,
    /// After enrolment: the codes, shown once.
    recovery_codes: &'a [String],
}

fn page(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    shown: Shown<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let name = &request.application.name;
    let mode = match (shown.recovery_codes.is_empty(), shown.enrolment.is_some()) {
        (false, _) => "recovery",
        (true, true) => "enrol",
        (true, false) => "challenge",
    };
    pages::MfaPage {
        app_name: name,
        app_initial: pages::initial(name),
        request: &request.raw,
        csrf: &cookies::csrf_token(state, nonce),
        ticket: shown.ticket,
        mode,
        qr_svg: shown.enrolment.map(|enrolment| enrolment.qr_svg.as_str()).unwrap_or_default(),
        secret: shown.enrolment.map(|enrolment| enrolment.secret.as_str()).unwrap_or_default(),
        otpauth_uri: shown.enrolment.map(|enrolment| enrolment.uri.as_str()).unwrap_or_default(),
        optional: shown.optional,
        recovery_codes: shown.recovery_codes,
        error,
    }
    .respond(status, &request.redirect_uri)
}

fn expired() -> Response {
    pages::message(
        StatusCode::GONE,
        "This sign-in has expired",
        "The sign-in waited too long for its code, or a wrong code was typed too many times. Go back to the \
         application and sign in again.",
    )
}

/// `POST /oauth2/mfa`: a code from the app (or a recovery code), "not now" under `optional`, or
/// "continue" once the recovery codes were shown; then the session.
pub async fn second_factor(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    posted: super::PostedForm,
) -> Response {
    let (request, nonce) = (&posted.request, posted.nonce.as_str());
    let ticket = posted.field("ticket");
    let ticket_hash = secrets::hash_secret(ticket);
    let challenge = match state.store.mfa_challenge(&ticket_hash).await {
        Ok(MfaCheck::Open(challenge)) => challenge,
        Ok(MfaCheck::Expired) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    let user = match state.store.find_user(&challenge.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return expired(),
        Err(err) => return storage_page(err).into_response(),
    };
    let session_policy = challenge.session_policy.as_deref().and_then(SessionPolicy::parse);
    let finish = |jar: CookieJar| async {
        match state.store.finish_mfa_challenge(&ticket_hash).await {
            Ok(true) => {}
            Ok(false) => return expired(),
            Err(err) => return storage_page(err).into_response(),
        }
        super::open_session(&state, request, &user, session_policy, peer, &headers, jar).await
    };
    let pending = match challenge.pending_secret.as_deref().map(|sealed| state.config.secrets.open(sealed)) {
        None => None,
        Some(Ok(secret)) => Some(secret),
        Some(Err(_)) => {
            tracing::error!(user_id = %user.id, "an enrolment's secret does not decrypt (CLAIMFLOW_SECRETS_KEY changed?)");
            return expired();
        }
    };
    match posted.field("action") {
        "continue" if challenge.passed => return finish(jar).await,
        "skip" if challenge.optional && pending.is_some() => {
            tracing::info!(user_id = %user.id, "MFA enrolment skipped (optional)");
            return finish(jar).await;
        }
        _ if challenge.passed => return expired(),
        _ => {}
    }

    let subject = format!("mfa:{}", user.id);
    match super::throttled(&state, &subject, state.config.login_throttle.max_per_account).await {
        Ok(Some(retry_after)) => {
            let message = format!(
                "Too many wrong codes were typed for this account. {} Then sign in again.",
                super::try_again_in(retry_after)
            );
            let page = pages::message(StatusCode::TOO_MANY_REQUESTS, "Too many wrong codes", &message);
            return super::with_retry_after(page, retry_after);
        }
        Ok(None) => {}
        Err(err) => return storage_page(err).into_response(),
    }
    let code = posted.field("code").trim();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);

    // Enrolment: the first code proves the app holds the secret; the recovery codes follow.
    if let Some(secret) = &pending {
        if let Some(step) = totp::matching_step(secret, code, now) {
            let codes = totp::recovery_codes(RECOVERY_CODES);
            let hashes: Vec<String> =
                codes.iter().map(|code| secrets::hash_secret(&totp::normalize_recovery_code(code))).collect();
            let sealed = challenge.pending_secret.as_deref().unwrap_or_default();
            if let Err(err) = state.store.enrol_totp(&ticket_hash, &user.id, sealed, step, &hashes).await {
                return storage_page(err).into_response();
            }
            if let Err(err) = state.store.clear_login_failures(&subject).await {
                return storage_page(err).into_response();
            }
            tracing::info!(user_id = %user.id, "authenticator app enrolled");
            let shown = Shown { ticket, enrolment: None, optional: false, recovery_codes: &codes };
            return page(&state, request, nonce, shown, None, StatusCode::OK);
        }
        // NOTE: the QR code is drawn again only for a wrong code, when the page shows it again.
        let enrolment = totp::Enrolment::of(secret, &issuer_label(&state), &user.email);
        let shown = Shown { ticket, enrolment: Some(&enrolment), optional: challenge.optional, recovery_codes: &[] };
        return wrong_code(&state, request, nonce, &subject, &ticket_hash, shown).await;
    }

    // A user who enrolled: a code from the app, or a recovery code.
    let accepted = if totp::is_recovery_code(code) {
        let hash = secrets::hash_secret(&totp::normalize_recovery_code(code));
        state.store.use_recovery_code(&user.id, &hash).await
    } else {
        let secret = user.totp_secret.as_deref().and_then(|sealed| match state.config.secrets.open(sealed) {
            Ok(secret) => Some(secret),
            Err(_) => {
                // NOTE: only a recovery code or an MFA reset gets this user in.
                tracing::error!(user_id = %user.id, "an authenticator secret does not decrypt (CLAIMFLOW_SECRETS_KEY changed?)");
                None
            }
        });
        match secret.and_then(|secret| totp::matching_step(&secret, code, now)) {
            Some(step) => state.store.accept_totp_step(&user.id, step).await,
            None => Ok(false),
        }
    };
    match accepted {
        Ok(true) => {
            if let Err(err) = state.store.clear_login_failures(&subject).await {
                return storage_page(err).into_response();
            }
            finish(jar).await
        }
        Ok(false) => {
            let shown = Shown { ticket, enrolment: None, optional: false, recovery_codes: &[] };
            wrong_code(&state, request, nonce, &subject, &ticket_hash, shown).await
        }
        Err(err) => storage_page(err).into_response(),
    }
}

async fn wrong_code(
    state: &AppState,
    request: &AuthorizationRequest,
    nonce: &str,
    subject: &str,
    ticket_hash: &str,
    shown: Shown<'_>,
) -> Response {
    if let Err(err) = state.store.record_login_failure(&[subject.to_owned()]).await {
        return storage_page(err).into_response();
    }
    let left = match state.store.mfa_wrong_code(ticket_hash).await {
        Ok(left) => left,
        Err(err) => return storage_page(err).into_response(),
    };
    if left <= 0 {
        return expired();
    }
    let message = format!(
        "That code is not right, or was used already. {left} {} left.",
        if left == 1 { "try" } else { "tries" }
    );
    page(state, request, nonce, shown, Some(&message), StatusCode::UNAUTHORIZED)
}
