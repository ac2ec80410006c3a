//! Turning a deployed `Workflow.ts` into what workers run: an ES module with the types stripped,
//! and its validated, typed `workflowSettings`.
//!
//! Deploy takes two steps, as Kinde's runtime does: [`transpile`] the file, have a worker
//! evaluate the module's top level and report its exports (this crate links no JavaScript
//! engine), then [`read_settings`] from those exports. The syntax tree is read only to point an
//! error at the key or value at fault. Every error names the file, line and column.

use std::fmt;

mod depth;
mod locate;
mod project;
mod settings;
pub use project::{is_workflow_file, link_bundle, resolve_import, LinkedWorkflow, Resolved};

use claimflow_contracts::{settings::WorkflowSettings, workflow::ModuleExports, Trigger};
use deno_ast::{
    swc::ast::{ModuleDecl, ModuleItem},
    EmitOptions, MediaType, ModuleSpecifier, ParseParams, ParsedSource, SourceMapOption, SourcePos,
    SourceRangedForSpanned, TranspileModuleOptions, TranspileOptions,
};
use sha2::{Digest, Sha256};

use crate::{
    depth::check_depth,
    locate::Locator,
    settings::{check_bindings_used, validate},
};

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

#[cfg(test)]
mod tests {
    use claimflow_contracts::settings::Binding;
    use serde_json::{json, Value};

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
