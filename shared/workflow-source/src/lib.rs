//! Turning a deployed `Workflow.ts` into what workers run: an ES module with the types stripped,
//! and its validated, typed `workflowSettings`.
//!
//! Deploy takes two steps, as Kinde's runtime does: [`transpile`] the file, have a worker
//! evaluate the module's top level and report its exports (this crate links no JavaScript
//! engine), then [`read_settings`] from those exports. The syntax tree is read only to point an
//! error at the key or value at fault. Every error names the file, line and column.

use std::fmt;

mod project;
pub use project::{is_workflow_file, link_bundle, resolve_import, LinkedWorkflow, Resolved};

use claimflow_contracts::{
    settings::{Binding, WorkflowSettings},
    workflow::ModuleExports,
    Trigger,
};
use deno_ast::{
    swc::ast::{
        Decl, ExportSpecifier, Expr, ModuleDecl, ModuleExportName, ModuleItem, Pat, Prop, PropName, PropOrSpread, Stmt,
        VarDecl,
    },
    EmitOptions, MediaType, ModuleSpecifier, ParseParams, ParsedSource, SourceMapOption, SourcePos,
    SourceRangedForSpanned, TranspileModuleOptions, TranspileOptions,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A workflow file's module, ready for a worker to evaluate.
#[derive(Debug, Clone)]
pub struct TranspiledModule {
    pub code: String,
    /// SHA-256 of `code`, hex.
    pub code_hash: String,
    /// Maps `code` back to the original file.
    pub source_map: Option<String>,
    /// The modules `code` imports, in order: what remains once types are stripped (an import
    /// used only as a type is gone).
    pub imports: Vec<Import>,
}

/// An `import ... from "<specifier>"` (or `export ... from`) of a module, placed in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub specifier: String,
    pub line: usize,
    pub column: usize,
}

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

/// Checks and transpiles one workflow file. `path` is relative to the deployed directory.
///
/// Hostile input gets an error, never a crash: the size and the depth are bounded before the
/// file is parsed, and the compiler runs on its own thread with a stack sized for the deepest
/// tree within those bounds (a tokio worker's 2 MiB overflows at ~1,000 nested parentheses).
pub fn transpile(path: &str, source: &str) -> Result<TranspiledModule, SourceError> {
    let at = |line: usize, column: usize, message: String| SourceError { path: path.to_owned(), line, column, message };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(at(
            1,
            1,
            format!("the file is {} bytes; a workflow file may hold at most {MAX_SOURCE_BYTES}", source.len()),
        ));
    }
    check_depth(source).map_err(|(line, column, too_deep)| at(line, column, too_deep.to_string()))?;
    on_compiler_thread(path, || {
        let parsed = parse(path, source)?;
        let written = written_imports(&parsed);
        let emitted = parsed
            .transpile(
                &TranspileOptions::default(),
                &TranspileModuleOptions::default(),
                &EmitOptions { source_map: SourceMapOption::Separate, inline_sources: false, ..Default::default() },
            )
            .map_err(|err| at(1, 1, format!("cannot transpile: {err}")))?
            .into_source();
        let code_hash = hex::encode(Sha256::digest(emitted.text.as_bytes()));
        let imports = kept_imports(path, &emitted.text, &written)?;
        Ok(TranspiledModule { code: emitted.text, code_hash, source_map: emitted.source_map, imports })
    })
}

/// Every module specifier the file spells out, where it is written.
fn written_imports(parsed: &ParsedSource) -> Vec<Import> {
    let deno_ast::ProgramRef::Module(module) = parsed.program_ref() else { return Vec::new() };
    let text = parsed.text_info_lazy();
    module_specifiers(module)
        .map(|(specifier, at)| {
            let position = text.line_and_column_display(at);
            Import { specifier, line: position.line_number, column: position.column_number }
        })
        .collect()
}

/// The specifiers of a module's static imports and re-exports, with the position of each.
fn module_specifiers(module: &deno_ast::swc::ast::Module) -> impl Iterator<Item = (String, SourcePos)> + '_ {
    module.body.iter().filter_map(|item| {
        let ModuleItem::ModuleDecl(declaration) = item else { return None };
        let source = match declaration {
            ModuleDecl::Import(import) if !import.type_only => &import.src,
            ModuleDecl::ExportAll(export) if !export.type_only => &export.src,
            ModuleDecl::ExportNamed(export) if !export.type_only => export.src.as_ref()?,
            _ => return None,
        };
        Some((source.value.to_string_lossy().into_owned(), source.start()))
    })
}

/// The imports the transpiled `code` still makes, placed where the original file writes them.
fn kept_imports(path: &str, code: &str, written: &[Import]) -> Result<Vec<Import>, SourceError> {
    let emitted = deno_ast::parse_module(ParseParams {
        specifier: ModuleSpecifier::parse("file:///workflow/emitted.js").expect("a valid URL"),
        text: code.into(),
        media_type: MediaType::JavaScript,
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    })
    .map_err(|err| SourceError {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: format!("the transpiled module does not parse: {err}"),
    })?;
    let deno_ast::ProgramRef::Module(module) = emitted.program_ref() else { return Ok(Vec::new()) };
    let mut imports: Vec<Import> = Vec::new();
    for (specifier, _) in module_specifiers(module) {
        if imports.iter().any(|import| import.specifier == specifier) {
            continue;
        }
        let (line, column) = written
            .iter()
            .find(|import| import.specifier == specifier)
            .map_or((1, 1), |import| (import.line, import.column));
        imports.push(Import { specifier, line, column });
    }
    Ok(imports)
}

/// Validates the settings a worker read from the evaluated module ([`ModuleExports`]) and puts
/// the workflow together. `source` is the file [`transpile`] accepted; an error points at the
/// settings key or value at fault where the file spells it out.
pub fn read_settings(
    path: &str,
    source: &str,
    module: TranspiledModule,
    exports: &ModuleExports,
) -> Result<CompiledWorkflow, SourceError> {
    on_compiler_thread(path, || {
        let parsed = parse(path, source)?;
        let locate = Locator::new(path, &parsed);
        let settings = validate(exports, &locate)?;
        check_bindings_used(&parsed, &settings, &locate)?;
        let (workflow_id, trigger) = (settings.id.clone(), settings.trigger);
        let name = settings.name.clone().unwrap_or_else(|| workflow_id.clone());
        Ok(CompiledWorkflow {
            workflow_id,
            name,
            trigger,
            settings,
            code: module.code,
            code_hash: module.code_hash,
            source_map: module.source_map,
        })
    })
}

/// Refuses a binding that a project module of the workflow (`source`, deployed at `path`) calls
/// and `settings` do not declare, as [`read_settings`] does for the workflow's own file.
pub fn check_module_bindings(path: &str, source: &str, settings: &WorkflowSettings) -> Result<(), SourceError> {
    on_compiler_thread(path, || {
        let parsed = parse(path, source)?;
        check_bindings_used(&parsed, settings, &Locator::new(path, &parsed))
    })
}

/// Runs `work` on a thread with a stack for the deepest tree [`check_depth`] lets through.
fn on_compiler_thread<T: Send>(
    path: &str,
    work: impl FnOnce() -> Result<T, SourceError> + Send,
) -> Result<T, SourceError> {
    let at_start = |message: String| SourceError { path: path.to_owned(), line: 1, column: 1, message };
    std::thread::scope(|scope| {
        let compiler = std::thread::Builder::new()
            .name("workflow-compiler".to_owned())
            .stack_size(COMPILER_STACK_BYTES)
            .spawn_scoped(scope, work);
        match compiler.map(|thread| thread.join()) {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(at_start("the compiler failed on this file".to_owned())),
            Err(err) => Err(at_start(format!("no thread to compile on: {err}"))),
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TooDeep {
    Nesting,
    Statements,
    Chain,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooDeep::Nesting => {
                write!(f, "code nested more than {MAX_NESTING} levels deep (parentheses, brackets or braces)")
            }
            TooDeep::Statements => write!(
                f,
                "statements nested more than {MAX_NESTING} levels deep without braces (if, else, for, while, do)"
            ),
            TooDeep::Chain => {
                write!(f, "an expression chaining more than {MAX_CHAIN} operators; split it into statements")
            }
        }
    }
}

/// Where the file's syntax tree may first grow too deep, by a scan that never under-counts:
/// brackets nest; operator characters chain until the `;` that ends their statement; and so do
/// the keywords of statements that nest without braces (`if (x) if (y) ...`: the printer indents
/// each level, so its output grows with the square of their number).
/// Characters in strings and comments count too; real code stays far below every bound.
fn check_depth(source: &str) -> Result<(), (usize, usize, TooDeep)> {
    // Operators so far in the current statement, one entry per open bracket; and statement
    // keywords, likewise.
    let mut levels: Vec<usize> = vec![0];
    let mut statements: Vec<usize> = vec![0];
    let mut chained = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    let mut word = String::new();
    for c in source.chars() {
        column += 1;
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            if word.len() < 8 {
                word.push(c);
            }
            continue;
        }
        if matches!(word.as_str(), "if" | "else" | "for" | "while" | "do" | "with") {
            let nested = statements.last_mut().expect("never empty");
            *nested += 1;
            if *nested > MAX_NESTING {
                return Err((line, column, TooDeep::Statements));
            }
        }
        word.clear();
        match c {
            '\n' => (line, column) = (line + 1, 0),
            '(' | '[' | '{' => {
                // A call or an index deepens the expression around it, like an operator.
                *levels.last_mut().expect("never empty") += 1;
                chained += 1;
                levels.push(0);
                statements.push(0);
                if levels.len() - 1 > MAX_NESTING {
                    return Err((line, column, TooDeep::Nesting));
                }
            }
            ')' | ']' | '}' if levels.len() > 1 => {
                chained -= levels.pop().expect("more than one");
                statements.pop();
            }
            ';' => {
                chained -= std::mem::take(levels.last_mut().expect("never empty"));
                *statements.last_mut().expect("never empty") = 0;
            }
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

fn parse(path: &str, source: &str) -> Result<ParsedSource, SourceError> {
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
        use deno_ast::diagnostics::Diagnostic;
        let position = diagnostic.display_position();
        SourceError {
            path: path.to_owned(),
            line: position.line_number,
            column: position.column_number,
            message: format!("syntax error: {}", diagnostic.message()),
        }
    })?;
    if parsed.program().as_module().is_none() {
        return Err(at_start("a workflow must be an ES module".to_owned()));
    }
    Ok(parsed)
}

/// The checks deploy makes on the exports, each error placed by `locate`.
fn validate(exports: &ModuleExports, locate: &Locator) -> Result<WorkflowSettings, SourceError> {
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
fn check_bindings_used(
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

/// Places errors in the file: at a settings key's value where the file spells it out as an
/// object literal, else at the nearest enclosing part that it does spell out.
struct Locator<'a> {
    path: &'a str,
    parsed: &'a ParsedSource,
    /// The initializer of the exported `workflowSettings`, and where it is declared.
    settings: Option<(Option<&'a Expr>, SourcePos)>,
    default_export: Option<SourcePos>,
}

impl<'a> Locator<'a> {
    fn new(path: &'a str, parsed: &'a ParsedSource) -> Self {
        let deno_ast::ProgramRef::Module(module) = parsed.program_ref() else {
            unreachable!("parse() accepts modules only")
        };
        // Top-level variables by name: bundlers write `var workflowSettings = {...}` and export
        // it in a list (`export { workflowSettings, handler as default }`).
        fn collect<'a>(var: &'a VarDecl, variables: &mut Vec<(String, Option<&'a Expr>, SourcePos)>) {
            for declarator in &var.decls {
                if let Pat::Ident(ident) = &declarator.name {
                    variables.push((ident.id.sym.to_string(), declarator.init.as_deref(), declarator.start()));
                }
            }
        }
        let mut declared: Vec<(String, Option<&Expr>, SourcePos)> = Vec::new();
        let mut exported: Vec<(String, String)> = Vec::new();
        let mut default_export = None;
        for item in &module.body {
            match item {
                ModuleItem::Stmt(Stmt::Decl(Decl::Var(var))) => collect(var, &mut declared),
                ModuleItem::ModuleDecl(
                    declaration @ (ModuleDecl::ExportDefaultDecl(_) | ModuleDecl::ExportDefaultExpr(_)),
                ) => default_export = Some(declaration.start()),
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
                                default_export = Some(specifier.start());
                            }
                            exported.push((local, public));
                        }
                    }
                }
                _ => {}
            }
        }
        let settings = exported
            .iter()
            .find(|(_, public)| public == "workflowSettings")
            .and_then(|(local, _)| declared.iter().rev().find(|(name, _, _)| name == local))
            .map(|(_, init, at)| (*init, *at));
        Locator { path, parsed, settings, default_export }
    }

    fn at(&self, position: SourcePos, message: String) -> SourceError {
        let position = self.parsed.text_info_lazy().line_and_column_display(position);
        SourceError { path: self.path.to_owned(), line: position.line_number, column: position.column_number, message }
    }

    fn start(&self, message: String) -> SourceError {
        SourceError { path: self.path.to_owned(), line: 1, column: 1, message }
    }

    fn default_export(&self, message: String) -> SourceError {
        match self.default_export {
            Some(position) => self.at(position, message),
            None => self.start(message),
        }
    }

    /// At the value of `workflowSettings.<keys...>`, or as near to it as the file spells out.
    fn setting(&self, keys: &[&str], message: String) -> SourceError {
        let Some((init, declared_at)) = self.settings else { return self.start(message) };
        let Some(mut expr) = init else { return self.at(declared_at, message) };
        for key in keys {
            let Expr::Object(object) = unwrap_types(expr) else { break };
            let value = object.props.iter().rev().find_map(|property| match property {
                PropOrSpread::Prop(property) => match &**property {
                    Prop::KeyValue(pair) if prop_name(&pair.key).as_deref() == Some(*key) => Some(&*pair.value),
                    _ => None,
                },
                PropOrSpread::Spread(_) => None,
            });
            match value {
                Some(value) => expr = value,
                None => break,
            }
        }
        self.at(unwrap_types(expr).start(), message)
    }
}

fn unwrap_types(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(inner) => unwrap_types(&inner.expr),
        Expr::TsAs(inner) => unwrap_types(&inner.expr),
        Expr::TsSatisfies(inner) => unwrap_types(&inner.expr),
        Expr::TsConstAssertion(inner) => unwrap_types(&inner.expr),
        Expr::TsTypeAssertion(inner) => unwrap_types(&inner.expr),
        other => other,
    }
}

fn prop_name(name: &PropName) -> Option<String> {
    match name {
        PropName::Ident(ident) => Some(ident.sym.to_string()),
        PropName::Str(text) => Some(text.value.to_string_lossy().into_owned()),
        PropName::Num(number) => Some(number.value.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const HELLO: &str = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "m2mHello",
  name: "Hello claim",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  failurePolicy: {
    action: "stop",
  },
  bindings: { "kinde.m2mToken": {} },
};

export default async function handle(event: any): Promise<void> {
  const who: string = "world";
  kinde.m2mToken.setCustomClaim("hello", who);
}
"#;

    /// What a worker reports for HELLO's module.
    fn hello_settings() -> Value {
        json!({
            "id": "m2mHello",
            "name": "Hello claim",
            "trigger": "m2m:token_generation",
            "failurePolicy": { "action": "stop" },
            "bindings": { "kinde.m2mToken": {} },
        })
    }

    fn exports(settings: Value) -> ModuleExports {
        ModuleExports { workflow_settings: Some(settings), default_export: "function".to_owned() }
    }

    /// Both steps of a deploy, with `settings` standing in for what the worker evaluated.
    fn compile(path: &str, source: &str, exports: &ModuleExports) -> Result<CompiledWorkflow, SourceError> {
        let module = transpile(path, source)?;
        read_settings(path, source, module, exports)
    }

    /// Run on a thread with a tokio worker's stack (2 MiB), where a deploy is compiled.
    fn transpile_on_small_stack(path: &'static str, source: String) -> Result<TranspiledModule, SourceError> {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || transpile(path, &source))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_nesting_is_refused_at_its_line_and_column_not_a_crash() {
        for (open, close) in [("(", ")"), ("[", "]"), ("{a:", "}"), ("if (x) {", "}")] {
            let source = format!("{HELLO}\nconst x = {}1{};\n", open.repeat(1600), close.repeat(1600));
            let err = transpile_on_small_stack("w/Workflow.ts", source).unwrap_err();
            assert_eq!((err.line, err.path.as_str()), (HELLO.lines().count() + 2, "w/Workflow.ts"), "{err}");
            assert!(err.message.contains("nested more than 256 levels"), "{err}");
        }
        // Just under the bound compiles.
        let source = format!("{HELLO}\nconst x = {}1{};\n", "(".repeat(250), ")".repeat(250));
        transpile_on_small_stack("w/Workflow.ts", source).unwrap();
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
            let err = transpile_on_small_stack("w/Workflow.ts", source).unwrap_err();
            assert!(err.message.contains("chaining more than 20000 operators"), "{err}");
            assert_eq!(err.line, HELLO.lines().count() + 2, "{err}");
        }
        // The count restarts with each statement, and a deep but legal tree compiles.
        let statements = format!("{HELLO}\n{}", "const a = 1 + 2 + 3;\n".repeat(20_000));
        transpile_on_small_stack("w/Workflow.ts", statements).unwrap();
        for chain in chains(MAX_CHAIN / 2 - 64) {
            let source = format!("{HELLO}\nconst x = {chain};\n");
            let module = transpile_on_small_stack("w/Workflow.ts", source.clone()).unwrap();
            let compiled = read_settings("w/Workflow.ts", &source, module, &exports(hello_settings())).unwrap();
            assert_eq!(compiled.workflow_id, "m2mHello");
        }
    }

    #[test]
    fn statements_nested_without_braces_are_refused_before_the_printer_squares_them() {
        let nested = |n: usize| format!("{HELLO}\nfunction f(x) {{\n  {}x;\n}}\n", "if (1) ".repeat(n));
        let started = std::time::Instant::now();
        let err = transpile_on_small_stack("w/Workflow.ts", nested(140_000)).unwrap_err();
        assert!(err.message.contains("statements nested more than 256 levels deep"), "{err}");
        assert_eq!(err.line, HELLO.lines().count() + 3, "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused before parsing");
        // Within the bound it compiles; `else if` chains and statements in sequence reset nothing
        // they should not.
        transpile_on_small_stack("w/Workflow.ts", nested(200)).unwrap();
        let chain =
            format!("{HELLO}\nfunction g(x) {{\n{}  return 0;\n}}\n", "  if (x === 1) return 1; else\n".repeat(1000));
        transpile_on_small_stack("w/Workflow.ts", chain).unwrap();
    }

    #[test]
    fn an_oversized_file_is_refused_with_its_size() {
        let source = format!("{HELLO}//{}", "x".repeat(MAX_SOURCE_BYTES));
        let err = transpile("w/Workflow.ts", &source).unwrap_err();
        assert!(err.message.contains("at most 1048576"), "{err}");
    }

    #[test]
    fn typescript_workflow_compiles_to_javascript_with_settings() {
        let compiled = compile("environment/workflows/hello/Workflow.ts", HELLO, &exports(hello_settings())).unwrap();
        assert_eq!(compiled.workflow_id, "m2mHello");
        assert_eq!(compiled.name, "Hello claim");
        assert_eq!(compiled.trigger, Trigger::M2mTokenGeneration);
        assert!(compiled.settings.declares(Binding::M2mToken));
        assert!(!compiled.code.contains(": string"), "types must be stripped: {}", compiled.code);
        assert!(compiled.code.contains("setCustomClaim"));
        assert_eq!(compiled.code_hash.len(), 64);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = transpile("wf/Workflow.ts", "export const workflowSettings = {\n  id: \"x\",,\n};\n").unwrap_err();
        assert_eq!(err.path, "wf/Workflow.ts");
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.starts_with("syntax error"), "{err}");
    }

    #[test]
    fn a_bad_setting_is_placed_at_its_value_not_at_the_object() {
        let mut settings = hello_settings();
        settings["failurePolicy"]["action"] = json!("stopx");
        let source = HELLO.replace("action: \"stop\"", "action: \"stopx\"");
        let err = compile("Workflow.ts", &source, &exports(settings)).unwrap_err();
        assert!(err.message.contains("failurePolicy.action must be"), "{err}");
        assert_eq!((err.line, err.column), (8, 13), "{err}");

        let mut settings = hello_settings();
        settings["trigger"] = json!("m2m:nope");
        let source = HELLO.replace("WorkflowTrigger.M2MTokenGeneration", "\"m2m:nope\"");
        let err = compile("Workflow.ts", &source, &exports(settings)).unwrap_err();
        assert!(err.message.contains("\"m2m:nope\""), "{err}");
        assert_eq!((err.line, err.column), (6, 12), "{err}");

        let mut settings = hello_settings();
        settings["bindings"] = json!({ "kinde.filesystem": {} });
        let source = HELLO.replace("\"kinde.m2mToken\": {}", "\"kinde.filesystem\": {}");
        let err = compile("Workflow.ts", &source, &exports(settings)).unwrap_err();
        assert!(err.message.contains("kinde.filesystem"), "{err}");
        assert_eq!((err.line, err.column), (10, 35), "{err}");
    }

    #[test]
    fn a_binding_the_trigger_does_not_offer_may_be_declared_but_not_called() {
        for (binding, call, offered_on) in [
            ("kinde.mfa", "kinde.mfa.setEnforcementPolicy(\"skip\")", "user:pre_mfa"),
            ("kinde.ssoSession", "kinde.ssoSession.setPolicy(\"persistent\")", "user:post_authentication"),
            ("kinde.widget", "kinde.widget.invalidateFormField(\"p\", \"no\")", "user:new_password_provided"),
            ("kinde.localization", "kinde.localization.get(\"k\")", "custom pages"),
        ] {
            let mut settings = hello_settings();
            settings["bindings"] = json!({ "kinde.m2mToken": {}, binding: {} });
            let declared =
                HELLO.replace("\"kinde.m2mToken\": {}", &format!("\"kinde.m2mToken\": {{}}, \"{binding}\": {{}}"));
            compile("Workflow.ts", &declared, &exports(settings.clone())).expect("declared, unused: accepted");
            let called = declared.replace("  const who", &format!("  {call};\n  const who"));
            let err = compile("Workflow.ts", &called, &exports(settings)).unwrap_err();
            assert!(err.message.contains(&format!("{binding} is not offered on m2m:token_generation")), "{err}");
            assert!(err.message.contains(offered_on), "{err}");
            assert_eq!((err.line, err.column), (14, 3), "{err}");
        }
    }

    #[test]
    fn a_binding_called_without_being_declared_is_refused_at_the_call() {
        let mut settings = hello_settings();
        settings["bindings"] = json!({});
        let source = HELLO.replace("\"kinde.m2mToken\": {}", "");
        let err = compile("Workflow.ts", &source, &exports(settings.clone())).unwrap_err();
        assert!(err.message.starts_with("kinde.m2mToken needs the kinde.m2mToken binding"), "{err}");
        assert!(err.message.contains(r#"add "kinde.m2mToken": {}"#), "{err}");
        assert_eq!((err.line, err.column), (15, 3), "{err}");

        // A helper of the package, imported under another name.
        let helper = "import { WorkflowSettings, denyAccess as deny } from \"@kinde/infrastructure\";\n\
                      export const workflowSettings = { id: \"x\", trigger: \"m2m:token_generation\" };\n\
                      export default async function () {\n  if (kinde.idToken) {}\n  deny(\"no\");\n}\n";
        let evaluated = exports(json!({ "id": "x", "trigger": "m2m:token_generation" }));
        let err = compile("Workflow.ts", helper, &evaluated).unwrap_err();
        assert!(err.message.starts_with("deny() needs the kinde.auth binding"), "{err}");
        assert_eq!((err.line, err.column), (5, 3), "a read of kinde.idToken is not a call: {err}");

        // kinde.fetch and kinde.cache are always there.
        let fetches = "export const workflowSettings = { id: \"x\", trigger: \"m2m:token_generation\" };\n\
                       export default async function () { kinde.fetch(\"https://x\"); kinde.cache.jwtToken(\"t\"); }\n";
        compile("Workflow.js", fetches, &evaluated).unwrap();
    }

    #[test]
    fn missing_id_is_placed_at_the_settings_object() {
        let mut settings = hello_settings();
        settings.as_object_mut().unwrap().remove("id");
        let source = HELLO.replace("  id: \"m2mHello\",\n", "");
        let err = compile("Workflow.ts", &source, &exports(settings)).unwrap_err();
        assert!(err.to_string().contains("workflowSettings.id is missing"), "{err}");
        assert_eq!((err.line, err.column), (3, 51), "{err}");
    }

    #[test]
    fn missing_settings_export_is_rejected() {
        let source = "export default async function () {}\n";
        let exports = ModuleExports { workflow_settings: None, default_export: "function".to_owned() };
        let err = compile("Workflow.ts", source, &exports).unwrap_err();
        assert!(err.message.contains("workflowSettings"), "{err}");
    }

    #[test]
    fn a_default_export_that_is_not_a_function_is_refused_where_it_is_exported() {
        let source = HELLO.replace("export default async function handle", "async function handle")
            + "export default { handle };\n";
        let exports = ModuleExports { workflow_settings: Some(hello_settings()), default_export: "object".to_owned() };
        let err = compile("Workflow.ts", &source, &exports).unwrap_err();
        assert!(err.message.starts_with("No default function exported (found a value of type object)"), "{err}");
        assert_eq!(err.line, HELLO.lines().count() + 1, "{err}");
    }

    #[test]
    fn computed_settings_of_bundler_output_are_read_from_the_evaluated_module() {
        // esbuild's output: the trigger is a member of the bundled enum, not a literal.
        let bundled = "var m = { M2MTokenGeneration: \"m2m:token_generation\" };\n\
                       var workflowSettings = { id: \"bundled\", trigger: m.M2MTokenGeneration };\n\
                       async function handler(event) {}\n\
                       export { handler as default, workflowSettings };\n";
        let evaluated = exports(json!({ "id": "bundled", "trigger": "m2m:token_generation" }));
        let compiled = compile("Workflow.js", bundled, &evaluated).unwrap();
        assert_eq!((compiled.workflow_id.as_str(), compiled.trigger), ("bundled", Trigger::M2mTokenGeneration));
        // An error in such a file is still placed at the key it concerns.
        let evaluated = exports(json!({ "id": "bundled", "trigger": "m2m:nope" }));
        let err = compile("Workflow.js", bundled, &evaluated).unwrap_err();
        assert_eq!((err.line, err.column), (2, 50), "{err}");
    }

    #[test]
    fn typescript_gets_a_source_map() {
        let module = transpile("Workflow.ts", HELLO).unwrap();
        let map = module.source_map.expect("a source map");
        assert!(map.contains("\"mappings\""), "{map}");
    }

    #[test]
    fn tokens_spelling_of_m2m_trigger_is_accepted_and_normalised() {
        let mut settings = hello_settings();
        settings["trigger"] = json!("m2m:tokens_generation");
        let compiled = compile("Workflow.ts", HELLO, &exports(settings)).unwrap();
        assert_eq!(compiled.settings.trigger, Trigger::M2mTokenGeneration);
    }
}
