//! `kinde.cache.jwtToken`: tokens kept across runs of one workflow, after their signature checked
//! out against the JWKS the workflow named (see [`crate::token_cache`]).

use deno_core::v8;

use super::{string_arg, with_run, Returned, Thrown};

/// `cacheGet(name)`: the cached token, or `undefined`.
pub(super) fn get(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let name = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        Ok(match run.services.token_cache.get(&run.workflow_id, &name) {
            Some(token) => Returned::String(token),
            None => Returned::Undefined,
        })
    });
}

/// `cachePut(name, token, jwksUrl)`.
pub(super) fn put(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let name = string_arg(scope, &args, 0).unwrap_or_default();
    let token = string_arg(scope, &args, 1).unwrap_or_default();
    let jwks_url = string_arg(scope, &args, 2).unwrap_or_default();
    with_run(scope, rv, |run| {
        let fetch = |request| {
            run.services.network.fetch_blocking(request, run.trusted_host.clone(), &run.fetch_limits, run.deadline)
        };
        run.services
            .token_cache
            .put(&run.workflow_id, &name, &token, &jwks_url, fetch)
            .map(|()| Returned::Undefined)
            .map_err(|err| Thrown::Generic(format!("kinde.cache.jwtToken({name}): {err}")))
    });
}
