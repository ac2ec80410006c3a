//! Turning a deployed `Workflow.ts` into what workers run: validated, typed `workflowSettings`
//! and an ES module with the types stripped.
//!
//! Settings are read from the syntax tree, not by running the file: this crate never executes
//! user code (it links no JavaScript engine). Every error names the file, line and column.

use std::fmt;

use claimflow_contracts::{
    settings::{Binding, WorkflowSettings},
    Trigger,
};
use deno_ast::{
    diagnostics::Diagnostic,
    swc::ast::{
        Decl, ExportSpecifier, Expr, Lit, MemberProp, ModuleDecl, ModuleExportName, ModuleItem, ObjectLit, Pat, Prop,
        PropName, PropOrSpread, Stmt, UnaryOp, VarDecl,
    },
    EmitOptions, MediaType, ModuleSpecifier, ParseParams, SourceMapOption, SourcePos, SourceRangedForSpanned,
    SourceTextInfo, TranspileModuleOptions, TranspileOptions,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `WorkflowTrigger` members of `@kinde/infrastructure`, for settings written as
/// `trigger: WorkflowTrigger.M2MTokenGeneration`.
const WORKFLOW_TRIGGER_MEMBERS: &[(&str, &str)] = &[
    ("UserTokenGeneration", "user:tokens_generation"),
    ("UserPreMFA", "user:pre_mfa"),
    ("PostAuthentication", "user:post_authentication"),
    ("M2MTokenGeneration", "m2m:token_generation"),
    ("ExistingPasswordProvided", "user:existing_password_provided"),
    ("NewPasswordProvided", "user:new_password_provided"),
    ("PlanSelection", "user:plan_selection"),
    ("PlanCancellationRequest", "user:plan_cancellation_request"),
    ("UserPreRegistration", "user:pre_registration"),
    ("NewUsernameProvided", "user:new_username_provided"),
];

/// A workflow ready to store.
#[derive(Debug, Clone)]
pub struct CompiledWorkflow {
    pub workflow_id: String,
    pub name: String,
    pub trigger: Trigger,
    pub settings: WorkflowSettings,
    pub code: String,
    pub code_hash: String,
    /// Maps `code` back to the original file.
    pub source_map: Option<String>,
}

/// What is wrong with a workflow file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.column, self.message)
    }
}

impl std::error::Error for SourceError {}

/// Deeper than this, a file is refused before it is parsed. The parser, the transforms and the
/// syntax tree's drop each recurse once per level; no real workflow comes near it.
pub const MAX_NESTING: usize = 256;

/// The most operators one statement may chain, counting those of the statements around it:
/// an estimate of the syntax tree's depth where brackets are not involved (`!!!!x`, `1+1+...`,
/// `f()()()`, `a ? b : c ? ...`).
pub const MAX_CHAIN: usize = 20_000;

/// The largest workflow file: a bundled workflow with all of `@kinde/infrastructure` is ~100 KiB.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// Room for a tree [`MAX_NESTING`] and [`MAX_CHAIN`] deep, with a debug build's frames.
/// Reserved, not committed: only the pages touched are used.
const COMPILER_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Validates and transpiles one workflow file. `path` is relative to the deployed directory.
///
/// Hostile input gets an error, never a crash: the size and the depth are bounded before the
/// file is parsed, and the compiler runs on its own thread with a stack sized for the deepest
/// tree within those bounds (a tokio worker's 2 MiB overflows at ~1,000 nested parentheses).
pub fn compile(path: &str, source: &str) -> Result<CompiledWorkflow, SourceError> {
    let at = |line: usize, column: usize, message: String| SourceError { path: path.to_owned(), line, column, message };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(at(
            1,
            1,
            format!("the file is {} bytes; a workflow file may hold at most {MAX_SOURCE_BYTES}", source.len()),
        ));
    }
    check_depth(source).map_err(|(line, column, too_deep)| at(line, column, too_deep.to_string()))?;
    std::thread::scope(|scope| {
        let compiler = std::thread::Builder::new()
            .name("workflow-compiler".to_owned())
            .stack_size(COMPILER_STACK_BYTES)
            .spawn_scoped(scope, || compile_here(path, source));
        match compiler.map(|thread| thread.join()) {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(at(1, 1, "the compiler failed on this file".to_owned())),
            Err(err) => Err(at(1, 1, format!("no thread to compile on: {err}"))),
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TooDeep {
    Nesting,
    Chain,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooDeep::Nesting => {
                write!(f, "code nested more than {MAX_NESTING} levels deep (parentheses, brackets or braces)")
            }
            TooDeep::Chain => {
                write!(f, "an expression chaining more than {MAX_CHAIN} operators; split it into statements")
            }
        }
    }
}

/// Where the file's syntax tree may first grow too deep, by a scan that never under-counts:
/// brackets nest, and operator characters chain until the `;` that ends their statement.
/// Characters in strings and comments count too; real code stays far below both bounds.
fn check_depth(source: &str) -> Result<(), (usize, usize, TooDeep)> {
    // Operators so far in the current statement, one entry per open bracket.
    let mut levels: Vec<usize> = vec![0];
    let mut chained = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    for c in source.chars() {
        column += 1;
        match c {
            '\n' => (line, column) = (line + 1, 0),
            '(' | '[' | '{' => {
                // A call or an index deepens the expression around it, like an operator.
                *levels.last_mut().expect("never empty") += 1;
                chained += 1;
                levels.push(0);
                if levels.len() - 1 > MAX_NESTING {
                    return Err((line, column, TooDeep::Nesting));
                }
            }
            ')' | ']' | '}' if levels.len() > 1 => chained -= levels.pop().expect("more than one"),
            ';' => chained -= std::mem::take(levels.last_mut().expect("never empty")),
            '!' | '~' | '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '&' | '|' | '^' | '?' | ':' | '.' => {
                *levels.last_mut().expect("never empty") += 1;
                chained += 1;
            }
            _ => {}
        }
        if chained > MAX_CHAIN {
            return Err((line, column, TooDeep::Chain));
        }
    }
    Ok(())
}

fn compile_here(path: &str, source: &str) -> Result<CompiledWorkflow, SourceError> {
    let at_start = |message: String| SourceError { path: path.to_owned(), line: 1, column: 1, message };
    let media_type = match path.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("ts") | Some("mts") => MediaType::TypeScript,
        Some("js") | Some("mjs") => MediaType::JavaScript,
        _ => return Err(at_start("a workflow must be a .ts or .js file".to_owned())),
    };
    // NOTE: the same specifier the worker loads the module under, so the source map lines up.
    let specifier = ModuleSpecifier::parse(&format!("file:///workflow/{}", path.trim_start_matches('/')))
        .map_err(|err| at_start(format!("invalid file name: {err}")))?;
    let parsed = deno_ast::parse_module(ParseParams {
        specifier,
        text: source.into(),
        media_type,
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    })
    .map_err(|diagnostic| {
        let position = diagnostic.display_position();
        SourceError {
            path: path.to_owned(),
            line: position.line_number,
            column: position.column_number,
            message: format!("syntax error: {}", diagnostic.message()),
        }
    })?;
    let locate = Locator { path, text: parsed.text_info_lazy() };

    let program = parsed.program();
    let module = program.as_module().ok_or_else(|| at_start("a workflow must be an ES module".to_owned()))?;
    // Top-level variables by name: bundlers write `var workflowSettings = {...}` and export it in
    // a list (`export { workflowSettings, handler as default }`).
    fn collect<'a>(var: &'a VarDecl, variables: &mut Vec<(String, Option<&'a Expr>, SourcePos)>) {
        for declarator in &var.decls {
            if let Pat::Ident(ident) = &declarator.name {
                variables.push((ident.id.sym.to_string(), declarator.init.as_deref(), declarator.start()));
            }
        }
    }
    let mut declared: Vec<(String, Option<&Expr>, SourcePos)> = Vec::new();
    let mut exported: Vec<(String, String)> = Vec::new();
    let mut has_default_export = false;
    for item in &module.body {
        match item {
            ModuleItem::Stmt(Stmt::Decl(Decl::Var(var))) => collect(var, &mut declared),
            ModuleItem::ModuleDecl(ModuleDecl::ExportDefaultDecl(_) | ModuleDecl::ExportDefaultExpr(_)) => {
                has_default_export = true
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportDecl(export)) => {
                if let Decl::Var(var) = &export.decl {
                    let first = declared.len();
                    collect(var, &mut declared);
                    for (name, _, _) in &declared[first..] {
                        exported.push((name.clone(), name.clone()));
                    }
                }
            }
            ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(named)) if named.src.is_none() => {
                for specifier in &named.specifiers {
                    if let ExportSpecifier::Named(specifier) = specifier {
                        let name = |name: &ModuleExportName| match name {
                            ModuleExportName::Ident(ident) => ident.sym.to_string(),
                            ModuleExportName::Str(text) => text.value.to_string_lossy().into_owned(),
                        };
                        let local = name(&specifier.orig);
                        let public = specifier.exported.as_ref().map(name).unwrap_or_else(|| local.clone());
                        if public == "default" {
                            has_default_export = true;
                        }
                        exported.push((local, public));
                    }
                }
            }
            _ => {}
        }
    }
    let settings_expr = exported
        .iter()
        .find(|(_, public)| public == "workflowSettings")
        .and_then(|(local, _)| declared.iter().rev().find(|(name, _, _)| name == local))
        .map(|(_, init, at)| (*init, *at));
    let (init, declared_at) = settings_expr.ok_or_else(|| {
        at_start("does not export `workflowSettings` (export const workflowSettings = { id, trigger, ... })".to_owned())
    })?;
    let init = init.ok_or_else(|| locate.error(declared_at, "`workflowSettings` has no value".to_owned()))?;
    let settings = static_value(init, "workflowSettings", &locate)?;
    let Value::Object(mut settings) = settings else {
        return Err(locate.error(init.start(), "`workflowSettings` must be an object literal".to_owned()));
    };
    let settings_at = init.start();
    let workflow_id = match settings.get("id") {
        Some(Value::String(id)) if valid_workflow_id(id) => id.clone(),
        Some(Value::String(id)) => {
            return Err(locate
                .error(settings_at, format!("workflowSettings.id {id:?} must be 1 to 64 letters, digits, `_` or `-`")))
        }
        Some(_) => return Err(locate.error(settings_at, "workflowSettings.id must be a string".to_owned())),
        None => return Err(locate.error(settings_at, "workflowSettings.id is missing".to_owned())),
    };
    let trigger = match settings.get("trigger") {
        Some(Value::String(name)) => Trigger::parse(name).ok_or_else(|| {
            let supported: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
            locate.error(
                settings_at,
                format!(
                    "workflowSettings.trigger {name:?} is not a trigger claimflow runs (supported: {})",
                    supported.join(", ")
                ),
            )
        })?,
        Some(_) => return Err(locate.error(settings_at, "workflowSettings.trigger must be a string".to_owned())),
        None => return Err(locate.error(settings_at, "workflowSettings.trigger is missing".to_owned())),
    };
    settings.insert("trigger".to_owned(), Value::String(trigger.as_str().to_owned()));
    if let Some(action) = settings.get("failurePolicy").map(|policy| policy.get("action")) {
        match action.and_then(Value::as_str) {
            Some("stop") | Some("continue") => {}
            _ => {
                return Err(locate.error(
                    settings_at,
                    "workflowSettings.failurePolicy.action must be \"stop\" or \"continue\"".to_owned(),
                ))
            }
        }
    }
    match settings.get("bindings") {
        None => {}
        Some(Value::Object(bindings)) => {
            if let Some(unknown) = bindings.keys().find(|key| Binding::parse(key).is_none()) {
                let known: Vec<&str> = Binding::ALL.iter().map(|binding| binding.as_str()).collect();
                return Err(locate.error(
                    settings_at,
                    format!("workflowSettings.bindings: unknown binding {unknown:?} (known: {})", known.join(", ")),
                ));
            }
        }
        Some(_) => return Err(locate.error(settings_at, "workflowSettings.bindings must be an object".to_owned())),
    }
    if !has_default_export {
        return Err(at_start("has no default export: export default async function handler(event) { ... }".to_owned()));
    }
    let name = settings.get("name").and_then(Value::as_str).unwrap_or(&workflow_id).to_owned();
    // NOTE: every part was checked above, naming its line; what is left is typing it.
    let settings: WorkflowSettings = serde_json::from_value(Value::Object(settings))
        .map_err(|err| locate.error(settings_at, format!("workflowSettings: {err}")))?;

    let emitted = parsed
        .transpile(
            &TranspileOptions::default(),
            &TranspileModuleOptions::default(),
            &EmitOptions { source_map: SourceMapOption::Separate, inline_sources: false, ..Default::default() },
        )
        .map_err(|err| at_start(format!("cannot transpile: {err}")))?
        .into_source();
    let code_hash = hex::encode(Sha256::digest(emitted.text.as_bytes()));
    Ok(CompiledWorkflow {
        workflow_id,
        name,
        trigger,
        settings,
        code: emitted.text,
        code_hash,
        source_map: emitted.source_map,
    })
}

fn valid_workflow_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

struct Locator<'a> {
    path: &'a str,
    text: &'a SourceTextInfo,
}

impl Locator<'_> {
    fn error(&self, at: SourcePos, message: String) -> SourceError {
        let position = self.text.line_and_column_display(at);
        SourceError { path: self.path.to_owned(), line: position.line_number, column: position.column_number, message }
    }
}

/// Evaluates a literal expression (objects, arrays, strings, numbers, booleans, `null`, and
/// `WorkflowTrigger.X`) without running anything.
fn static_value(expr: &Expr, path: &str, locate: &Locator<'_>) -> Result<Value, SourceError> {
    let not_literal = || {
        locate.error(
            expr.start(),
            format!("{path} must be a literal value (settings are read without running the workflow)"),
        )
    };
    Ok(match expr {
        Expr::Paren(inner) => static_value(&inner.expr, path, locate)?,
        Expr::TsAs(inner) => static_value(&inner.expr, path, locate)?,
        Expr::TsSatisfies(inner) => static_value(&inner.expr, path, locate)?,
        Expr::TsConstAssertion(inner) => static_value(&inner.expr, path, locate)?,
        Expr::TsTypeAssertion(inner) => static_value(&inner.expr, path, locate)?,
        Expr::Lit(Lit::Str(text)) => Value::String(text.value.to_string_lossy().into_owned()),
        Expr::Lit(Lit::Bool(value)) => Value::Bool(value.value),
        Expr::Lit(Lit::Null(_)) => Value::Null,
        Expr::Lit(Lit::Num(number)) => {
            serde_json::Number::from_f64(number.value).map(Value::Number).ok_or_else(not_literal)?
        }
        Expr::Unary(unary) if unary.op == UnaryOp::Minus => match static_value(&unary.arg, path, locate)? {
            Value::Number(n) => {
                n.as_f64().and_then(|n| serde_json::Number::from_f64(-n)).map(Value::Number).ok_or_else(not_literal)?
            }
            _ => return Err(not_literal()),
        },
        Expr::Tpl(template) if template.exprs.is_empty() => {
            Value::String(template.quasis.iter().map(|quasi| quasi.raw.to_string()).collect())
        }
        Expr::Array(array) => Value::Array(
            array
                .elems
                .iter()
                .enumerate()
                .map(|(index, element)| match element {
                    Some(element) if element.spread.is_none() => {
                        static_value(&element.expr, &format!("{path}[{index}]"), locate)
                    }
                    _ => Err(not_literal()),
                })
                .collect::<Result<_, _>>()?,
        ),
        Expr::Object(object) => Value::Object(static_object(object, path, locate)?),
        Expr::Member(member) => {
            let is_trigger_enum = matches!(&*member.obj, Expr::Ident(ident) if ident.sym == *"WorkflowTrigger");
            let MemberProp::Ident(property) = &member.prop else { return Err(not_literal()) };
            if !is_trigger_enum {
                return Err(not_literal());
            }
            let value = WORKFLOW_TRIGGER_MEMBERS
                .iter()
                .find(|(member, _)| property.sym == **member)
                .map(|(_, value)| *value)
                .ok_or_else(|| {
                    locate.error(expr.start(), format!("{path}: WorkflowTrigger has no member {}", property.sym))
                })?;
            Value::String(value.to_owned())
        }
        _ => return Err(not_literal()),
    })
}

fn static_object(object: &ObjectLit, path: &str, locate: &Locator<'_>) -> Result<Map<String, Value>, SourceError> {
    let mut map = Map::new();
    for property in &object.props {
        let PropOrSpread::Prop(property) = property else {
            return Err(locate.error(object.start(), format!("{path}: spread (`...`) is not allowed in settings")));
        };
        let (key, value) = match &**property {
            Prop::KeyValue(pair) => {
                let key = match &pair.key {
                    PropName::Ident(ident) => ident.sym.to_string(),
                    PropName::Str(text) => text.value.to_string_lossy().into_owned(),
                    PropName::Num(number) => number.value.to_string(),
                    _ => {
                        return Err(locate
                            .error(pair.key.start(), format!("{path}: computed keys are not allowed in settings")))
                    }
                };
                let value = static_value(&pair.value, &format!("{path}.{key}"), locate)?;
                (key, value)
            }
            other => {
                return Err(locate
                    .error(other.start(), format!("{path}: only `key: value` properties are allowed in settings")));
            }
        };
        map.insert(key, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "m2mHello",
  name: "Hello claim",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  failurePolicy: { action: "stop" },
  bindings: { "kinde.m2mToken": {} },
};

export default async function handle(event: any): Promise<void> {
  const who: string = "world";
  kinde.m2mToken.setCustomClaim("hello", who);
}
"#;

    /// Run on a thread with a tokio worker's stack (2 MiB), where a deploy is compiled.
    fn compile_on_small_stack(path: &'static str, source: String) -> Result<CompiledWorkflow, SourceError> {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || compile(path, &source))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_nesting_is_refused_at_its_line_and_column_not_a_crash() {
        for (open, close) in [("(", ")"), ("[", "]"), ("{a:", "}"), ("if (x) {", "}")] {
            let source = format!("{HELLO}\nconst x = {}1{};\n", open.repeat(1600), close.repeat(1600));
            let err = compile_on_small_stack("w/Workflow.ts", source).unwrap_err();
            assert_eq!((err.line, err.path.as_str()), (HELLO.lines().count() + 2, "w/Workflow.ts"), "{err}");
            assert!(err.message.contains("nested more than 256 levels"), "{err}");
        }
        // Just under the bound compiles.
        let source = format!("{HELLO}\nconst x = {}1{};\n", "(".repeat(250), ")".repeat(250));
        compile_on_small_stack("w/Workflow.ts", source).unwrap();
    }

    #[test]
    fn deep_trees_without_brackets_are_refused_and_just_under_the_bound_compile() {
        // Unary, conditional, binary and call chains nest the syntax tree without nesting brackets.
        let chains = |n: usize| {
            [
                format!("{}1", "!".repeat(n)),
                format!("{}1", "- ".repeat(n)),
                format!("{}1", "x?1:".repeat(n / 2)),
                format!("{}1", "1+".repeat(n)),
                format!("f{}", "()".repeat(n)),
            ]
        };
        for chain in chains(MAX_SOURCE_BYTES / 4) {
            let source = format!("{HELLO}\nconst x = {chain};\n");
            let err = compile_on_small_stack("w/Workflow.ts", source).unwrap_err();
            assert!(err.message.contains("chaining more than 20000 operators"), "{err}");
            assert_eq!(err.line, HELLO.lines().count() + 2, "{err}");
        }
        // The count restarts with each statement, and a deep but legal tree compiles.
        let statements = format!("{HELLO}\n{}", "const a = 1 + 2 + 3;\n".repeat(20_000));
        compile_on_small_stack("w/Workflow.ts", statements).unwrap();
        for chain in chains(MAX_CHAIN / 2 - 64) {
            let source = format!("{HELLO}\nconst x = {chain};\n");
            assert_eq!(compile_on_small_stack("w/Workflow.ts", source).unwrap().workflow_id, "m2mHello");
        }
    }

    #[test]
    fn an_oversized_file_is_refused_with_its_size() {
        let source = format!("{HELLO}//{}", "x".repeat(MAX_SOURCE_BYTES));
        let err = compile("w/Workflow.ts", &source).unwrap_err();
        assert!(err.message.contains("at most 1048576"), "{err}");
    }

    #[test]
    fn typescript_workflow_compiles_to_javascript_with_settings() {
        let compiled = compile("environment/workflows/hello/Workflow.ts", HELLO).unwrap();
        assert_eq!(compiled.workflow_id, "m2mHello");
        assert_eq!(compiled.trigger, Trigger::M2mTokenGeneration);
        assert!(compiled.settings.declares(Binding::M2mToken));
        assert!(!compiled.code.contains(": string"), "types must be stripped: {}", compiled.code);
        assert!(compiled.code.contains("setCustomClaim"));
        assert_eq!(compiled.code_hash.len(), 64);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = compile("wf/Workflow.ts", "export const workflowSettings = {\n  id: \"x\",,\n};\n").unwrap_err();
        assert_eq!(err.path, "wf/Workflow.ts");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.starts_with("syntax error"), "{err}");
    }

    #[test]
    fn unknown_trigger_is_rejected_at_its_line() {
        let source = HELLO.replace("WorkflowTrigger.M2MTokenGeneration", "\"m2m:nope\"");
        let err = compile("Workflow.ts", &source).unwrap_err();
        assert!(err.message.contains("\"m2m:nope\""), "{err}");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn missing_id_is_rejected() {
        let source = HELLO.replace("id: \"m2mHello\",", "");
        let err = compile("Workflow.ts", &source).unwrap_err();
        assert!(err.to_string().contains("workflowSettings.id is missing"), "{err}");
    }

    #[test]
    fn missing_settings_export_is_rejected() {
        let err = compile("Workflow.ts", "export default async function () {}\n").unwrap_err();
        assert!(err.message.contains("workflowSettings"), "{err}");
    }

    #[test]
    fn unknown_binding_is_rejected() {
        let source = HELLO.replace("\"kinde.m2mToken\": {}", "\"kinde.filesystem\": {}");
        let err = compile("Workflow.ts", &source).unwrap_err();
        assert!(err.message.contains("kinde.filesystem"), "{err}");
    }

    #[test]
    fn bundler_output_with_an_export_list_is_understood() {
        let bundled = "var workflowSettings = { id: \"bundled\", trigger: \"m2m:token_generation\" };\n\
                       async function handler(event) {}\n\
                       export { handler as default, workflowSettings };\n";
        let compiled = compile("Workflow.js", bundled).unwrap();
        assert_eq!(compiled.workflow_id, "bundled");
    }

    #[test]
    fn typescript_gets_a_source_map() {
        let compiled = compile("Workflow.ts", HELLO).unwrap();
        let map = compiled.source_map.expect("a source map");
        assert!(map.contains("\"mappings\""), "{map}");
    }

    #[test]
    fn tokens_spelling_of_m2m_trigger_is_accepted_and_normalised() {
        let source = HELLO.replace("WorkflowTrigger.M2MTokenGeneration", "\"m2m:tokens_generation\"");
        let compiled = compile("Workflow.ts", &source).unwrap();
        assert_eq!(compiled.settings.trigger, Trigger::M2mTokenGeneration);
    }
}
