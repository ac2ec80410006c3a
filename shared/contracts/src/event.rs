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
}

/// `context.auth` of `user:tokens_generation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAuth {
    /// `authorization_request` (sign-in, or a silent one on an existing session) or
    /// `refresh_token_request`.
    pub origin: String,
    pub connection_id: String,
    /// True when no password was asked: the browser's session was reused.
    pub is_existing_session: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventUser {
    /// `kp_...`.
    pub id: String,
    pub identity_id: String,
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
            },
            context: EventContext {
                domains: EventDomains { kinde_domain: "http://127.0.0.1:8080".into() },
                workflow: EventWorkflow { trigger: Trigger::M2mTokenGeneration },
                application: EventApplication { client_id: "abc".into() },
                auth: None,
                user: None,
                organization: None,
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
                origin: "refresh_token_request".into(),
                connection_id: "conn_password".into(),
                is_existing_session: false,
            }),
            user: Some(EventUser { id: "kp_1".into(), identity_id: "identity_1".into() }),
            organization: Some(EventOrganization { code: "org_1".into() }),
        };
        let json = serde_json::to_value(&context).unwrap();
        assert_eq!(json["auth"]["origin"], "refresh_token_request");
        assert_eq!(json["auth"]["isExistingSession"], false);
        assert_eq!(json["auth"]["connectionId"], "conn_password");
        assert_eq!(json["user"]["identityId"], "identity_1");
        assert_eq!(json["organization"]["code"], "org_1");
    }
}
