//! `kinde.auth.denyAccess(reason)`: the first denial of a run stands.

use deno_core::v8;

use super::{string_arg, with_run, Returned};

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
