//! `console.log|info|warn|error|debug`: into the run's log, secrets redacted, up to its limit.

use claimflow_contracts::workflow::LogLine;
use deno_core::v8;

use super::{string_arg, with_run, Returned};

/// `console(level, message)`.
pub(super) fn log(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let level = string_arg(scope, &args, 0).unwrap_or_default();
    let message = string_arg(scope, &args, 1).unwrap_or_default();
    with_run(scope, rv, |run| {
        if run.logs_truncated {
            return Ok(Returned::Undefined);
        }
        if run.log_bytes + message.len() > run.max_log_bytes {
            run.logs_truncated = true;
            run.logs.push(LogLine {
                level: "warn".into(),
                message: format!("console output truncated at {} bytes", run.max_log_bytes),
            });
            return Ok(Returned::Undefined);
        }
        run.log_bytes += message.len();
        let level = match level.as_str() {
            "info" | "warn" | "error" => level.as_str(),
            _ => "log",
        };
        let message = run.redact(&message);
        run.logs.push(LogLine { level: level.to_owned(), message });
        Ok(Returned::Undefined)
    });
}
