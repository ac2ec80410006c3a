//! Merging workflow patches into base claims: the rules no workflow can get around.
//!
//! Pure functions, so every rule is tested without NATS. The caller supplies the bindings read
//! from the deployed settings, never the worker's account of them.

use claimflow_contracts::{
    settings::WorkflowSettings,
    signer::{RejectedClaim, RejectionReason},
    workflow::{BaseClaims, ClaimPatch, WorkflowRef},
    Claims, ProhibitedClaims, TokenKind,
};

/// What the deployed workflow is allowed to do, as stored at deploy time.
pub struct DeployedPermissions<'a> {
    pub workflow: &'a WorkflowRef,
    pub settings: &'a WorkflowSettings,
}

pub struct Merged {
    pub access: Claims,
    pub id: Option<Claims>,
    pub rejected: Vec<RejectedClaim>,
}

/// Applies each permitted claim of `patches` to `base`, reporting every claim it drops.
pub fn merge_patches(
    base: BaseClaims,
    access_token_kind: TokenKind,
    permissions: Option<DeployedPermissions<'_>>,
    patches: Vec<ClaimPatch>,
    max_patch_bytes: usize,
) -> Merged {
    let BaseClaims { mut access, mut id } = base;
    let mut rejected = Vec::new();
    for patch in patches {
        let reason = patch_rejection(&patch, access_token_kind, id.is_some(), permissions.as_ref(), max_patch_bytes);
        let target = match (reason, patch.token) {
            (Some(reason), _) => {
                rejected.extend(patch.set.keys().map(|claim| RejectedClaim {
                    workflow_id: patch.workflow_id.clone(),
                    token: patch.token,
                    claim: claim.clone(),
                    reason,
                }));
                continue;
            }
            (None, TokenKind::Id) => id.as_mut().expect("checked by patch_rejection"),
            (None, _) => &mut access,
        };
        for (claim, value) in patch.set {
            if ProhibitedClaims::is_prohibited(patch.token, &claim) {
                rejected.push(RejectedClaim {
                    workflow_id: patch.workflow_id.clone(),
                    token: patch.token,
                    claim,
                    reason: RejectionReason::Prohibited,
                });
            } else {
                target.insert(claim, value);
            }
        }
    }
    Merged { access, id, rejected }
}

/// Why a whole patch is refused, if it is.
fn patch_rejection(
    patch: &ClaimPatch,
    access_token_kind: TokenKind,
    issues_id_token: bool,
    permissions: Option<&DeployedPermissions<'_>>,
    max_patch_bytes: usize,
) -> Option<RejectionReason> {
    let Some(permissions) = permissions else {
        return Some(RejectionReason::UnknownWorkflow);
    };
    if patch.workflow_id != permissions.workflow.workflow_id || patch.version != permissions.workflow.version {
        return Some(RejectionReason::UnknownWorkflow);
    }
    let issued = match patch.token {
        TokenKind::Id => issues_id_token,
        kind => kind == access_token_kind,
    };
    if !issued {
        return Some(RejectionReason::TokenNotIssued);
    }
    if !permissions.settings.declares(patch.token.binding()) {
        return Some(RejectionReason::BindingNotDeclared);
    }
    let size = serde_json::to_vec(&patch.set).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
    if size > max_patch_bytes {
        return Some(RejectionReason::TooLarge);
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workflow() -> WorkflowRef {
        WorkflowRef {
            workflow_id: "wf".into(),
            deployment_id: "d1".into(),
            version: 2,
            code_hash: "h".into(),
            bindings: vec![],
            reset_claims: vec![],
            timeout_ms: 1000,
        }
    }

    fn base() -> BaseClaims {
        let access = json!({"aud": ["acme"], "exp": 100, "gty": ["client_credentials"]});
        BaseClaims { access: access.as_object().unwrap().clone(), id: None }
    }

    fn patch(token: TokenKind, set: serde_json::Value) -> ClaimPatch {
        ClaimPatch { workflow_id: "wf".into(), version: 2, token, set: set.as_object().unwrap().clone() }
    }

    fn merge(bindings: &[&str], patches: Vec<ClaimPatch>) -> Merged {
        let workflow = workflow();
        let settings: WorkflowSettings = serde_json::from_value(serde_json::json!({
            "id": "wf",
            "trigger": "m2m:token_generation",
            "bindings": bindings.iter().map(|b| (b.to_string(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>(),
        }))
        .unwrap();
        merge_patches(
            base(),
            TokenKind::M2m,
            Some(DeployedPermissions { workflow: &workflow, settings: &settings }),
            patches,
            16 * 1024,
        )
    }

    #[test]
    fn permitted_claims_are_merged_and_prohibited_ones_reported() {
        let merged = merge(
            &["kinde.m2mToken"],
            vec![patch(TokenKind::M2m, json!({"hello": "world", "exp": 1, "aud": "evil", "gty": []}))],
        );
        assert_eq!(merged.access["hello"], "world");
        assert_eq!(merged.access["exp"], 100);
        assert_eq!(merged.access["aud"], json!(["acme"]));
        assert_eq!(merged.access["gty"], json!(["client_credentials"]));
        let mut dropped: Vec<_> = merged.rejected.iter().map(|r| r.claim.as_str()).collect();
        dropped.sort();
        assert_eq!(dropped, ["aud", "exp", "gty"]);
        assert!(merged.rejected.iter().all(|r| r.reason == RejectionReason::Prohibited));
    }

    #[test]
    fn patch_without_declared_binding_is_dropped() {
        let merged = merge(&["kinde.fetch"], vec![patch(TokenKind::M2m, json!({"hello": "world"}))]);
        assert!(!merged.access.contains_key("hello"));
        assert_eq!(merged.rejected[0].reason, RejectionReason::BindingNotDeclared);
    }

    #[test]
    fn patch_claiming_another_workflow_version_is_dropped() {
        let mut forged = patch(TokenKind::M2m, json!({"hello": "world"}));
        forged.version = 1;
        let merged = merge(&["kinde.m2mToken"], vec![forged]);
        assert!(!merged.access.contains_key("hello"));
        assert_eq!(merged.rejected[0].reason, RejectionReason::UnknownWorkflow);
    }

    #[test]
    fn id_token_patch_on_m2m_request_is_dropped() {
        let merged = merge(&["kinde.m2mToken", "kinde.idToken"], vec![patch(TokenKind::Id, json!({"x": 1}))]);
        assert_eq!(merged.rejected[0].reason, RejectionReason::TokenNotIssued);
    }

    #[test]
    fn oversized_patch_is_dropped_whole() {
        let big = "x".repeat(17 * 1024);
        let merged = merge(&["kinde.m2mToken"], vec![patch(TokenKind::M2m, json!({"a": 1, "big": big}))]);
        assert!(!merged.access.contains_key("a"));
        assert_eq!(merged.rejected.len(), 2);
        assert!(merged.rejected.iter().all(|r| r.reason == RejectionReason::TooLarge));
    }
}
