//! What must outlive a token request: the audit event of every token issued and the record of
//! every workflow run. auth-service publishes one [`IssuanceRecord`] per token request to a
//! JetStream stream and waits for the stream's acknowledgement before it answers the client;
//! a writer consumes the stream and stores the records in the database in batches. So the token
//! path never waits for a database write, and a record the client's answer depended on is never
//! lost, whatever process dies when.

use serde::{Deserialize, Serialize};

use crate::workflow::LogLine;

/// One message per token request that issued a token or ran a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuanceRecord {
    pub event_id: String,
    /// The token issued, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<TokenAudit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRecord>,
}

/// The audit event of an issued token: what a reviewer needs to trace a token back to who got
/// it, for what, and which workflow code shaped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAudit {
    /// The access token's `jti`.
    pub jti: String,
    pub client_id: String,
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    pub grant_type: String,
    pub audience: Vec<String>,
    /// The organization: the application's `org_code` property for M2M tokens, the one signed
    /// in to for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_code: Option<String>,
    /// The user, for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub scope: String,
    /// The workflow versions whose claims went into the token.
    #[serde(default)]
    pub workflows: Vec<WorkflowVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Unix milliseconds.
    pub issued_at_ms: i64,
    /// The access token's `exp`, Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub workflow_id: String,
    pub version: i32,
}

/// One workflow run, as the runs API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique and fixed when the record is made, so a redelivered record is stored once.
    pub id: String,
    pub deployment_id: String,
    pub workflow_id: String,
    pub version: i32,
    pub trigger: crate::Trigger,
    pub status: crate::workflow::RunStatus,
    pub duration_us: i64,
    pub logs: Vec<LogLine>,
    /// Claims the run set, per token kind: `{"m2m": {...}}`.
    pub claims_set: serde_json::Value,
    /// Claims the signer refused.
    pub rejected: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub worker_id: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
}

impl IssuanceRecord {
    /// `{prefix}records.v1.issuance`.
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}records.v1.issuance")
    }
}

/// The stream holding the records until they are stored: `CLAIMFLOW_RECORDS` for the prefix
/// `claimflow.` (stream names cannot contain dots).
pub fn stream_name(prefix: &str) -> String {
    let base = prefix.trim_end_matches('.').replace(['.', '-'], "_").to_uppercase();
    if base.is_empty() {
        "RECORDS".to_owned()
    } else {
        format!("{base}_RECORDS")
    }
}

/// The durable consumer every auth-service replica writes the records through (each record is
/// delivered to one of them).
pub const WRITER_CONSUMER: &str = "database-writer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_follow_the_prefix_without_dots() {
        assert_eq!(stream_name("claimflow."), "CLAIMFLOW_RECORDS");
        assert_eq!(stream_name("tenant-a.claimflow."), "TENANT_A_CLAIMFLOW_RECORDS");
        assert_eq!(stream_name(""), "RECORDS");
    }
}
