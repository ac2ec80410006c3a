//! The README's path with the real `claimflow` binary: `claimflow dev` starts the stack,
//! `claimflow deploy` deploys the example, a token carries the workflow's claim, and the spans
//! reach an OTLP/HTTP receiver.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const CLAIMFLOW: &str = env!("CARGO_BIN_EXE_claimflow");

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Collects the JSON bodies posted to `/v1/traces`.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                    sink.lock().unwrap().push(value);
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

struct Dev {
    child: Child,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Both tests start a `claimflow dev` stack on ports chosen free a moment before (its own and its
/// nats-server's), and one kills its broker on purpose: one at a time, so that neither stack
/// takes a port the other has just chosen.
static ONE_DEV_STACK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::await_holding_lock)] // held on purpose, for the whole test
async fn dev_stack_deploys_the_example_and_issues_a_traced_token() {
    let _one_at_a_time = ONE_DEV_STACK_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = tempfile::tempdir().unwrap();
    let (otlp, received) = otlp_receiver().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let issuer = format!("http://{addr}");
    let mut child = Command::new(CLAIMFLOW)
        .arg("dev")
        .env("CLAIMFLOW_DATA_DIR", data.path())
        .env("CLAIMFLOW_HTTP_ADDR", &addr)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("NATS_URL")
        .env_remove("DATABASE_URL")
        .env_remove("CLAIMFLOW_ADMIN_CLIENT_ID")
        .env_remove("CLAIMFLOW_ADMIN_CLIENT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("claimflow dev starts");
    let stdout = child.stdout.take().unwrap();
    let dev = Dev { child };
    let banner = tokio::task::spawn_blocking(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Press Ctrl-C") {
                break;
            }
        }
        banner
    })
    .await
    .unwrap();
    assert!(banner.contains(&format!("issuer         {issuer}")), "{banner}");

    let credentials: Value =
        serde_json::from_slice(&std::fs::read(data.path().join("admin-credentials.json")).unwrap()).unwrap();
    let admin_id = credentials["client_id"].as_str().unwrap().to_owned();
    let admin_secret = credentials["client_secret"].as_str().unwrap().to_owned();
    assert!(banner.contains(&admin_id) && banner.contains(&admin_secret), "the banner shows the admin credentials");

    let deploy = |dir: std::path::PathBuf| {
        Command::new(CLAIMFLOW)
            .arg("deploy")
            .arg(dir)
            .env("CLAIMFLOW_ISSUER", &issuer)
            .env("CLAIMFLOW_CLIENT_ID", &admin_id)
            .env("CLAIMFLOW_CLIENT_SECRET", &admin_secret)
            .output()
            .unwrap()
    };
    let output = deploy(repo_root().join("examples/m2m-hello"));
    assert!(output.status.success(), "deploy failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("m2mHello"));

    // A broken project is refused with the file and line, and exits non-zero.
    let broken = tempfile::tempdir().unwrap();
    let workflow_dir = broken.path().join("kindeSrc/environment/workflows/broken");
    std::fs::create_dir_all(&workflow_dir).unwrap();
    std::fs::write(
        workflow_dir.join("Workflow.ts"),
        "export const workflowSettings = {\n  id: 'x',\n  trigger: 'nope',\n};\nexport default async function () {}\n",
    )
    .unwrap();
    let output = deploy(broken.path().to_owned());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kindeSrc/environment/workflows/broken/Workflow.ts:3:12:"), "{stderr}");
    assert!(stderr.contains("\"nope\""), "{stderr}");

    // The M2M path with plain HTTP, as try.sh does.
    let http = reqwest::Client::new();
    let token = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let issuer = issuer.clone();
        async move {
            let response = http.post(format!("{issuer}/oauth2/token")).form(&form).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let management = token(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", admin_id.clone()),
        ("client_secret", admin_secret.clone()),
        ("audience", format!("{issuer}/api")),
    ])
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |path: &str, body: Value| {
        http.post(format!("{issuer}/api/v1/{path}")).bearer_auth(&management).json(&body).send()
    };
    let api: Value = call("apis", json!({"name": "Acme", "audience": "acme"})).await.unwrap().json().await.unwrap();
    let app: Value = call("applications", json!({"name": "svc", "type": "m2m"})).await.unwrap().json().await.unwrap();
    let client_id = app["application"]["client_id"].as_str().unwrap().to_owned();
    let client_secret = app["application"]["client_secret"].as_str().unwrap().to_owned();
    let authorized = http
        .patch(format!("{issuer}/api/v1/apis/{}/applications", api["api"]["id"].as_str().unwrap()))
        .bearer_auth(&management)
        .json(&json!({"applications": [{"id": client_id}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response: Value = http
        .post(format!("{issuer}/oauth2/token"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("audience", "acme"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = response["access_token"].as_str().expect("a token");
    let payload = access_token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["hello"], "world");
    assert_eq!(claims["applicationId"], client_id);

    // The spans of that request reach the OTLP receiver.
    let wanted = ["POST /oauth2/token", "run workflow m2mHello", "signer.issue"];
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut names: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        names = span_names(&received.lock().unwrap(), trace_id);
        if wanted.iter().all(|w| names.iter().any(|n| n == w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in wanted {
        assert!(names.iter().any(|n| n == w), "span {w:?} not exported for the trace: {names:?}");
    }

    // The workflow lifecycle from the CLI: list, redeploy, roll back, runs.
    let cli = |args: &[&str]| {
        let output = Command::new(CLAIMFLOW)
            .args(args)
            .env("CLAIMFLOW_ISSUER", &issuer)
            .env("CLAIMFLOW_CLIENT_ID", &admin_id)
            .env("CLAIMFLOW_CLIENT_SECRET", &admin_secret)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "claimflow {args:?}: {}{stdout}", String::from_utf8_lossy(&output.stderr));
        stdout
    };
    let listed = cli(&["workflows", "list"]);
    assert!(listed.lines().any(|l| l.starts_with("m2mHello") && l.contains(" yes ")), "{listed}");
    let output = deploy(repo_root().join("examples/m2m-hello"));
    assert!(output.status.success());
    let listed: Value = serde_json::from_str(&cli(&["workflows", "list", "--json"])).unwrap();
    let live: Vec<i64> = listed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["live"] == true)
        .map(|d| d["version"].as_i64().unwrap())
        .collect();
    assert_eq!(live, [2]);
    assert!(cli(&["workflows", "rollback", "m2mHello", "--version", "1"]).contains("version 1 is live"));
    let listed: Value = serde_json::from_str(&cli(&["workflows", "list", "--json"])).unwrap();
    let live: Vec<i64> = listed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["live"] == true)
        .map(|d| d["version"].as_i64().unwrap())
        .collect();
    assert_eq!(live, [1]);
    let runs: Value = serde_json::from_str(&cli(&["runs", "list", "--workflow", "m2mHello", "--json"])).unwrap();
    let run_id = runs["runs"][0]["id"].as_str().expect("a recorded run").to_owned();
    let shown = cli(&["runs", "show", &run_id]);
    assert!(shown.contains("stamped token for") && shown.contains("hello = \"world\""), "{shown}");
    assert!(cli(&["runs", "list"]).contains(&run_id));

    // The audit of that traced token: by jti, with its client, its workflow and its trace.
    let jti = claims["jti"].as_str().unwrap();
    let audited: Value = serde_json::from_str(&cli(&["audit", "--jti", jti, "--json"])).unwrap();
    let record = &audited["tokens"][0];
    assert_eq!((record["client_id"].as_str(), record["trace_id"].as_str()), (Some(client_id.as_str()), Some(trace_id)));
    assert_eq!(record["workflows"], json!([{ "workflow_id": "m2mHello", "version": 1 }]), "{record}");
    let table = cli(&["audit", "--client", &client_id]);
    assert!(table.contains(jti) && table.contains("m2mHello v1"), "{table}");

    // The local loop: run the workflow against an event, see the claims, issue nothing.
    let event = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        event.path(),
        json!({
            "request": { "auth": { "audience": ["acme"] }, "ip": "127.0.0.1" },
            "context": { "domains": { "kindeDomain": issuer }, "workflow": { "trigger": "m2m:token_generation" }, "application": { "clientId": "local-client" } },
        })
        .to_string(),
    )
    .unwrap();
    let workflow_file = repo_root().join("examples/m2m-hello/kindeSrc/environment/workflows/hello/Workflow.ts");
    let local = cli(&["run", workflow_file.to_str().unwrap(), "--event", event.path().to_str().unwrap()]);
    assert!(local.contains("+ hello: \"world\"") && local.contains("+ applicationId: \"local-client\""), "{local}");
    let before = serde_json::from_str::<Value>(&cli(&["runs", "list", "--json", "--limit", "500"])).unwrap()["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, runs["runs"].as_array().unwrap().len(), "a local run records nothing on the server");

    // A user:tokens_generation workflow runs locally against both tokens, under the signer's rules.
    let user_event = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        user_event.path(),
        json!({
            "request": { "auth": { "audience": [] }, "ip": "127.0.0.1" },
            "context": {
                "domains": { "kindeDomain": issuer }, "workflow": { "trigger": "user:tokens_generation" },
                "application": { "clientId": "web" }, "user": { "id": "kp_123", "identityId": "identity_123" },
                "auth": { "origin": "authorization_request", "connectionId": "conn_password", "isExistingSession": false },
            },
        })
        .to_string(),
    )
    .unwrap();
    let user_workflow = tempfile::Builder::new().suffix(".ts").tempfile().unwrap();
    std::fs::write(
        user_workflow.path(),
        r#"import { WorkflowSettings, WorkflowTrigger, accessTokenCustomClaims, idTokenCustomClaims } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "userLocal",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: { "kinde.accessToken": {}, "kinde.idToken": {} },
};
export default async function Workflow(event: any) {
  accessTokenCustomClaims<{ companyName: string }>().companyName = "Acme";
  const id = idTokenCustomClaims<{ house: string; auth_time: number }>();
  id.house = `house of ${event.context.user.id}`;
  id.auth_time = 1;
}
"#,
    )
    .unwrap();
    let local = cli(&["run", user_workflow.path().to_str().unwrap(), "--event", user_event.path().to_str().unwrap()]);
    assert!(local.contains("+ companyName: \"Acme\""), "{local}");
    assert!(local.contains("ID token claims") && local.contains("+ house: \"house of kp_123\""), "{local}");
    assert!(local.contains("! auth_time (id token) dropped by the signer: claim is prohibited"), "{local}");

    // kinde.json's rootDir is honoured, and workflow files are found whatever their case.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("kinde.json"), r#"{ "version": "2024-12-09", "rootDir": "src/kinde" }"#)
        .unwrap();
    let nested = project.path().join("src/kinde/environment/workflows/tenants/stamp");
    std::fs::create_dir_all(&nested).unwrap();
    // It imports a project file outside rootDir, which imports another: both are deployed with it.
    let source = std::fs::read_to_string(&workflow_file)
        .unwrap()
        .replace("m2mHello", "m2mStamp")
        .replace(
            "\nexport const workflowSettings",
            "\nimport { stamp } from \"../../../../../../lib/stamp\";\nexport const workflowSettings",
        )
        .replace("\"world\"", "stamp()");
    assert!(source.contains("stamp()"), "{source}");
    std::fs::write(nested.join("workflow.TS"), source).unwrap();
    std::fs::create_dir_all(project.path().join("lib/nested")).unwrap();
    std::fs::write(
        project.path().join("lib/stamp.ts"),
        "import { word } from './nested/index.js';\nexport const stamp = (): string => `stamped ${word}`;\n",
    )
    .unwrap();
    std::fs::write(project.path().join("lib/nested/index.ts"), "export const word: string = 'by a helper';\n").unwrap();
    std::fs::write(project.path().join("lib/unused.ts"), "this is not imported, so never read or sent;\n").unwrap();
    let stamped =
        cli(&["run", nested.join("workflow.TS").to_str().unwrap(), "--event", event.path().to_str().unwrap()]);
    assert!(stamped.contains("+ hello: \"stamped by a helper\""), "{stamped}");
    let output = deploy(project.path().to_owned());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("m2mStamp") && table.contains("src/kinde/environment/workflows/tenants/stamp/workflow.TS"),
        "{table}"
    );
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(
        progress.contains("found 1 workflow file(s)") && progress.contains("importing 2 project file(s)"),
        "{progress}"
    );
    let response = token(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client_id.clone()),
        ("client_secret", client_secret.clone()),
        ("audience", "acme".into()),
    ])
    .await;
    let payload = response["access_token"].as_str().expect("a token").split('.').nth(1).unwrap().to_owned();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["hello"], "stamped by a helper", "{claims}");

    // An import the project cannot satisfy is refused where it is written.
    std::fs::remove_file(project.path().join("lib/nested/index.ts")).unwrap();
    let output = deploy(project.path().to_owned());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lib/stamp.ts:1:22: cannot import \"./nested/index.js\""), "{stderr}");

    // The deployment's signing keys: one active; a rotation publishes the next one.
    let listed = cli(&["keys", "list"]);
    assert_eq!(listed.matches(" active ").count(), 1, "{listed}");
    let rotated: Value = serde_json::from_str(&cli(&["keys", "rotate", "--json"])).unwrap();
    let states: Vec<&str> = rotated["keys"].as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["next", "active"], "{rotated}");
    let next = rotated["keys"][0]["kid"].as_str().unwrap().to_owned();
    let revoked = cli(&["keys", "revoke", &next]);
    assert!(revoked.contains(&next) && revoked.contains("revoked"), "{revoked}");

    // SIGTERM stops the stack gracefully.
    let mut dev = dev;
    let status = Command::new("kill").arg("-TERM").arg(dev.child.id().to_string()).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = dev.child.try_wait().unwrap() {
            assert!(status.success(), "claimflow dev exited with {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "claimflow dev did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn span_names(bodies: &[Value], trace_id: &str) -> Vec<String> {
    let mut names = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    if span["traceId"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(trace_id)) {
                        names.push(span["name"].as_str().unwrap_or_default().to_owned());
                    }
                }
            }
        }
    }
    names
}

/// The process ids of `parent`'s children named `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let comm = head.split_once('(').map(|(_, comm)| comm).unwrap_or_default();
        let ppid = rest.split_whitespace().nth(1).and_then(|ppid| ppid.parse::<u32>().ok());
        if comm == name && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::await_holding_lock)] // held on purpose, for the whole test
async fn dev_stops_and_reaps_its_broker_when_the_broker_dies() {
    let _one_at_a_time = ONE_DEV_STACK_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(CLAIMFLOW)
        .arg("dev")
        .env("CLAIMFLOW_DATA_DIR", data.path())
        .env("CLAIMFLOW_HTTP_ADDR", &addr)
        .env("CLAIMFLOW_DRAIN_TIMEOUT_SECS", "3")
        .env_remove("NATS_URL")
        .env_remove("DATABASE_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("claimflow dev starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut dev = Dev { child };
    let errors =
        tokio::task::spawn_blocking(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find(|line| line.contains("Press Ctrl-C"))
    })
    .await
    .unwrap()
    .expect("claimflow dev says it is running");
    let broker = children_named(dev.child.id(), "nats-server");
    assert_eq!(broker.len(), 1, "one nats-server child: {broker:?}");
    let broker = broker[0];

    assert!(Command::new("kill").arg("-KILL").arg(broker.to_string()).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = dev.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "claimflow dev kept running without its broker");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "a dead broker is an error: {status}");
    let errors = errors.await.unwrap().join("\n");
    assert!(errors.contains("nats-server child process exited"), "{errors}");
    // Reaped: no zombie left behind (a zombie keeps its /proc entry).
    let state = std::fs::read_to_string(format!("/proc/{broker}/stat")).unwrap_or_default();
    assert!(!state.contains(") Z "), "nats-server left as a zombie: {state}");
}

/// `claimflow run` of a sign-in trigger: no token, what the workflow decided about the sign-in.
#[test]
fn a_local_run_of_a_pre_mfa_workflow_prints_the_policy_it_sets() {
    let project = tempfile::tempdir().unwrap();
    let workflow = project.path().join("Workflow.ts");
    std::fs::write(
        &workflow,
        r#"import { WorkflowSettings, WorkflowTrigger, onUserPreMFA, setEnforcementPolicy } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = { id: "mfa", trigger: WorkflowTrigger.UserPreMFA, bindings: { "kinde.mfa": {} } };
export default async function mfa(event: onUserPreMFA) {
  console.log(`policy ${event.context.mfa.policy} from the ${event.context.mfa.context}`);
  if (event.context.organization?.code === "org_relaxed") setEnforcementPolicy("skip");
}
"#,
    )
    .unwrap();
    let event = |org: &str| {
        let file = project.path().join(format!("{org}.json"));
        let body = json!({
            "request": { "ip": "127.0.0.1", "auth": { "audience": [] } },
            "context": {
                "domains": { "kindeDomain": "https://id.example.com" },
                "workflow": { "trigger": "user:pre_mfa" },
                "application": { "clientId": "local-client" },
                "auth": { "connectionId": "conn_password" },
                "user": { "id": "kp_1", "identityId": "identity_1" },
                "organization": { "code": org },
                "mfa": { "policy": "required", "context": "environment", "enabled_factors": ["mfa:authenticator_app"],
                         "isUserRoleExempt": false, "isUserConnectionExempt": false },
            },
        });
        std::fs::write(&file, body.to_string()).unwrap();
        file
    };
    let run = |event: std::path::PathBuf| {
        let output = Command::new(CLAIMFLOW)
            .args(["run", workflow.to_str().unwrap(), "--event", event.to_str().unwrap()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "claimflow run: {}{stdout}", String::from_utf8_lossy(&output.stderr));
        stdout
    };
    let relaxed = run(event("org_relaxed"));
    assert!(relaxed.contains("[log] policy required from the environment"), "{relaxed}");
    assert!(relaxed.contains("MFA for this sign-in: skip"), "{relaxed}");
    let strict = run(event("org_strict"));
    assert!(!strict.contains("MFA for this sign-in"), "no change: {strict}");
    assert!(!strict.contains("claims"), "a sign-in trigger makes no token: {strict}");
}
