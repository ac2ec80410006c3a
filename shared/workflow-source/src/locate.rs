//! Where in the file an error about the settings belongs.

use deno_ast::{
    swc::ast::{
        Decl, ExportSpecifier, Expr, ModuleDecl, ModuleExportName, ModuleItem, Pat, Prop, PropName, PropOrSpread, Stmt,
        VarDecl,
    },
    ParsedSource, SourcePos, SourceRangedForSpanned,
};

use crate::SourceError;

/// Places errors in the file: at a settings key's value where the file spells it out as an
/// object literal, else at the nearest enclosing part that it does spell out.
pub(crate) struct Locator<'a> {
    path: &'a str,
    parsed: &'a ParsedSource,
    /// The initializer of the exported `workflowSettings`, and where it is declared.
    settings: Option<(Option<&'a Expr>, SourcePos)>,
    default_export: Option<SourcePos>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(path: &'a str, parsed: &'a ParsedSource) -> Self {
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

    pub(crate) fn at(&self, position: SourcePos, message: String) -> SourceError {
        let position = self.parsed.text_info_lazy().line_and_column_display(position);
        SourceError { path: self.path.to_owned(), line: position.line_number, column: position.column_number, message }
    }

    pub(crate) fn start(&self, message: String) -> SourceError {
        SourceError { path: self.path.to_owned(), line: 1, column: 1, message }
    }

    pub(crate) fn default_export(&self, message: String) -> SourceError {
        match self.default_export {
            Some(position) => self.at(position, message),
            None => self.start(message),
        }
    }

    /// At the value of `workflowSettings.<keys...>`, or as near to it as the file spells out.
    pub(crate) fn setting(&self, keys: &[&str], message: String) -> SourceError {
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
