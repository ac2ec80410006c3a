//! Length limits of request fields, declared once as `#[schema(max_length = N)]` on the body's
//! type: the OpenAPI document shows them, and [`check`] enforces them from the same schema.

use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The first string in `body` longer than its field's `maxLength`, as a message naming the
/// field (`files[0].path is longer than 1024 characters`).
pub fn check<T: ToSchema>(body: &Value) -> Result<(), String> {
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    let mut components: Map<String, Value> =
        referenced.into_iter().filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?))).collect();
    let root = serde_json::to_value(T::schema()).unwrap_or_default();
    components.insert(T::name().into_owned(), root.clone());
    walk(&root, body, "", &components)
}

fn walk(schema: &Value, value: &Value, path: &str, components: &Map<String, Value>) -> Result<(), String> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            match components.get(name) {
                Some(schema) => schema,
                None => return Ok(()),
            }
        }
        None => schema,
    };
    for composed in ["allOf", "oneOf", "anyOf"] {
        for part in schema.get(composed).and_then(Value::as_array).into_iter().flatten() {
            walk(part, value, path, components)?;
        }
    }
    match value {
        Value::String(text) => {
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if text.chars().count() as u64 > max {
                    return Err(format!("{path} is longer than {max} characters"));
                }
            }
        }
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, field) in fields {
                if let Some(property) = properties.and_then(|properties| properties.get(name)) {
                    let path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                    walk(property, field, &path, components)?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (index, element) in items.iter().enumerate() {
                    walk(item, element, &format!("{path}[{index}]"), components)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    struct File {
        #[schema(max_length = 4)]
        path: String,
    }

    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Bundle {
        #[schema(max_length = 3)]
        name: Option<String>,
        files: Vec<File>,
    }

    #[test]
    fn the_field_over_its_limit_is_named_with_its_path() {
        assert_eq!(super::check::<Bundle>(&json!({ "name": "abc", "files": [{ "path": "a/bc" }] })), Ok(()));
        assert_eq!(
            super::check::<Bundle>(&json!({ "name": "abcd", "files": [] })),
            Err("name is longer than 3 characters".to_owned())
        );
        assert_eq!(
            super::check::<Bundle>(&json!({ "files": [{ "path": "ok" }, { "path": "a/b/c" }] })),
            Err("files[1].path is longer than 4 characters".to_owned())
        );
    }
}
