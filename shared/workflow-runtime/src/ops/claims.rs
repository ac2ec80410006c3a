//! `kinde.accessToken` / `kinde.idToken` / `kinde.m2mToken`: `getCustomClaims()` and
//! `setCustomClaim(name, value)`, within the run's claim limits.

use claimflow_contracts::{Claims, ProhibitedClaims};
use deno_core::v8;

use super::{json, string_arg, token_kind, with_run, Returned, RunState, Thrown};

/// `claimsGet(kind)`: the token's current custom claims as JSON, base claims a workflow may
/// change first, then what this run set.
pub(super) fn get(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let kind = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        let kind = token_kind(&kind)?;
        let mut claims: Claims = run
            .base
            .iter()
            .filter(|(k, _)| *k == kind && !run.reset_claims.contains(k))
            .flat_map(|(_, claims)| claims.iter())
            .filter(|(name, _)| !ProhibitedClaims::is_prohibited(kind, name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (k, set) in &run.set {
            if *k == kind {
                claims.extend(set.iter().map(|(name, value)| (name.clone(), value.clone())));
            }
        }
        json(&claims)
    });
}

/// `claimsSet(kind, name, valueJson)`.
pub(super) fn set(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let kind = string_arg(scope, &args, 0).unwrap_or_default();
    let name = string_arg(scope, &args, 1).unwrap_or_default();
    let value_json = string_arg(scope, &args, 2).unwrap_or_else(|| "null".to_owned());
    with_run(scope, rv, |run| set_claim(run, &kind, &name, &value_json).map(|()| Returned::Undefined));
}

fn set_claim(run: &mut RunState, kind: &str, name: &str, value_json: &str) -> Result<(), Thrown> {
    let kind = token_kind(kind)?;
    let value: serde_json::Value = serde_json::from_str(value_json)
        .map_err(|err| Thrown::Type(format!("setCustomClaim({name}): value is not JSON: {err}")))?;
    let limit = run.max_claims_bytes;
    let max_claims = run.max_claims;
    let claims = match run.set.iter().position(|(k, _)| *k == kind) {
        Some(index) => &mut run.set[index].1,
        None => {
            run.set.push((kind, Claims::new()));
            &mut run.set.last_mut().expect("just pushed").1
        }
    };
    if claims.len() >= max_claims && !claims.contains_key(name) {
        return Err(Thrown::Range(format!(
            "setCustomClaim({name}): a workflow may set at most {max_claims} claims on the {} token",
            kind.as_str()
        )));
    }
    let previous = claims.insert(name.to_owned(), value);
    let size = serde_json::to_vec(claims).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
    if size > limit {
        // NOTE: undo, so the limit error leaves the claims as they were.
        match previous {
            Some(previous) => claims.insert(name.to_owned(), previous),
            None => claims.remove(name),
        };
        return Err(Thrown::Range(format!(
            "setCustomClaim({name}): the claims set on the {} token would be {size} bytes, over the limit of {limit}",
            kind.as_str()
        )));
    }
    Ok(())
}
