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
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["request"]["auth"]["audience"][0], "acme");
        assert_eq!(json["request"]["userAgent"], "curl/8");
        assert_eq!(json["context"]["domains"]["kindeDomain"], "http://127.0.0.1:8080");
        assert_eq!(json["context"]["application"]["clientId"], "abc");
        assert_eq!(json["context"]["workflow"]["trigger"], "m2m:token_generation");
    }
}
