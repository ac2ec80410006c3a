//! The checks deploy makes on a workflow's `workflowSettings` (as the evaluated module exports
//! them) and on the bindings its code calls.

use claimflow_contracts::{
    settings::{Binding, WorkflowSettings},
    workflow::ModuleExports,
    Trigger,
};
use deno_ast::{
    swc::ast::{Expr, ModuleDecl, ModuleItem},
    ParsedSource, SourcePos, SourceRangedForSpanned,
};
use serde_json::Value;

use crate::{locate::Locator, SourceError};

/// The checks deploy makes on the exports, each error placed by `locate`.
pub(crate) fn validate(exports: &ModuleExports, locate: &Locator) -> Result<WorkflowSettings, SourceError> {
    if exports.default_export != "function" {
        // NOTE: Kinde's own words at sync; the legacy `export default { handle }` lands here.
        let found = match exports.default_export.as_str() {
            "undefined" => "nothing".to_owned(),
            other => format!("a value of type {other}"),
        };
        return Err(locate.default_export(format!(
            "No default function exported (found {found}): export default async function handler(event) {{ ... }}"
        )));
    }
    let Some(settings) = &exports.workflow_settings else {
        return Err(locate.start(
            "does not export `workflowSettings` (export const workflowSettings = { id, trigger, ... })".to_owned(),
        ));
    };
    let Value::Object(fields) = settings else {
        return Err(locate.setting(&[], "`workflowSettings` must be an object".to_owned()));
    };
    match fields.get("id") {
        Some(Value::String(id)) if valid_workflow_id(id) => {}
        Some(Value::String(id)) => {
            return Err(locate
                .setting(&["id"], format!("workflowSettings.id {id:?} must be 1 to 64 letters, digits, `_` or `-`")))
        }
        Some(_) => return Err(locate.setting(&["id"], "workflowSettings.id must be a string".to_owned())),
        None => return Err(locate.setting(&[], "workflowSettings.id is missing".to_owned())),
    }
    let trigger = match fields.get("trigger") {
        Some(Value::String(name)) => Trigger::parse(name).ok_or_else(|| {
            let supported: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
            let why = match Trigger::refused(name) {
                Some(why) => format!("a Kinde trigger, but {why}"),
                None => "not a trigger claimflow runs".to_owned(),
            };
            locate.setting(
                &["trigger"],
                format!("workflowSettings.trigger {name:?} is {why} (supported: {})", supported.join(", ")),
            )
        })?,
        Some(_) => return Err(locate.setting(&["trigger"], "workflowSettings.trigger must be a string".to_owned())),
        None => return Err(locate.setting(&[], "workflowSettings.trigger is missing".to_owned())),
    };
    if let Some(policy) = fields.get("failurePolicy") {
        match policy.get("action").and_then(Value::as_str) {
            Some("stop") | Some("continue") => {}
            _ => {
                return Err(locate.setting(
                    &["failurePolicy", "action"],
                    "workflowSettings.failurePolicy.action must be \"stop\" or \"continue\"".to_owned(),
                ))
            }
        }
    }
    match fields.get("bindings") {
        None => {}
        Some(Value::Object(bindings)) => {
            if let Some(unknown) = bindings.keys().find(|key| Binding::parse(key).is_none()) {
                let known: Vec<&str> = Binding::ALL.iter().map(|binding| binding.as_str()).collect();
                return Err(locate.setting(
                    &["bindings", unknown],
                    format!("workflowSettings.bindings: unknown binding {unknown:?} (known: {})", known.join(", ")),
                ));
            }
        }
        Some(_) => return Err(locate.setting(&["bindings"], "workflowSettings.bindings must be an object".to_owned())),
    }
    let mut fields = fields.clone();
    fields.insert("trigger".to_owned(), Value::String(trigger.as_str().to_owned()));
    // NOTE: every part was checked above, naming its place; what is left is typing it.
    serde_json::from_value(Value::Object(fields)).map_err(|err| locate.setting(&[], format!("workflowSettings: {err}")))
}

/// Refuses a binding the code visibly calls without declaring it, at the call: `kinde.X.f(...)`,
/// or a helper of `@kinde/infrastructure` that needs it. Kinde's runtime leaves it `undefined`,
/// so such a workflow could never run. (Reads, such as `if (kinde.idToken)`, are left alone.)
pub(crate) fn check_bindings_used(
    parsed: &ParsedSource,
    settings: &WorkflowSettings,
    locate: &Locator,
) -> Result<(), SourceError> {
    use deno_ast::swc::ast::{Callee, ImportSpecifier, MemberExpr, MemberProp, ModuleExportName};
    use deno_ast::swc::ecma_visit::{Visit, VisitWith};

    /// `kinde.<member>` calls that need a declaration (kinde.fetch and kinde.cache need none).
    fn member_binding(member: &str) -> Option<Binding> {
        Binding::parse(&format!("kinde.{member}")).filter(|b| !matches!(b, Binding::Fetch | Binding::Cache))
    }
    /// `@kinde/infrastructure` helpers that need a binding.
    fn helper_binding(export: &str) -> Option<Binding> {
        Some(match export {
            "accessTokenCustomClaims" => Binding::AccessToken,
            "idTokenCustomClaims" => Binding::IdToken,
            "m2mTokenClaims" => Binding::M2mToken,
            "getEnvironmentVariable" => Binding::Env,
            "denyAccess" => Binding::Auth,
            "invalidateFormField" => Binding::Widget,
            "setEnforcementPolicy" => Binding::Mfa,
            "secureFetch" => Binding::SecureFetch,
            "getLocalization" => Binding::Localization,
            _ => return None,
        })
    }
    struct Uses {
        helpers: Vec<(String, Binding)>,
        /// In source order.
        found: Vec<(Binding, SourcePos, String)>,
    }
    impl Uses {
        fn note(&mut self, binding: Binding, at: SourcePos, written: String) {
            self.found.push((binding, at, written));
        }
    }
    impl Visit for Uses {
        fn visit_call_expr(&mut self, call: &deno_ast::swc::ast::CallExpr) {
            if let Callee::Expr(callee) = &call.callee {
                match &**callee {
                    // kinde.X.method(...)
                    Expr::Member(MemberExpr { obj, .. }) => {
                        if let Expr::Member(MemberExpr { obj: kinde, prop: MemberProp::Ident(member), .. }) = &**obj {
                            if matches!(&**kinde, Expr::Ident(ident) if ident.sym == *"kinde") {
                                if let Some(binding) = member_binding(&member.sym) {
                                    self.note(binding, call.start(), format!("kinde.{}", member.sym));
                                }
                            }
                        }
                    }
                    Expr::Ident(ident) => {
                        if let Some((_, binding)) = self.helpers.iter().find(|(local, _)| ident.sym == **local) {
                            self.note(*binding, call.start(), format!("{}()", ident.sym));
                        }
                    }
                    _ => {}
                }
            }
            call.visit_children_with(self);
        }
    }
    let deno_ast::ProgramRef::Module(module) = parsed.program_ref() else { return Ok(()) };
    let mut helpers = Vec::new();
    for item in &module.body {
        let ModuleItem::ModuleDecl(ModuleDecl::Import(import)) = item else { continue };
        if import.src.value.to_string_lossy() != "@kinde/infrastructure" || import.type_only {
            continue;
        }
        for specifier in &import.specifiers {
            let ImportSpecifier::Named(named) = specifier else { continue };
            let exported = match &named.imported {
                Some(ModuleExportName::Ident(ident)) => ident.sym.to_string(),
                Some(ModuleExportName::Str(text)) => text.value.to_string_lossy().into_owned(),
                None => named.local.sym.to_string(),
            };
            if let Some(binding) = helper_binding(&exported) {
                helpers.push((named.local.sym.to_string(), binding));
            }
        }
    }
    let mut uses = Uses { helpers, found: Vec::new() };
    module.visit_with(&mut uses);
    // NOTE: declaring a binding the trigger does not offer is harmless (real workflows do), and
    // accepted; calling it could never work.
    if let Some((binding, at, written, offered_on)) = uses
        .found
        .iter()
        .find_map(|(binding, at, written)| Some((binding, at, written, binding.not_offered_on(settings.trigger)?)))
    {
        return Err(locate.at(
            *at,
            format!(
                "{written} is not offered on {trigger}: Kinde offers {binding} on {offered_on}",
                trigger = settings.trigger,
                binding = binding.as_str()
            ),
        ));
    }
    match uses.found.into_iter().find(|(binding, _, _)| !settings.declares(*binding)) {
        Some((binding, at, written)) => Err(locate.at(
            at,
            format!(
                "{written} needs the {binding} binding, which workflowSettings.bindings does not declare: add \"{binding}\": {{}}",
                binding = binding.as_str()
            ),
        )),
        None => Ok(()),
    }
}

fn valid_workflow_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
