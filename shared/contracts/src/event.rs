//! The `event` object a workflow's default export receives, in Kinde's shape.
//!
//! Field names follow Kinde's documented events (`request.auth.audience`,
//! `context.application.clientId`, ...), so workflows written for Kinde read the same paths.

use serde::{Deserialize, Serialize};

use crate::Trigger;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEvent {
    pub request: EventRequest,
    pub context: EventContext,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRequest {
    pub auth: EventRequestAuth,
    /// The client's IP address as auth-service saw it.
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `user:post_authentication`: the authorization request the sign-in answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_url_params: Option<AuthUrlParams>,
}

/// `request.authUrlParams`: the parameters of the authorization request, as Kinde names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthUrlParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRequestAuth {
    pub audience: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventContext {
    pub domains: EventDomains,
    pub workflow: EventWorkflow,
    pub application: EventApplication,
    /// User tokens only: how the user signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EventAuth>,
    /// User tokens only: who the tokens are for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EventUser>,
    /// User tokens only: the organization signed in to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<EventOrganization>,
    /// `user:pre_mfa`: the policy that applies to this sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<EventMfa>,
}

/// `context.mfa` of `user:pre_mfa` (Kinde spells `enabled_factors` in snake case there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMfa {
    pub policy: crate::mfa::MfaPolicy,
    /// `environment`, or `organization` when the organization's own policy applies.
    pub context: String,
    #[serde(rename = "enabled_factors")]
    pub enabled_factors: Vec<String>,
    /// claimflow exempts no role and no connection: always false.
    pub is_user_role_exempt: bool,
    pub is_user_connection_exempt: bool,
}

/// `context.auth` of the user triggers.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAuth {
    /// `user:tokens_generation`: `authorization_request` (sign-in, or a silent one on an
    /// existing session) or `refresh_token_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub connection_id: String,
    /// `user:tokens_generation`: true when no password was asked (the browser's session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_existing_session: Option<bool>,
    /// `user:post_authentication`: whether this sign-in created the user record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_new_user_record_created: Option<bool>,
    /// `user:existing_password_provided`: the password as typed (never in a log or record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `user:existing_password_provided`: the email as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provided_email: Option<String>,
    /// `user:existing_password_provided`: the stored hash (argon2id, PHC string), when the user
    /// has a password in claimflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_password: Option<String>,
    /// `user:existing_password_provided`: whether claimflow has a user with that email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_user_record_in_kinde: Option<bool>,
    /// `user:new_password_provided`: the password and its confirmation, as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_password: Option<String>,
    /// `user:new_password_provided`: `initial` (sign-up) or `reset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_password_reason: Option<String>,
    /// `user:new_username_provided`: the username as typed; at sign-in, a username typed
    /// instead of an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplied_username: Option<String>,
}

impl EventAuth {
    /// `context.auth` with just the connection: the rest is each trigger's to fill in.
    pub fn connection(connection_id: &str) -> EventAuth {
        EventAuth {
            origin: None,
            connection_id: connection_id.to_owned(),
            is_existing_session: None,
            is_new_user_record_created: None,
            password: None,
            provided_email: None,
            hashed_password: None,
            has_user_record_in_kinde: None,
            first_password: None,
            second_password: None,
            new_password_reason: None,
            supplied_username: None,
        }
    }
}

impl std::fmt::Debug for EventAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventAuth")
            .field("origin", &self.origin)
            .field("connection_id", &self.connection_id)
            .field("is_existing_session", &self.is_existing_session)
            .field("is_new_user_record_created", &self.is_new_user_record_created)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("provided_email", &self.provided_email)
            .field("hashed_password", &self.hashed_password.as_ref().map(|_| "[redacted]"))
            .field("has_user_record_in_kinde", &self.has_user_record_in_kinde)
            .field("first_password", &self.first_password.as_ref().map(|_| "[redacted]"))
            .field("second_password", &self.second_password.as_ref().map(|_| "[redacted]"))
            .field("new_password_reason", &self.new_password_reason)
            .field("supplied_username", &self.supplied_username)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventUser {
    /// `kp_...`.
    pub id: String,
    pub identity_id: String,
    /// `user:new_password_provided`: the user's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl EventUser {
    /// The user `id`, with Kinde's identity id for it.
    pub fn of(id: &str) -> EventUser {
        EventUser { id: id.to_owned(), identity_id: format!("identity_{}", id.trim_start_matches("kp_")), email: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventOrganization {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDomains {
    /// The issuer URL: what `https://<sub>.kinde.com` is for Kinde.
    pub kinde_domain: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventWorkflow {
    pub trigger: Trigger,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventApplication {
    pub client_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m2m_event_serializes_with_kindes_field_names() {
        let event = WorkflowEvent {
            request: EventRequest {
                auth: EventRequestAuth { audience: vec!["acme".into()] },
                ip: "127.0.0.1".into(),
                user_agent: Some("curl/8".into()),
                locale: None,
                auth_url_params: None,
            },
            context: EventContext {
                domains: EventDomains { kinde_domain: "http://127.0.0.1:8080".into() },
                workflow: EventWorkflow { trigger: Trigger::M2mTokenGeneration },
                application: EventApplication { client_id: "abc".into() },
                auth: None,
                user: None,
                organization: None,
                mfa: None,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["request"]["auth"]["audience"][0], "acme");
        assert_eq!(json["request"]["userAgent"], "curl/8");
        assert_eq!(json["context"]["domains"]["kindeDomain"], "http://127.0.0.1:8080");
        assert_eq!(json["context"]["application"]["clientId"], "abc");
        assert_eq!(json["context"]["workflow"]["trigger"], "m2m:token_generation");
        assert!(json["context"].get("user").is_none(), "M2M events have no user: {json}");
    }

    #[test]
    fn user_event_carries_auth_user_and_organization() {
        let context = EventContext {
            domains: EventDomains { kinde_domain: "https://id.example".into() },
            workflow: EventWorkflow { trigger: Trigger::UserTokensGeneration },
            application: EventApplication { client_id: "web".into() },
            auth: Some(EventAuth {
                origin: Some("refresh_token_request".into()),
                is_existing_session: Some(false),
                ..EventAuth::connection("conn_password")
            }),
            user: Some(EventUser::of("kp_1")),
            organization: Some(EventOrganization { code: "org_1".into() }),
            mfa: None,
        };
        let json = serde_json::to_value(&context).unwrap();
        assert_eq!(json["auth"]["origin"], "refresh_token_request");
        assert_eq!(json["auth"]["isExistingSession"], false);
        assert_eq!(json["auth"]["connectionId"], "conn_password");
        assert_eq!(json["user"]["identityId"], "identity_1");
        assert_eq!(json["organization"]["code"], "org_1");
        assert!(json["auth"].get("isNewUserRecordCreated").is_none(), "only post-authentication has it");
    }

    #[test]
    fn post_authentication_event_carries_the_authorization_requests_parameters() {
        let request = EventRequest {
            auth: EventRequestAuth { audience: vec![] },
            ip: "127.0.0.1".into(),
            user_agent: None,
            locale: None,
            auth_url_params: Some(AuthUrlParams {
                state: Some("st".into()),
                client_id: "web".into(),
                redirect_uri: "https://app.example/cb".into(),
                login_hint: Some("ada@example.com".into()),
                scope: "openid".into(),
                ..Default::default()
            }),
        };
        let json = serde_json::to_value(&request).unwrap();
        let params = &json["authUrlParams"];
        assert_eq!(params["clientId"], "web");
        assert_eq!(params["redirectUri"], "https://app.example/cb");
        assert_eq!(params["loginHint"], "ada@example.com");
        assert!(params.get("orgCode").is_none() && params.get("audience").is_none(), "{params}");
    }
}
