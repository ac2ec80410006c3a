//! The modules of one run: the workflow and the built-in `@kinde/infrastructure`, compiled in
//! the run's context. Nothing else can be imported; dynamic `import()` is refused by V8 itself,
//! as no host hook is installed.
//!
//! Compiling is cheap after the first run of a workflow on an isolate: V8 keeps the compiled code
//! of a source it has seen in the isolate's compilation cache, and each run only instantiates a
//! fresh module record (its own top-level bindings) from it.

use std::collections::HashMap;

use deno_core::v8;

pub(crate) const INFRASTRUCTURE_SPECIFIER: &str = "claimflow:kinde-infrastructure";
const INFRASTRUCTURE: &str = include_str!("js/infrastructure.js");
// NOTE: V8 reads this source in place as one-byte (Latin-1) text: it must stay ASCII.
const _: () = assert!(INFRASTRUCTURE.is_ascii());

/// The URL a workflow's stack frames are reported under (`file:///workflow/<path>`).
pub(crate) const WORKFLOW_URL_PREFIX: &str = "file:///workflow/";

/// A run's module table, kept in its context's slot for the resolve callback.
pub(crate) struct ModuleTable {
    main: String,
    modules: HashMap<String, v8::Global<v8::Module>>,
}

/// Compiles the workflow module (`main` is its URL) and the infrastructure module in the current
/// context. `None` with an exception pending in `scope` when either does not compile.
pub(crate) fn compile<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    main: &str,
    code: &str,
) -> Option<(v8::Local<'s, v8::Module>, ModuleTable)> {
    let workflow = v8::String::new(scope, code)?;
    let workflow = compile_module(scope, main, workflow)?;
    // NOTE: the built-in module's source is static: V8 reads it in place, no copy per run.
    let infrastructure = v8::String::new_external_onebyte_static(scope, INFRASTRUCTURE.as_bytes())?;
    let infrastructure = compile_module(scope, INFRASTRUCTURE_SPECIFIER, infrastructure)?;
    let mut modules = HashMap::new();
    modules.insert(main.to_owned(), v8::Global::new(scope, workflow));
    modules.insert(INFRASTRUCTURE_SPECIFIER.to_owned(), v8::Global::new(scope, infrastructure));
    Some((workflow, ModuleTable { main: main.to_owned(), modules }))
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

/// Where `specifier` leads from the workflow, or why it cannot be imported.
fn resolve<'t>(table: &'t ModuleTable, specifier: &str) -> Result<&'t v8::Global<v8::Module>, String> {
    let key = match specifier {
        "@kinde/infrastructure" | "npm:@kinde/infrastructure" | INFRASTRUCTURE_SPECIFIER => INFRASTRUCTURE_SPECIFIER,
        _ if specifier == table.main => table.main.as_str(),
        _ => {
            return Err(format!(
                "cannot import {specifier:?} from {}: workflows may only import \"@kinde/infrastructure\"",
                table.main.trim_start_matches(WORKFLOW_URL_PREFIX)
            ))
        }
    };
    table.modules.get(key).ok_or_else(|| format!("module {key} is not available"))
}

/// V8's resolve hook for static imports: looks the specifier up in the context's module table.
pub(crate) fn resolve_callback<'s>(
    context: v8::Local<'s, v8::Context>,
    specifier: v8::Local<'s, v8::String>,
    _import_attributes: v8::Local<'s, v8::FixedArray>,
    _referrer: v8::Local<'s, v8::Module>,
) -> Option<v8::Local<'s, v8::Module>> {
    v8::callback_scope!(unsafe scope, context);
    let specifier = specifier.to_rust_string_lossy(scope);
    let resolved = match context.get_slot::<ModuleTable>() {
        Some(table) => resolve(&table, &specifier).map(|module| v8::Local::new(scope, module)),
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
