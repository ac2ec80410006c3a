//! `kinde.env.get(key)`: `{value, isSecret}`, or nothing for an unknown key.

use deno_core::v8;

use super::{json, string_arg, with_run, Returned};

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentValue<'a> {
    value: &'a str,
    is_secret: bool,
}

/// `envGet(key)`: JSON, or `undefined`.
pub(super) fn get(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let key = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| match run.environment.iter().find(|variable| variable.key == key) {
        Some(variable) => json(&EnvironmentValue { value: &variable.value, is_secret: variable.is_secret }),
        None => Ok(Returned::Undefined),
    });
}
