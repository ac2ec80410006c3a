//! The modules of one run: the workflow, the project files it imports (linked at deploy) and the
//! built-in `@kinde/infrastructure`, compiled in the run's context. An import follows the
//! deployment's [`ModuleGraph`] and nothing else; dynamic `import()` is refused by V8 itself, as
//! no host hook is installed.
//!
//! Compiling is cheap after the first run of a workflow on an isolate: V8 keeps the compiled code
//! of a source it has seen in the isolate's compilation cache, and each run only instantiates a
//! fresh module record (its own top-level bindings) from it.

use std::{collections::HashMap, num::NonZeroI32, sync::Arc};

use claimflow_contracts::workflow::ModuleGraph;
use deno_core::v8;

pub(crate) const INFRASTRUCTURE_SPECIFIER: &str = "claimflow:kinde-infrastructure";
const INFRASTRUCTURE: &str = include_str!("js/infrastructure.js");
// NOTE: V8 reads this source in place as one-byte (Latin-1) text: it must stay ASCII.
const _: () = assert!(INFRASTRUCTURE.is_ascii());

/// The URL a workflow's stack frames are reported under (`file:///workflow/<path>`); its project
/// modules are under the same prefix.
pub(crate) const WORKFLOW_URL_PREFIX: &str = "file:///workflow/";

/// The URL of the project file at `path`.
pub(crate) fn url_of(path: &str) -> String {
    format!("{WORKFLOW_URL_PREFIX}{}", path.trim_start_matches('/'))
}

/// A run's module table, kept in its context's slot for the resolve callback.
pub(crate) struct ModuleTable {
    /// Compiled modules by URL.
    modules: HashMap<String, v8::Global<v8::Module>>,
    /// The URL of each compiled module, by V8's identity hash: how the resolve hook knows which
    /// module imports.
    urls: HashMap<NonZeroI32, String>,
    graph: Arc<ModuleGraph>,
}

/// Compiles the workflow module (`main` is its URL), the project modules of `graph` and the
/// infrastructure module in the current context. `None` with an exception pending in `scope`
/// when one does not compile.
pub(crate) fn compile<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    main: &str,
    code: &str,
    graph: &Arc<ModuleGraph>,
) -> Option<(v8::Local<'s, v8::Module>, ModuleTable)> {
    let mut table = ModuleTable { modules: HashMap::new(), urls: HashMap::new(), graph: graph.clone() };
    let mut add = |scope: &mut v8::PinScope<'s, '_>, url: String, module: v8::Local<'s, v8::Module>| {
        table.urls.insert(module.get_identity_hash(), url.clone());
        table.modules.insert(url, v8::Global::new(scope, module));
    };
    let source = v8::String::new(scope, code)?;
    let workflow = compile_module(scope, main, source)?;
    add(scope, main.to_owned(), workflow);
    for module in &graph.modules {
        let url = url_of(&module.path);
        let source = v8::String::new(scope, &module.code)?;
        let compiled = compile_module(scope, &url, source)?;
        add(scope, url, compiled);
    }
    // NOTE: the built-in module's source is static: V8 reads it in place, no copy per run.
    let infrastructure = v8::String::new_external_onebyte_static(scope, INFRASTRUCTURE.as_bytes())?;
    let infrastructure = compile_module(scope, INFRASTRUCTURE_SPECIFIER, infrastructure)?;
    add(scope, INFRASTRUCTURE_SPECIFIER.to_owned(), infrastructure);
    Some((workflow, table))
}

fn compile_module<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    name: &str,
    source: v8::Local<'s, v8::String>,
) -> Option<v8::Local<'s, v8::Module>> {
    let name = v8::String::new(scope, name)?;
    let origin = v8::ScriptOrigin::new(scope, name.into(), 0, 0, false, 0, None, false, false, true, None);
    let mut source = v8::script_compiler::Source::new(source, Some(&origin));
    v8::script_compiler::compile_module(scope, &mut source)
}

/// Where `specifier`, imported by the module at `referrer` (a URL), leads, or why it cannot be
/// imported.
fn resolve<'t>(table: &'t ModuleTable, referrer: &str, specifier: &str) -> Result<&'t v8::Global<v8::Module>, String> {
    let url = match specifier {
        "@kinde/infrastructure" | "npm:@kinde/infrastructure" | INFRASTRUCTURE_SPECIFIER => {
            INFRASTRUCTURE_SPECIFIER.to_owned()
        }
        _ => {
            let from = referrer.strip_prefix(WORKFLOW_URL_PREFIX).unwrap_or(referrer);
            match table.graph.imports.get(from).and_then(|imports| imports.get(specifier)) {
                Some(path) => url_of(path),
                None => {
                    return Err(format!(
                        "cannot import {specifier:?} from {from}: a workflow may only import \"@kinde/infrastructure\" \
                         and the project files deployed with it"
                    ))
                }
            }
        }
    };
    table.modules.get(&url).ok_or_else(|| format!("module {url} is not available"))
}

/// V8's resolve hook for static imports: looks the specifier up in the context's module table.
pub(crate) fn resolve_callback<'s>(
    context: v8::Local<'s, v8::Context>,
    specifier: v8::Local<'s, v8::String>,
    _import_attributes: v8::Local<'s, v8::FixedArray>,
    referrer: v8::Local<'s, v8::Module>,
) -> Option<v8::Local<'s, v8::Module>> {
    v8::callback_scope!(unsafe scope, context);
    let specifier = specifier.to_rust_string_lossy(scope);
    let resolved = match context.get_slot::<ModuleTable>() {
        Some(table) => {
            let referrer = table.urls.get(&referrer.get_identity_hash()).map_or("", String::as_str);
            resolve(&table, referrer, &specifier).map(|module| v8::Local::new(scope, module))
        }
        None => Err("no modules can be loaded outside a workflow run".to_owned()),
    };
    match resolved {
        Ok(module) => Some(module),
        Err(message) => {
            let message = v8::String::new(scope, &message).unwrap_or_else(|| v8::String::empty(scope));
            let exception = v8::Exception::type_error(scope, message);
            scope.throw_exception(exception);
            None
        }
    }
}
