//! `kinde.auth.denyAccess(reason)`: the first denial of a run stands.
//! `kinde.ssoSession.setPolicy(policy)`: the last policy set stands.
//! `kinde.mfa.setEnforcementPolicy(policy)`: the last policy set stands.

use claimflow_contracts::{mfa::MfaEnforcement, workflow::SessionPolicy, TokenKind};
use deno_core::v8;

use super::{string_arg, with_run, Returned, Thrown};

pub(super) fn deny_access(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let reason = string_arg(scope, &args, 0).unwrap_or_else(|| "access denied by workflow".to_owned());
    with_run(scope, rv, |run| {
        run.denied.get_or_insert(reason);
        Ok(Returned::Undefined)
    });
}

pub(super) fn set_session_policy(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let policy = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        if run.base.iter().any(|(kind, _)| *kind == TokenKind::M2m) {
            return Err(Thrown::Type("kinde.ssoSession: an M2M token has no sign-in session".into()));
        }
        let parsed = SessionPolicy::parse(&policy).ok_or_else(|| {
            Thrown::Type(format!(
                "kinde.ssoSession.setPolicy: the policy must be \"persistent\" or \"non_persistent\", not {policy:?}"
            ))
        })?;
        run.session_policy = Some(parsed);
        Ok(Returned::Undefined)
    });
}

/// `kinde.widget.invalidateFormField(field, message)`: every call is kept, in order.
pub(super) fn invalidate_form_field(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let field = string_arg(scope, &args, 0).unwrap_or_default();
    let message = string_arg(scope, &args, 1).unwrap_or_default();
    with_run(scope, rv, |run| {
        if field.is_empty() {
            return Err(Thrown::Type(
                "kinde.widget.invalidateFormField: the field name must be a non-empty string".into(),
            ));
        }
        run.form_errors.push((field, message));
        Ok(Returned::Undefined)
    });
}

pub(super) fn set_mfa_enforcement(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let policy = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        let parsed = MfaEnforcement::parse(&policy).ok_or_else(|| {
            Thrown::Type(format!(
                "kinde.mfa.setEnforcementPolicy: the policy must be \"required\", \"optional\" or \"skip\", not {policy:?}"
            ))
        })?;
        run.mfa_enforcement = Some(parsed);
        Ok(Returned::Undefined)
    });
}
