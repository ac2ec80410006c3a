//! A deployed project: which files are workflows, which are the modules they import, and where
//! each import leads. Kinde bundles a project before it runs a workflow; claimflow deploys the
//! files a workflow imports beside it and links them at deploy, so the runtime follows a fixed
//! map and resolves nothing itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use claimflow_contracts::workflow::{ModuleGraph, ProjectModule};

use crate::{transpile, SourceError, TranspiledModule};

/// The specifiers of the one package a workflow may import.
pub const INFRASTRUCTURE: [&str; 2] = ["@kinde/infrastructure", "npm:@kinde/infrastructure"];

/// Where an import leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The built-in `@kinde/infrastructure`.
    Infrastructure,
    /// A project file, by its path in the project.
    File(String),
}

/// Where `specifier`, imported by the project file `referrer`, leads, as a bundler resolves it:
/// relative to the importing file, with `.ts`, `.js` or `/index.ts` added when the specifier
/// leaves them out, and `./x.js` finding `x.ts` (TypeScript's own convention). `exists` says
/// whether the project has a file at a path. Anything that leaves the project, or names a
/// package other than `@kinde/infrastructure`, is refused.
pub fn resolve_import(referrer: &str, specifier: &str, exists: impl Fn(&str) -> bool) -> Result<Resolved, String> {
    if INFRASTRUCTURE.contains(&specifier) {
        return Ok(Resolved::Infrastructure);
    }
    if !(specifier.starts_with("./") || specifier.starts_with("../")) {
        return Err(if specifier.starts_with('/') || specifier.contains(':') {
            format!("cannot import {specifier:?}: project files are imported by a relative path (./ or ../)")
        } else {
            format!(
                "cannot import the package {specifier:?}: a workflow may import \"@kinde/infrastructure\" and the \
                 project's own files; bundle any other package into the workflow"
            )
        });
    }
    let mut parts: Vec<&str> = referrer.split('/').collect();
    parts.pop();
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("cannot import {specifier:?}: it leads outside the project"));
                }
            }
            name => parts.push(name),
        }
    }
    let target = parts.join("/");
    if let Some(found) = candidates(&target).into_iter().find(|candidate| exists(candidate)) {
        return Ok(Resolved::File(found));
    }
    if exists(&target) {
        return Err(format!("cannot import {specifier:?}: only .ts and .js files can be imported"));
    }
    Err(format!("cannot import {specifier:?}: the project has no file {target} (nor {target}.ts, .js or /index.ts)"))
}

/// Kinde's rule for a workflow's file name.
pub fn is_workflow_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    name.ends_with("workflow.ts") || name.ends_with("workflow.js")
}

/// The files a specifier leading to `target` may mean, in the order a bundler tries them.
fn candidates(target: &str) -> Vec<String> {
    const MODULES: [&str; 4] = [".ts", ".js", ".mts", ".mjs"];
    if let Some(stem) = target.strip_suffix(".js") {
        return vec![target.to_owned(), format!("{stem}.ts")];
    }
    if let Some(stem) = target.strip_suffix(".mjs") {
        return vec![target.to_owned(), format!("{stem}.mts")];
    }
    if MODULES.iter().any(|extension| target.ends_with(extension)) {
        return vec![target.to_owned()];
    }
    let mut all: Vec<String> = MODULES.iter().map(|extension| format!("{target}{extension}")).collect();
    all.extend(["/index.ts", "/index.js"].iter().map(|index| format!("{target}{index}")));
    all
}

/// A workflow of a bundle, linked with the project modules it imports.
#[derive(Debug, Clone)]
pub struct LinkedWorkflow {
    /// Its path in the project.
    pub path: String,
    pub source: String,
    pub module: TranspiledModule,
    /// Empty when it imports no project file.
    pub graph: ModuleGraph,
    /// The original text of each module in `graph`, by path.
    pub module_sources: Vec<(String, String)>,
}

/// Transpiles every file of a bundle (`(path in the project, content)`) and links each workflow
/// with the project files it imports, however indirectly. A file is a workflow when its name ends
/// in `workflow.ts` or `workflow.js` (Kinde's rule, any case) or when no other file imports it;
/// the rest are modules. Declaration files (`.d.ts`) hold only types, and nothing runs them.
/// Every error is placed in its file; a workflow whose own file or any module it reaches has one
/// is not linked.
pub fn link_bundle(files: &[(String, String)]) -> (Vec<LinkedWorkflow>, Vec<SourceError>) {
    let files: Vec<&(String, String)> = files.iter().filter(|(path, _)| !path.ends_with(".d.ts")).collect();
    let paths: BTreeSet<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    let mut errors = Vec::new();
    let mut broken = BTreeSet::new();
    let mut modules: BTreeMap<&str, TranspiledModule> = BTreeMap::new();
    let mut links: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (path, content) in files.iter().copied() {
        let module = match transpile(path, content) {
            Ok(module) => module,
            Err(err) => {
                errors.push(err);
                broken.insert(path.as_str());
                continue;
            }
        };
        for import in &module.imports {
            match resolve_import(path, &import.specifier, |candidate| paths.contains(candidate)) {
                Ok(Resolved::Infrastructure) => {}
                Ok(Resolved::File(target)) => {
                    links.entry(path.clone()).or_default().insert(import.specifier.clone(), target);
                }
                Err(message) => {
                    errors.push(SourceError { path: path.clone(), line: import.line, column: import.column, message });
                    broken.insert(path.as_str());
                }
            }
        }
        modules.insert(path, module);
    }
    let imported: BTreeSet<&str> = links.values().flat_map(|targets| targets.values().map(String::as_str)).collect();
    let mut workflows = Vec::new();
    for (path, source) in
        files.iter().copied().filter(|(path, _)| is_workflow_file(path) || !imported.contains(path.as_str()))
    {
        // Every file the workflow reaches, itself first.
        let mut reached = vec![path.as_str()];
        let mut queue = VecDeque::from([path.as_str()]);
        while let Some(file) = queue.pop_front() {
            for target in links.get(file).into_iter().flat_map(|targets| targets.values()) {
                if !reached.contains(&target.as_str()) {
                    reached.push(target);
                    queue.push_back(target);
                }
            }
        }
        if reached.iter().any(|file| broken.contains(file)) {
            continue;
        }
        let Some(module) = modules.get(path.as_str()).cloned() else { continue };
        let mut graph = ModuleGraph {
            imports: reached.iter().filter_map(|file| Some((file.to_string(), links.get(*file)?.clone()))).collect(),
            modules: reached[1..]
                .iter()
                .map(|file| {
                    let module = &modules[file];
                    ProjectModule {
                        path: file.to_string(),
                        code: module.code.clone(),
                        source_map: module.source_map.clone(),
                    }
                })
                .collect(),
        };
        graph.modules.sort_by(|a, b| a.path.cmp(&b.path));
        let module_sources = graph
            .modules
            .iter()
            .filter_map(|module| files.iter().find(|(path, _)| *path == module.path).map(|&file| file.clone()))
            .collect();
        workflows.push(LinkedWorkflow { path: path.clone(), source: source.clone(), module, graph, module_sources });
    }
    if workflows.is_empty() && errors.is_empty() {
        errors.push(SourceError {
            path: files.first().map(|(path, _)| path.clone()).unwrap_or_default(),
            line: 1,
            column: 1,
            message: "every file is imported by another: the bundle holds no workflow".to_owned(),
        });
    }
    (workflows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_project<'a>(files: &'a [&'a str]) -> impl Fn(&str) -> bool + 'a {
        move |path| files.contains(&path)
    }

    #[test]
    fn imports_resolve_as_a_bundler_resolves_them_and_stay_in_the_project() {
        let files = ["kindeSrc/environment/workflows/Workflow.ts", "utils/utils.ts", "lib/index.js", "a/b.ts"];
        let referrer = files[0];
        let resolve = |specifier: &str| resolve_import(referrer, specifier, in_project(&files));
        assert_eq!(resolve("../../../utils/utils"), Ok(Resolved::File("utils/utils.ts".into())));
        assert_eq!(resolve("../../../utils/utils.ts"), Ok(Resolved::File("utils/utils.ts".into())));
        assert_eq!(resolve("../../../utils/utils.js"), Ok(Resolved::File("utils/utils.ts".into())));
        assert_eq!(resolve("../../.././lib"), Ok(Resolved::File("lib/index.js".into())));
        assert_eq!(resolve("@kinde/infrastructure"), Ok(Resolved::Infrastructure));
        assert_eq!(resolve_import("a/b.ts", "./b", in_project(&files)), Ok(Resolved::File("a/b.ts".into())));

        let err = resolve("../../../../outside.ts").unwrap_err();
        assert!(err.contains("leads outside the project"), "{err}");
        let err = resolve("lodash").unwrap_err();
        assert!(err.contains("cannot import the package \"lodash\""), "{err}");
        let err = resolve("https://esm.sh/lodash").unwrap_err();
        assert!(err.contains("relative path"), "{err}");
        let err = resolve("./missing").unwrap_err();
        assert!(err.contains("no file kindeSrc/environment/workflows/missing"), "{err}");
    }

    const WORKFLOW: &str = "import { settings } from \"../../../utils/utils\";\n\
        import { Shape } from \"./types\";\n\
        export const workflowSettings = { id: \"w\", trigger: \"m2m:token_generation\" };\n\
        export default async function (event: Shape) { console.log(settings.output); }\n";

    #[test]
    fn a_bundle_links_each_workflow_with_what_it_imports_and_types_need_no_file() {
        let files = vec![
            ("kindeSrc/environment/workflows/w/Workflow.ts".to_owned(), WORKFLOW.replace("../../../", "../../../../")),
            ("utils/utils.ts".to_owned(), "import { more } from './more.js';\nexport const settings = more;\n".into()),
            ("utils/more.ts".to_owned(), "import { settings } from './utils';\nexport const more = { output: '1' };\nexport const again = () => settings;\n".into()),
        ];
        let (workflows, errors) = link_bundle(&files);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(workflows.len(), 1, "the imported files are modules, not workflows");
        let graph = &workflows[0].graph;
        let paths: Vec<&str> = graph.modules.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["utils/more.ts", "utils/utils.ts"]);
        assert_eq!(graph.imports[&files[0].0]["../../../../utils/utils"], "utils/utils.ts");
        assert_eq!(graph.imports["utils/more.ts"]["./utils"], "utils/utils.ts", "cycles are kept");
    }

    #[test]
    fn an_import_that_cannot_be_followed_is_refused_where_it_is_written() {
        let files = vec![("w/Workflow.ts".to_owned(), format!("// helper\n{WORKFLOW}"))];
        let (workflows, errors) = link_bundle(&files);
        assert!(workflows.is_empty());
        let err = &errors[0];
        assert_eq!((err.path.as_str(), err.line, err.column), ("w/Workflow.ts", 2, 26), "{err}");
        assert!(err.message.contains("leads outside the project"), "{err}");

        let files = vec![("w/Workflow.ts".to_owned(), WORKFLOW.replace("../../../utils/utils", "node:fs"))];
        let (_, errors) = link_bundle(&files);
        assert!(errors[0].message.contains("relative path"), "{}", errors[0]);
    }

    #[test]
    fn a_broken_module_keeps_its_workflow_out_and_names_its_own_file() {
        let files = vec![
            ("a/Workflow.ts".to_owned(), "import { x } from './x';\nexport default function () { return x; }\n".into()),
            ("a/x.ts".to_owned(), "export const x = ;\n".into()),
        ];
        let (workflows, errors) = link_bundle(&files);
        assert!(workflows.is_empty());
        assert_eq!((errors[0].path.as_str(), errors[0].line), ("a/x.ts", 1), "{}", errors[0]);
    }
}
