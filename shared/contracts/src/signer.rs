//! auth-service ⇄ signer: signing requests and the public keys.

use serde::{Deserialize, Serialize};

use crate::{
    workflow::{BaseClaims, ClaimPatch, WorkflowRef},
    Request, TokenKind,
};

/// Sent by auth-service on `{prefix}signer.v1.issue` (queue group `signer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueRequest {
    pub event_id: String,
    /// `m2m` for client_credentials tokens, `access` for user access tokens.
    pub access_token_kind: TokenKind,
    pub base_claims: BaseClaims,
    /// The deployment auth-service dispatched, if any. The signer accepts patches only from it
    /// and re-reads its declared bindings from the database itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRef>,
    pub patches: Vec<ClaimPatch>,
}

impl IssueRequest {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}signer.v1.issue")
    }
}

impl Request for IssueRequest {
    type Response = IssueResponse;
    const SERVICE: crate::Service = crate::Service::Signer;

    fn subject(&self, prefix: &str) -> String {
        Self::subject_for(prefix)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueResponse {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The claims of the signed access token, so auth-service can answer `scope` and record
    /// what changed without decoding the JWT.
    pub access_claims: crate::Claims,
    pub rejected: Vec<RejectedClaim>,
}

/// A claim the signer refused to merge, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedClaim {
    pub workflow_id: String,
    pub token: TokenKind,
    pub claim: String,
    pub reason: RejectionReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// The claim is on the token kind's prohibited list.
    Prohibited,
    /// The workflow did not declare the binding for this token kind.
    BindingNotDeclared,
    /// The patch names a workflow or version that was not the one dispatched.
    UnknownWorkflow,
    /// The claims would exceed the size limit.
    TooLarge,
    /// The patch is for a token this request does not issue (an ID token on an M2M request).
    TokenNotIssued,
}

impl RejectionReason {
    pub fn describe(self) -> &'static str {
        match self {
            RejectionReason::Prohibited => "claim is prohibited for workflows",
            RejectionReason::BindingNotDeclared => "binding for this token is not declared",
            RejectionReason::UnknownWorkflow => "patch is not from the dispatched workflow",
            RejectionReason::TooLarge => "claims exceed the size limit",
            RejectionReason::TokenNotIssued => "this request does not issue that token",
        }
    }
}

/// Asked on `{prefix}signer.v1.jwks`: the public keys, as a JWK set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwksRequest {}

impl JwksRequest {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}signer.v1.jwks")
    }
}

impl Request for JwksRequest {
    type Response = serde_json::Value;
    const SERVICE: crate::Service = crate::Service::Signer;

    fn subject(&self, prefix: &str) -> String {
        Self::subject_for(prefix)
    }
}

/// Asked on `{prefix}signer.v1.keys` (by auth-service, for the management API and the CLI):
/// the deployment's signing keys, after a rotation or a revocation when it asks for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum KeyCommand {
    List,
    /// A new key, published now, signing after the publication lead time.
    Rotate,
    /// Unpublished at once and never used again; when it was signing, a new key signs at once.
    Revoke {
        kid: String,
    },
}

impl KeyCommand {
    pub fn subject_for(prefix: &str) -> String {
        format!("{prefix}signer.v1.keys")
    }

    /// Published by a signer once the keys changed: every signer reloads them, every
    /// auth-service forgets the JWK set it cached.
    pub fn changed_subject(prefix: &str) -> String {
        format!("{prefix}signer.v1.keys.changed")
    }
}

impl Request for KeyCommand {
    type Response = Vec<KeyInfo>;
    const SERVICE: crate::Service = crate::Service::Signer;

    fn subject(&self, prefix: &str) -> String {
        Self::subject_for(prefix)
    }
}

/// A signing key as `claimflow keys list` shows it; never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    /// `next` (published, not signing yet), `active`, `retiring` (superseded, published until the
    /// last token it signed expires), `retired` or `revoked`.
    pub state: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub signs_from: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Unix seconds: no token it signed expires later.
    pub last_exp: i64,
}
