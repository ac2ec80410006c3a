//! The corpus of real public Kinde workflows (`tests/corpus`): each file deployed unmodified, with
//! the project files it imports, on a fresh stack provisioned with exactly what its manifest says
//! it needs; its token requested as a client would; the outcome and the claims compared with what
//! Kinde does, or, where claimflow differs, with the difference the manifest records and explains
//! (`claimflow.outcome`, `claimflow.because`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use claimflow_e2e::{Browser, Stack, StackOptions};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Map, Value};

const PASSWORD: &str = "corpus-password-1";

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// What came of one entry, in the manifest's words.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    DeployRefused(String),
    Claims,
    NoClaims,
    WorkflowError(String),
    AccessDenied(String),
    TokenWithoutWorkflowClaims,
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::DeployRefused(_) => "deploy_refused",
            Outcome::Claims => "claims",
            Outcome::NoClaims => "no_claims",
            Outcome::WorkflowError(_) => "workflow_error",
            Outcome::AccessDenied(_) => "access_denied",
            Outcome::TokenWithoutWorkflowClaims => "token_without_workflow_claims",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Outcome::DeployRefused(text) | Outcome::WorkflowError(text) | Outcome::AccessDenied(text) => text,
            _ => "",
        }
    }
}

/// Values provisioned for an entry, by the aliases its manifest uses (`org1.code`, `user.id`).
#[derive(Default)]
struct Refs(Map<String, Value>);

impl Refs {
    fn set(&mut self, alias: &str, value: Value) {
        self.0.insert(alias.to_owned(), value);
    }

    fn get(&self, path: &str) -> Value {
        let mut parts = path.split('.');
        let first = parts.next().unwrap_or_default();
        let mut value = self.0.get(first).cloned().unwrap_or(Value::Null);
        for part in parts {
            value = value.get(part).cloned().unwrap_or(Value::Null);
        }
        value
    }

    /// `value` with every `{"$ref": "..."}` replaced by what it names.
    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(object) => match object.get("$ref").and_then(Value::as_str) {
                Some(path) => self.get(path),
                None => Value::Object(object.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            },
            Value::Array(items) => Value::Array(items.iter().map(|item| self.resolve(item)).collect()),
            other => other.clone(),
        }
    }
}

/// An HTTP server standing in for the external APIs an entry calls (`needs.external_http` whose
/// URL starts with an environment variable, such as `{SUPABASE_URL}/rest/v1/...`): answers each
/// by method and path, and keeps what it was sent.
struct Stub {
    base: String,
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

async fn stub(routes: Vec<(String, String, u16, Value)>) -> Stub {
    use axum::{body::Bytes, extract::State, http::Method as HttpMethod, http::StatusCode, http::Uri};
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;
    let seen: Seen = Arc::default();
    let routes = Arc::new(routes);
    let handler = {
        let routes = routes.clone();
        move |State(seen): State<Seen>, method: HttpMethod, uri: Uri, body: Bytes| {
            let routes = routes.clone();
            async move {
                seen.lock().unwrap().push((method.to_string(), uri.to_string(), String::from_utf8_lossy(&body).into()));
                let found = routes.iter().find(|(m, path, _, _)| *m == method.as_str() && *path == uri.path());
                match found {
                    Some((_, _, status, json)) => {
                        (StatusCode::from_u16(*status).unwrap(), axum::Json(json.clone())).into_response()
                    }
                    None => (StatusCode::NOT_FOUND, "no such stub route").into_response(),
                }
            }
        }
    };
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(handler).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stub { base, seen }
}

/// Provisions what `needs` lists, deploys the entry's files, requests its token: the outcome,
/// and the claims of the tokens issued (`access_token`/`m2m_token`, `id_token`).
async fn run_entry(entry: &Value) -> Result<(Outcome, Refs, Map<String, Value>), String> {
    let needs = &entry["needs"];
    let m2m = entry["trigger"] == "m2m:token_generation";
    let options = StackOptions {
        fetch_allow: claimflow_workflow_runtime::AllowList::parse("127.0.0.1").unwrap(),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(options).await;
    let mut refs = Refs::default();
    refs.set("issuer", json!(stack.issuer));
    let call = |method: Method, path: String, body: Option<Value>| {
        let stack = &stack;
        async move {
            let (status, answer) = stack.management(method.clone(), &path, body).await;
            if status == 200 {
                Ok(answer)
            } else {
                Err(format!("provisioning {method} {path}: {status} {answer}"))
            }
        }
    };

    // The client whose token the workflow shapes.
    let web_app = if m2m {
        let (client_id, client_secret) = stack.m2m_client_for("corpus-api").await;
        refs.set("token_client", json!({ "client_id": client_id, "client_secret": client_secret }));
        None
    } else {
        let app = stack.web_app("reg").await;
        refs.set("sign_in_app", json!({ "client_id": app.client_id }));
        refs.set("token_client", json!({ "client_id": app.client_id }));
        Some(app)
    };
    for org in needs["organizations"].as_array().into_iter().flatten() {
        let mut body = json!({ "name": org["name"] });
        for field in ["handle", "external_id"] {
            if !org[field].is_null() {
                body[field] = org[field].clone();
            }
        }
        let created = call(Method::POST, "organization".into(), Some(body)).await?;
        let mut known = org.clone();
        known["code"] = created["organization"]["code"].clone();
        refs.set(org["alias"].as_str().unwrap_or("org1"), known);
    }
    for permission in needs["permissions"].as_array().into_iter().flatten() {
        let body = json!({ "key": permission["key"], "name": permission["name"] });
        let created = call(Method::POST, "permissions".into(), Some(body)).await?;
        let mut known = permission.clone();
        known["id"] = created["permission"]["id"].clone();
        refs.set(permission["alias"].as_str().unwrap_or_default(), known);
    }
    for role in needs["roles"].as_array().into_iter().flatten() {
        let body = json!({ "key": role["key"], "name": role["name"] });
        let created = call(Method::POST, "roles".into(), Some(body)).await?;
        let mut known = role.clone();
        known["id"] = created["role"]["id"].clone();
        refs.set(role["alias"].as_str().unwrap_or_default(), known);
    }
    // Property definitions: those listed, and those the values below need.
    let mut defined: Vec<String> = Vec::new();
    let mut define = |key: &str, context: &str, kind: &str| {
        let fresh = !defined.iter().any(|known| known == key);
        defined.push(key.to_owned());
        (fresh, json!({ "name": key, "key": key, "type": kind, "context": context, "is_private": false }))
    };
    let mut definitions = Vec::new();
    for property in needs["properties"].as_array().into_iter().flatten() {
        let kind = property["type"].as_str().unwrap_or("single_line_text");
        definitions.push(define(property["key"].as_str().unwrap(), property["context"].as_str().unwrap(), kind));
    }
    for (list, context) in
        [("application_properties", "app"), ("user_properties", "usr"), ("organization_properties", "org")]
    {
        for value in needs[list].as_array().into_iter().flatten() {
            definitions.push(define(value["key"].as_str().unwrap(), context, "single_line_text"));
        }
    }
    for (fresh, body) in definitions {
        if fresh {
            call(Method::POST, "properties".into(), Some(body)).await?;
        }
    }
    let mut users: Vec<Value> = needs["users"].as_array().cloned().unwrap_or_default();
    if users.is_empty() && !m2m {
        users.push(json!({ "alias": "user" }));
    }
    for user in &users {
        let alias = user["alias"].as_str().unwrap_or("user");
        let email = format!("{alias}@corpus.example");
        let id = stack.user_with_password(&email, "Ann", "Corpus", PASSWORD).await;
        for org in user["organizations"].as_array().into_iter().flatten() {
            let org = org.as_str().unwrap();
            let keys = |field: &str| -> Vec<Value> {
                user[field][org]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|alias| refs.get(alias.as_str().unwrap())["key"].clone())
                    .collect()
            };
            let member = json!({ "id": id, "roles": keys("roles_in_org"), "permissions": keys("permissions_in_org") });
            let code = refs.get(&format!("{org}.code"));
            let code = code.as_str().unwrap_or_default();
            call(Method::POST, format!("organizations/{code}/users"), Some(json!({ "users": [member] }))).await?;
        }
        refs.set(alias, json!({ "id": id, "email": email }));
    }
    for value in needs["application_properties"].as_array().into_iter().flatten() {
        let client = refs.get(&format!("{}.client_id", value["application"].as_str().unwrap_or("token_client")));
        let path = format!(
            "applications/{}/properties/{}",
            client.as_str().unwrap_or_default(),
            value["key"].as_str().unwrap()
        );
        call(Method::PUT, path, Some(json!({ "value": refs.resolve(&value["value"]) }))).await?;
    }
    for (list, owner, path) in [
        ("user_properties", "user", "users/{}/properties/{}"),
        ("organization_properties", "organization", "organizations/{}/properties/{}"),
    ] {
        for value in needs[list].as_array().into_iter().flatten() {
            let alias = value[owner].as_str().unwrap();
            let id = refs.get(&format!("{alias}.{}", if owner == "user" { "id" } else { "code" }));
            let text = match refs.resolve(&value["value"]) {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let mut url = url::Url::parse("http://x/").unwrap();
            url.query_pairs_mut().append_pair("value", &text);
            let path = path.replacen("{}", id.as_str().unwrap_or_default(), 1).replacen(
                "{}",
                value["key"].as_str().unwrap(),
                1,
            );
            call(Method::PUT, format!("{path}?{}", url.query().unwrap()), None).await?;
        }
    }
    for flag in needs["feature_flags"].as_array().into_iter().flatten() {
        let kind = match flag["type"].as_str() {
            Some("bool") => "bool",
            Some("int") | Some("integer") => "int",
            _ => "str",
        };
        let body = json!({ "name": flag["key"], "key": flag["key"], "type": kind, "default_value": flag["value"].to_string().trim_matches('"') });
        call(Method::POST, "feature_flags".into(), Some(body)).await?;
    }

    // External APIs whose address comes from the environment are served by a stub.
    let mut stubbed_env: HashMap<String, String> = HashMap::new();
    let mut routes = Vec::new();
    for external in needs["external_http"].as_array().into_iter().flatten() {
        let url = external["url"].as_str().unwrap_or_default();
        let Some(rest) = url.strip_prefix('{') else { continue };
        let Some((variable, path)) = rest.split_once('}') else { continue };
        let path = path.split('?').next().unwrap_or_default();
        let path = if path.contains('{') {
            path.split('{').next().unwrap().trim_end_matches('/').to_owned()
        } else {
            path.to_owned()
        };
        let response = &external["response"];
        routes.push((
            external["method"].as_str().unwrap_or("GET").to_owned(),
            path,
            response["status"].as_u64().unwrap_or(200) as u16,
            refs.resolve(&response["json"]),
        ));
        stubbed_env.insert(variable.to_owned(), String::new());
    }
    let stub = if routes.is_empty() { None } else { Some(stub(routes).await) };
    if let Some(stub) = &stub {
        for value in stubbed_env.values_mut() {
            value.clone_from(&stub.base);
        }
    }

    // Environment variables; createKindeAPI's credentials are an M2M application of the
    // management API with the scopes listed.
    let mut environment: Vec<(String, String, bool)> = Vec::new();
    if let Some(credentials) = needs.get("m2m_credentials") {
        let scopes: Vec<&str> =
            credentials["scopes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let (client_id, client_secret, undefined) = management_client(&stack, &scopes).await?;
        if !undefined.is_empty() {
            refs.set("undefined_scopes", json!(undefined));
        }
        environment.push(("KINDE_WF_M2M_CLIENT_ID".into(), client_id, false));
        environment.push(("KINDE_WF_M2M_CLIENT_SECRET".into(), client_secret, true));
    }
    for variable in needs["env"].as_array().into_iter().flatten() {
        let key = variable["key"].as_str().unwrap().to_owned();
        if environment.iter().any(|(known, _, _)| *known == key) {
            continue;
        }
        let value = match (stubbed_env.get(&key), &variable["value"]) {
            (Some(stubbed), _) => stubbed.clone(),
            (None, Value::Null) if variable["optional"] == true => continue,
            (None, Value::Null) => format!("corpus-{}", key.to_ascii_lowercase()),
            (None, value) => match refs.resolve(value) {
                Value::String(text) => text,
                other => other.to_string(),
            },
        };
        environment.push((key, value, variable["secret"] == true));
    }
    for (key, value, is_secret) in environment {
        let body = json!({ "key": key, "value": value, "is_secret": is_secret });
        call(Method::POST, "environment_variables".into(), Some(body)).await?;
    }

    // The workflow and its project files, at their paths in the original repository.
    let read = |file: &str| std::fs::read_to_string(corpus_dir().join(file)).map_err(|err| format!("{file}: {err}"));
    let mut files =
        vec![(entry["source"]["path"].as_str().unwrap().to_owned(), read(entry["file"].as_str().unwrap())?)];
    for project_file in entry["project_files"].as_array().into_iter().flatten() {
        files.push((
            project_file["source_path"].as_str().unwrap().to_owned(),
            read(project_file["file"].as_str().unwrap())?,
        ));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(path, content)| (path.as_str(), content.as_str())).collect();
    let (status, deployed) = stack.deploy(&files).await;
    if status == 400 {
        let message = deployed["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
        return Ok((Outcome::DeployRefused(message), refs, Map::new()));
    }
    if status != 200 {
        return Err(format!("deploy answered {status}: {deployed}"));
    }

    // The token, as the client asks for it.
    let mut tokens = Map::new();
    let failure = if m2m {
        let client = refs.get("token_client");
        let answer = stack
            .m2m_token(client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap(), "corpus-api")
            .await;
        match answer {
            Ok(answer) => {
                let claims = stack
                    .verify(answer["access_token"].as_str().unwrap(), "corpus-api")
                    .await
                    .map_err(|err| err.to_string())?;
                tokens.insert("m2m_token".into(), claims);
                None
            }
            Err((_, body)) => Some((
                body["error"].as_str().unwrap_or_default().to_owned(),
                body["error_description"].as_str().unwrap_or_default().to_owned(),
            )),
        }
    } else {
        let app = web_app.as_ref().unwrap();
        let org = refs.resolve(&needs["token_request"]["org_code"]);
        let mut extra = Vec::new();
        if let Some(org) = org.as_str() {
            extra.push(("org_code", org));
        }
        let user = refs.get(&format!("{}.email", users[0]["alias"].as_str().unwrap_or("user")));
        let browser = Browser::default();
        let (answer, verifier) = stack.sign_in(&browser, app, user.as_str().unwrap(), PASSWORD, &extra).await;
        match (answer.param("code"), answer.param("error")) {
            (Some(code), _) => {
                let (status, answer) = stack.exchange_code(app, &code, &verifier).await;
                if status != 200 {
                    return Err(format!("code exchange answered {status}: {answer}"));
                }
                tokens.insert(
                    "access_token".into(),
                    stack.verify_user_token(answer["access_token"].as_str().unwrap()).await,
                );
                tokens.insert("id_token".into(), stack.verify_user_token(answer["id_token"].as_str().unwrap()).await);
                None
            }
            (None, Some(error)) => Some((error, answer.param("error_description").unwrap_or_default())),
            (None, None) => {
                return Err(format!("sign-in answered {} {:?}: {}", answer.status, answer.location, answer.body))
            }
        }
    };
    let runs = stack.runs().await;
    let run = runs.first().cloned().unwrap_or(Value::Null);
    let outcome = match failure {
        Some((error, description)) if error == "access_denied" => Outcome::AccessDenied(description),
        Some((error, description)) => Outcome::WorkflowError(format!("{error}: {description}; run: {}", run["error"])),
        None if run["status"] != "ok" => Outcome::TokenWithoutWorkflowClaims,
        None => {
            let set = run["claims_set"].as_object().map_or(0, |tokens| {
                tokens.values().map(|claims| claims.as_object().map_or(0, Map::len)).sum::<usize>()
            });
            if set == 0 {
                Outcome::NoClaims
            } else {
                Outcome::Claims
            }
        }
    };
    if let Some(stub) = stub {
        tokens.insert("stub_requests".into(), json!(*stub.seen.lock().unwrap()));
    }
    tokens.insert("run".into(), run);
    // Effects outside the token that the manifest spells out as a management API read.
    let mut unchecked = Vec::new();
    for effect in entry["side_effects"].as_array().into_iter().flatten() {
        let check = effect["check"].as_str().unwrap_or_default();
        let role_check = check.strip_prefix("GET ").and_then(|rest| rest.split_once(" contains a role with key '"));
        let Some((path, rest)) = role_check else {
            unchecked.push(check.to_owned());
            continue;
        };
        let key = rest.split('\'').next().unwrap_or_default();
        let mut resolved = path.to_owned();
        while let Some(start) = resolved.find('{') {
            let Some(end) = resolved[start..].find('}') else { break };
            let value = refs.get(&resolved[start + 1..start + end]);
            resolved.replace_range(start..start + end + 1, value.as_str().unwrap_or_default());
        }
        let (status, body) = stack.management(Method::GET, &resolved, None).await;
        let holds = body["roles"].as_array().into_iter().flatten().any(|role| role["key"] == key);
        if status != 200 || !holds {
            return Err(format!("side effect {check:?} not seen: GET {resolved} answered {status} {body}"));
        }
    }
    if !unchecked.is_empty() {
        tokens.insert("unchecked_side_effects".into(), json!(unchecked));
    }
    Ok((outcome, refs, tokens))
}

/// An M2M application of the management API granted those of `scopes` claimflow defines (it
/// defines one per route it has: no billing, for one), and the scopes it does not define.
async fn management_client(stack: &Stack, scopes: &[&str]) -> Result<(String, String, Vec<String>), String> {
    let api_id = stack.management_api_id().await;
    let (client_id, client_secret) = stack.m2m_application_authorized_for("workflow credentials", &api_id).await;
    let (_, listed) = stack.management(Method::GET, &format!("apis/{api_id}/scopes"), None).await;
    let mut undefined = Vec::new();
    for scope in scopes {
        let known = listed["scopes"].as_array().into_iter().flatten().find(|s| s["key"] == *scope);
        let Some(scope_id) = known.and_then(|s| s["id"].as_str()) else {
            undefined.push(scope.to_string());
            continue;
        };
        let path = format!("apis/{api_id}/applications/{client_id}/scopes/{scope_id}");
        let (status, body) = stack.management(Method::POST, &path, None).await;
        if status != 200 {
            return Err(format!("granting {scope}: {status} {body}"));
        }
    }
    Ok((client_id, client_secret, undefined))
}

/// Whether `actual` is what the manifest expects: a value, `{"$ref"}`, or `{"$type"}` (with
/// `{"$describe"}` alone meaning only that the claim is there).
fn matches(expected: &Value, actual: &Value, refs: &Refs) -> bool {
    if let Some(object) = expected.as_object() {
        if object.contains_key("$ref") {
            return refs.resolve(expected) == *actual;
        }
        if let Some(kind) = object.get("$type").and_then(Value::as_str) {
            return match kind {
                "array" => actual.is_array(),
                "object" => actual.is_object(),
                "number" => actual.is_number(),
                "string" => actual.is_string(),
                _ => false,
            };
        }
        if object.contains_key("$describe") {
            return !actual.is_null();
        }
        let Some(actual) = actual.as_object() else { return false };
        return object.iter().all(|(key, value)| matches(value, actual.get(key).unwrap_or(&Value::Null), refs));
    }
    if let Some(items) = expected.as_array() {
        let Some(actual) = actual.as_array() else { return false };
        return items.len() == actual.len() && items.iter().zip(actual).all(|(e, a)| matches(e, a, refs));
    }
    expected == actual
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_real_workflow_in_the_corpus_behaves_as_its_manifest_says() {
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("manifest.json")).unwrap()).unwrap();
    let entries: Vec<Value> = manifest.into_iter().filter(|entry| entry["status"] == "included").collect();
    assert!(entries.len() >= 30, "the corpus holds {} workflows", entries.len());
    let only = std::env::var("CORPUS_ONLY").ok();
    let results: Vec<(String, Result<String, String>)> = futures::stream::iter(entries.iter())
        .filter(|entry| {
            let keep = only.as_deref().is_none_or(|only| entry["slug"].as_str() == Some(only));
            async move { keep }
        })
        .map(|entry| async move {
            let slug = entry["slug"].as_str().unwrap().to_owned();
            (slug, check(entry).await)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut report = String::new();
    let mut failures = 0;
    let mut sorted = results;
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (slug, result) in &sorted {
        match result {
            Ok(summary) => report.push_str(&format!("ok    {slug:<45} {summary}\n")),
            Err(failure) => {
                failures += 1;
                report.push_str(&format!("FAIL  {slug:<45} {failure}\n"));
            }
        }
    }
    println!("{report}");
    assert_eq!(failures, 0, "{failures} of {} corpus workflows misbehaved:\n{report}", sorted.len());
}

fn report_line(entry: &Value, text: &str) {
    println!("      {:<45} refused: {text}", entry["slug"].as_str().unwrap_or_default());
}

/// Runs one entry and compares: `Ok(summary)` or `Err(what differs)`.
async fn check(entry: &Value) -> Result<String, String> {
    let (outcome, refs, tokens) = run_entry(entry).await?;
    let differs = &entry["claimflow"];
    let expected = differs["outcome"].as_str().or(entry["expected_outcome"].as_str()).unwrap_or_default();
    if outcome.name() != expected {
        return Err(format!(
            "expected {expected}, got {} {}; run logs: {}",
            outcome.name(),
            outcome.detail(),
            tokens.get("run").map(|run| run["logs"].to_string()).unwrap_or_default()
        ));
    }
    if let Some(wanted) = differs["error_contains"].as_str() {
        if !outcome.detail().contains(wanted) {
            return Err(format!("{expected} as expected, but without {wanted:?}: {}", outcome.detail()));
        }
    }
    if outcome == Outcome::Claims {
        let wanted = if differs["claims"].is_object() { &differs["claims"] } else { &entry["expected_claims"] };
        for (token, claims) in wanted.as_object().into_iter().flatten() {
            let actual = tokens.get(token).cloned().unwrap_or(Value::Null);
            for (claim, value) in claims.as_object().into_iter().flatten() {
                if !matches(value, &actual[claim], &refs) {
                    return Err(format!("{token}.{claim}: expected {value}, got {}", actual[claim]));
                }
            }
        }
    }
    if let Outcome::DeployRefused(message) = &outcome {
        // Why, for the reader of the report: the first line of the refusal.
        report_line(entry, message.lines().next().unwrap_or_default());
    }
    let because = differs["because"].as_str().map(|why| format!(" (differs from Kinde: {why})")).unwrap_or_default();
    if let Some(unchecked) = tokens.get("unchecked_side_effects") {
        println!("      {:<45} side effects not checked: {unchecked}", entry["slug"].as_str().unwrap_or_default());
    }
    let undefined = refs.get("undefined_scopes");
    let undefined = if undefined.is_null() { String::new() } else { format!(" [scopes claimflow lacks: {undefined}]") };
    Ok(format!("{}{because}{undefined}", outcome.name()))
}
