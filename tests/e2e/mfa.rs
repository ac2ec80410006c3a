//! Multi-factor authentication with an authenticator app: the environment's policy and an
//! organization's own, enrolment from a QR code's key, codes computed here (RFC 6238, not by
//! claimflow's TOTP code), recovery codes, and `user:pre_mfa` skipping MFA for one organization.

use std::time::{SystemTime, UNIX_EPOCH};

use claimflow_e2e::{html_unescape, Answer, Browser, Stack, WebApp};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse 1";

/// RFC 4648 base32 (no padding), as an app reads the key shown on the page.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase()).expect("a base32 character") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// The 6-digit code an authenticator app shows at `unix` seconds (RFC 6238: HMAC-SHA-1, 30 s).
fn totp(secret: &str, unix: u64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&(unix / 30).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    format!("{:06}", binary % 1_000_000)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The text of the element with `id` (`<code id="...">text</code>`).
fn element_text(page: &Answer, id: &str) -> String {
    let start = page.body.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("#{id} in {}", page.body));
    let rest = &page.body[start..];
    let text = &rest[rest.find('>').unwrap() + 1..];
    html_unescape(&text[..text.find('<').unwrap()])
}

fn recovery_codes(page: &Answer) -> Vec<String> {
    page.body.split("<li><code>").skip(1).map(|rest| rest[..rest.find('<').unwrap()].to_owned()).collect()
}

async fn submit(stack: &Stack, browser: &Browser, page: &Answer, fields: &[(&str, &str)]) -> Answer {
    let mut form = page.hidden_fields();
    form.extend(fields.iter().map(|(name, value)| (name.to_string(), value.to_string())));
    browser.post(&stack.url("/oauth2/mfa"), &form).await
}

/// The code at the redirect, exchanged and verified: the access token's claims.
async fn tokens_of(stack: &Stack, app: &WebApp, answer: &Answer, verifier: &str) -> Value {
    assert_eq!(answer.status, 303, "signed in: {} {:?}", answer.body, answer.location);
    let code = answer.param("code").unwrap_or_else(|| panic!("a code: {:?}", answer.location));
    let (status, tokens) = stack.exchange_code(app, &code, verifier).await;
    assert_eq!(status, 200, "{tokens}");
    stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await
}

async fn set_environment_policy(stack: &Stack, body: Value) -> (u16, Value) {
    stack.management(Method::PUT, "mfa", Some(body)).await
}

#[test]
fn the_tests_totp_matches_rfc_6238() {
    // Appendix B: "12345678901234567890" as base32, the last 6 of 8 digits.
    assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59), "287082");
    assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1_111_111_109), "081804");
}

#[tokio::test]
async fn a_required_policy_enrols_from_a_qr_code_then_asks_for_a_code_or_a_recovery_code() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let ada = stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;

    // The policy: off until set; what claimflow does not offer is refused by name.
    let (status, body) = stack.management(Method::GET, "mfa", None).await;
    assert_eq!((status, body["policy"].as_str()), (200, Some("off")), "{body}");
    let (status, body) = set_environment_policy(&stack, json!({ "policy": "sometimes" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("policy"), "{body}");
    let (status, body) =
        set_environment_policy(&stack, json!({ "policy": "required", "enabled_factors": ["mfa:sms"] })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("\"mfa:sms\""), "{body}");
    let (status, body) = set_environment_policy(
        &stack,
        json!({ "policy": "required", "enabled_factors": ["mfa:authenticator_app"], "is_recovery_codes_enabled": true }),
    )
    .await;
    assert_eq!((status, body["policy"].as_str()), (200, Some("required")), "{body}");

    // Enrolment: the password is right, so the page shows a QR code and its key; no session yet.
    let browser = Browser::default();
    let (page, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert_eq!(page.status, 200, "{} {:?}", page.body, page.location);
    assert!(page.body.contains("Set up two-step verification") && page.body.contains("<svg"), "{}", page.body);
    assert!(!browser.has_cookie("claimflow_session"), "no session before the second factor");
    let secret = element_text(&page, "totp-secret");
    assert_eq!(base32_decode(&secret).len(), 20, "a 160-bit key: {secret}");

    // The form works only from the browser that signed in (its CSRF cookie).
    let enrolled_at = now();
    let stranger = submit(&stack, &Browser::default(), &page, &[("code", &totp(&secret, enrolled_at))]).await;
    assert_eq!(stranger.status, 403, "{}", stranger.body);
    assert!(stranger.body.contains("Verification form expired"), "{}", stranger.body);

    // A wrong code is refused with the tries left; the app's code enrols.
    let right = totp(&secret, enrolled_at);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let answer = submit(&stack, &browser, &page, &[("code", &wrong)]).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body.contains("That code is not right") && answer.body.contains("4 tries left"), "{}", answer.body);
    let shown = submit(&stack, &browser, &answer, &[("code", &right)]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("Save your recovery codes"), "{}", shown.body);
    let codes = recovery_codes(&shown);
    assert_eq!(codes.len(), 10, "{}", shown.body);
    let answer = submit(&stack, &browser, &shown, &[("action", "continue")]).await;
    assert_eq!(tokens_of(&stack, &app, &answer, &verifier).await["sub"], ada.as_str());
    assert!(browser.has_cookie("claimflow_session"));
    let (_, user) = stack.management(Method::GET, &format!("user?id={ada}"), None).await;
    assert_eq!(user["is_mfa_enrolled"], true, "{user}");

    // The next sign-in asks for a code: the one used to enrol does not work twice, the next does.
    let browser = Browser::default();
    let (page, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Two-step verification") && !page.body.contains("<svg"), "{}", page.body);
    let replayed = submit(&stack, &browser, &page, &[("code", &right)]).await;
    assert_eq!(replayed.status, 401, "a code works once: {}", replayed.body);
    let enrolled_step = enrolled_at / 30;
    let at = if now() / 30 <= enrolled_step { (enrolled_step + 1) * 30 } else { now() };
    let answer = submit(&stack, &browser, &replayed, &[("code", &totp(&secret, at))]).await;
    assert_eq!(tokens_of(&stack, &app, &answer, &verifier).await["sub"], ada.as_str());

    // A recovery code works once instead of the app's code.
    let browser = Browser::default();
    let (page, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    let answer = submit(&stack, &browser, &page, &[("code", &codes[3].to_uppercase())]).await;
    assert_eq!(tokens_of(&stack, &app, &answer, &verifier).await["sub"], ada.as_str());
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    let again = submit(&stack, &browser, &page, &[("code", &codes[3])]).await;
    assert_eq!(again.status, 401, "a recovery code works once: {}", again.body);

    // Five wrong codes spend the sign-in: it must start again.
    let mut answer = again;
    for _ in 0..4 {
        answer = submit(&stack, &browser, &answer, &[("code", "zzzzz-zzzzz")]).await;
    }
    assert_eq!(answer.status, 410, "{}", answer.body);
    assert!(answer.body.contains("This sign-in has expired"), "{}", answer.body);

    // A lost phone: the management API resets the factor, and the next sign-in enrols again.
    let (status, body) = stack.management(Method::DELETE, &format!("users/{ada}/mfa"), None).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert!(page.body.contains("Set up two-step verification"), "{}", page.body);
    assert_ne!(element_text(&page, "totp-secret"), secret, "a new key");
}

const PRE_MFA: &str = r#"import { WorkflowSettings, WorkflowTrigger, onUserPreMFA, setEnforcementPolicy } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "mfaPolicy",
  trigger: WorkflowTrigger.UserPreMFA,
  failurePolicy: { action: "stop" },
  bindings: { "kinde.mfa": {} },
};
export default async function mfaPolicy(event: onUserPreMFA) {
  console.log(JSON.stringify({ mfa: event.context.mfa, org: event.context.organization, user: event.context.user.id }));
  if (event.context.organization?.code === "RELAXED") setEnforcementPolicy("skip");
}
"#;

async fn organization(stack: &Stack, name: &str, member: &str) -> String {
    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": name }))).await;
    let code = org["organization"]["code"].as_str().unwrap().to_owned();
    let users = json!({ "users": [{ "id": member }] });
    let (status, body) = stack.management(Method::POST, &format!("organizations/{code}/users"), Some(users)).await;
    assert_eq!(status, 200, "{body}");
    code
}

#[tokio::test]
async fn a_pre_mfa_workflow_skips_mfa_for_one_organization_and_an_organization_can_set_its_own_policy() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let ada = stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;
    let relaxed = organization(&stack, "Relaxed", &ada).await;
    let strict = organization(&stack, "Strict", &ada).await;
    let (status, body) = set_environment_policy(&stack, json!({ "policy": "required" })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = stack
        .deploy(&[("kindeSrc/environment/workflows/mfaPolicy/Workflow.ts", &PRE_MFA.replace("RELAXED", &relaxed))])
        .await;
    assert_eq!(status, 200, "{body}");

    // The relaxed organization: no second factor, the code at once.
    let browser = Browser::default();
    let (answer, verifier) =
        stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[("org_code", &relaxed)]).await;
    let claims = tokens_of(&stack, &app, &answer, &verifier).await;
    assert_eq!(claims["org_code"], relaxed.as_str(), "{claims}");

    // The strict one: the environment's required policy stands.
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[("org_code", &strict)]).await;
    assert_eq!(page.status, 200, "{:?}", page.location);
    assert!(page.body.contains("Set up two-step verification"), "{}", page.body);

    // The organization's own policy (off) applies to a sign-in to it, and the workflow hears so.
    let (status, body) =
        stack.management(Method::PUT, &format!("organizations/{strict}/mfa"), Some(json!({ "policy": "off" }))).await;
    assert_eq!((status, body["effective_policy"].as_str()), (200, Some("off")), "{body}");
    let browser = Browser::default();
    let (answer, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[("org_code", &strict)]).await;
    assert_eq!(tokens_of(&stack, &app, &answer, &verifier).await["org_code"], strict.as_str());
    let (_, body) =
        stack.management(Method::PUT, &format!("organizations/{strict}/mfa"), Some(json!({ "policy": null }))).await;
    assert_eq!((body["policy"].clone(), body["effective_policy"].as_str()), (Value::Null, Some("required")), "{body}");

    // Each run saw Kinde's context.mfa.
    let runs: Vec<Value> = stack.runs().await.into_iter().filter(|run| run["trigger"] == "user:pre_mfa").collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let events: Vec<Value> =
        runs.iter().map(|run| serde_json::from_str(run["logs"][0]["message"].as_str().unwrap()).unwrap()).collect();
    let of = |code: &str, policy: &str| {
        events.iter().find(|event| event["org"]["code"] == code && event["mfa"]["policy"] == policy).cloned()
    };
    let strict_env = of(&strict, "required").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(strict_env["mfa"]["context"], "environment");
    assert_eq!(strict_env["mfa"]["enabled_factors"], json!(["mfa:authenticator_app"]));
    assert_eq!(strict_env["mfa"]["isUserRoleExempt"], false);
    assert_eq!(strict_env["mfa"]["isUserConnectionExempt"], false);
    assert_eq!(strict_env["user"], ada.as_str());
    assert_eq!(of(&strict, "off").unwrap_or_else(|| panic!("{events:?}"))["mfa"]["context"], "organization");
    assert!(of(&relaxed, "required").is_some(), "{events:?}");

    // kinde.mfa is for user:pre_mfa only.
    let tokens = r#"export const workflowSettings = { id: "claims", trigger: "user:tokens_generation", bindings: { "kinde.mfa": {} } };
export default async function claims(event: any) { kinde.mfa.setEnforcementPolicy("skip"); }
"#;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/claims/Workflow.ts", tokens)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("kinde.mfa is not offered on user:tokens_generation"), "{message}");
    assert!(message.contains("user:pre_mfa"), "{message}");
}

/// Kinde's exempt roles: an organization's own policy skips a member whose roles there are all
/// exempt; one role that is not, and the policy applies. The pre-MFA workflow hears which.
#[tokio::test]
async fn an_organizations_exempt_roles_spare_members_whose_roles_are_all_exempt() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let ada = stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;
    let bob = stack.user_with_password("bob@example.com", "Bob", "Babbage", PASSWORD).await;
    for key in ["auditor", "admin"] {
        let (status, body) = stack.management(Method::POST, "roles", Some(json!({ "name": key, "key": key }))).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Ledger" }))).await;
    let code = org["organization"]["code"].as_str().unwrap().to_owned();
    let users = json!({ "users": [{ "id": ada, "roles": ["auditor"] }, { "id": bob, "roles": ["auditor", "admin"] }] });
    let (status, body) = stack.management(Method::POST, &format!("organizations/{code}/users"), Some(users)).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("organizations/{code}/mfa");
    let (status, body) =
        stack.management(Method::PUT, &path, Some(json!({ "policy": "required", "exempt_roles": ["nope"] }))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains(r#"exempt_roles: there is no role with the key \"nope\""#), "{body}");
    let (status, body) =
        stack.management(Method::PUT, &path, Some(json!({ "policy": "required", "exempt_roles": ["auditor"] }))).await;
    assert_eq!((status, body["exempt_roles"].clone()), (200, json!(["auditor"])), "{body}");
    assert_eq!(stack.management(Method::GET, &path, None).await.1["exempt_roles"], json!(["auditor"]));
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/mfaPolicy/Workflow.ts", PRE_MFA)]).await;
    assert_eq!(status, 200, "{body}");

    // Only exempt roles: no second factor. One more role: asked to enrol.
    let browser = Browser::default();
    let (answer, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[("org_code", &code)]).await;
    assert_eq!(tokens_of(&stack, &app, &answer, &verifier).await["org_code"], code.as_str());
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "bob@example.com", PASSWORD, &[("org_code", &code)]).await;
    assert_eq!(page.status, 200, "{:?}", page.location);
    assert!(page.body.contains("Set up two-step verification"), "{}", page.body);

    let runs: Vec<Value> = stack.runs().await.into_iter().filter(|run| run["trigger"] == "user:pre_mfa").collect();
    let exempt: Vec<(String, Value)> = runs
        .iter()
        .map(|run| serde_json::from_str::<Value>(run["logs"][0]["message"].as_str().unwrap()).unwrap())
        .map(|event| (event["user"].as_str().unwrap().to_owned(), event["mfa"]["isUserRoleExempt"].clone()))
        .collect();
    assert!(
        exempt.contains(&(ada.clone(), json!(true))) && exempt.contains(&(bob.clone(), json!(false))),
        "{exempt:?}"
    );

    // A PUT sets the policy and the exempt roles together: without them, none are left.
    let (status, body) = stack.management(Method::PUT, &path, Some(json!({ "policy": null }))).await;
    assert_eq!((status, body["exempt_roles"].clone()), (200, json!([])), "a PUT sets both: {body}");
}

#[tokio::test]
async fn an_optional_policy_lets_a_user_skip_enrolment_and_asks_an_enrolled_user_for_a_code() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;
    assert_eq!(set_environment_policy(&stack, json!({ "policy": "optional" })).await.0, 200);

    let browser = Browser::default();
    let (page, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert!(page.body.contains("Set up two-step verification") && page.body.contains("Not now"), "{}", page.body);
    let answer = submit(&stack, &browser, &page, &[("action", "skip")]).await;
    tokens_of(&stack, &app, &answer, &verifier).await;

    // Enrolled once, the code is asked for at each sign-in, and skipping is no way round it.
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    let secret = element_text(&page, "totp-secret");
    let enrolled_at = now();
    let shown = submit(&stack, &browser, &page, &[("code", &totp(&secret, enrolled_at))]).await;
    assert!(shown.body.contains("Save your recovery codes"), "{}", shown.body);
    let browser = Browser::default();
    let (page, verifier) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert!(page.body.contains("Two-step verification") && !page.body.contains("Not now"), "{}", page.body);
    let skipped = submit(&stack, &browser, &page, &[("action", "skip")]).await;
    assert_eq!(skipped.status, 401, "no skipping once enrolled: {:?} {}", skipped.location, skipped.body);
    let at = if now() / 30 <= enrolled_at / 30 { (enrolled_at / 30 + 1) * 30 } else { now() };
    let answer = submit(&stack, &browser, &skipped, &[("code", &totp(&secret, at))]).await;
    tokens_of(&stack, &app, &answer, &verifier).await;
}

#[tokio::test]
async fn a_failing_pre_mfa_workflow_stops_the_sign_in_with_a_page_or_leaves_the_policy_as_it_is() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", PASSWORD).await;
    assert_eq!(set_environment_policy(&stack, json!({ "policy": "required" })).await.0, 200);
    let failing = |action: &str| {
        PRE_MFA.replace("action: \"stop\"", &format!("action: \"{action}\"")).replace(
            "  console.log(",
            "  setEnforcementPolicy(\"skip\");\n  throw new Error(\"the risk service is down\");\n  console.log(",
        )
    };
    let path = "kindeSrc/environment/workflows/mfaPolicy/Workflow.ts";

    // stop: a page that says so, no session, no code; the run says why.
    let (status, body) = stack.deploy(&[(path, &failing("stop"))]).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert_eq!(answer.status, 503, "{:?} {}", answer.location, answer.body);
    assert!(answer.body.contains("Sign-in could not be completed"), "{}", answer.body);
    assert!(!answer.body.contains("risk service"), "no internals on the page: {}", answer.body);
    assert!(!browser.has_cookie("claimflow_session"));
    let runs = stack.runs().await;
    assert_eq!(runs[0]["status"], "failed", "{runs:?}");
    assert!(runs[0]["error"].as_str().unwrap().contains("the risk service is down"), "{runs:?}");

    // continue: the policy stands as if no workflow ran (its skip, set before it threw, is dropped).
    let (status, body) = stack.deploy(&[(path, &failing("continue"))]).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::default();
    let (page, _) = stack.sign_in(&browser, &app, "ada@example.com", PASSWORD, &[]).await;
    assert_eq!(page.status, 200, "{:?}", page.location);
    assert!(page.body.contains("Set up two-step verification"), "{}", page.body);
}
