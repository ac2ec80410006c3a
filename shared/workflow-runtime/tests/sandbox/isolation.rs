//! What one run leaves behind never reaches the next, and no run holds up another.

use super::*;

#[tokio::test]
async fn nothing_a_run_does_is_visible_to_the_next_run() {
    let first = run("globalThis.leak = 42; export default async function () {}", &[]).await;
    assert_eq!(first.status, RunStatus::Ok);
    let second = run(
        r#"export default async function () { kinde.m2mToken.setCustomClaim("leak", typeof globalThis.leak); }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(m2m_claims(&second)["leak"], "undefined");
}

/// An engine of one thread: consecutive runs are served by the same warm isolate, so what one
/// run leaves behind is what the next would see.
fn one_isolate() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(1).expect("engine starts"))
}

async fn run_on_one_isolate(code: &str) -> RunOutcome {
    one_isolate().run(request(code, &["kinde.m2mToken"], Limits::default())).await.expect("engine runs")
}

#[tokio::test]
async fn globals_prototypes_and_module_state_do_not_reach_the_next_run_on_the_same_isolate() {
    let polluting = r#"
        let calls = 0;
        globalThis.leak = "secret";
        Object.prototype.polluted = "yes";
        Array.prototype.push = function () { return "hijacked"; };
        JSON.parse = () => ({ forged: true });
        export default async function () { calls += 1; kinde.m2mToken.setCustomClaim("calls", calls); }
    "#;
    let observing = r#"
        let calls = 0;
        export default async function () {
            calls += 1;
            const probe = [];
            probe.push(1);
            kinde.m2mToken.setCustomClaim("calls", calls);
            kinde.m2mToken.setCustomClaim("leak", typeof globalThis.leak);
            kinde.m2mToken.setCustomClaim("polluted", ({}).polluted ?? "no");
            kinde.m2mToken.setCustomClaim("push", probe.length);
            kinde.m2mToken.setCustomClaim("json", JSON.parse('{"a":1}').a ?? "forged");
        }
    "#;
    for _ in 0..3 {
        let polluted = run_on_one_isolate(polluting).await;
        assert_eq!(polluted.status, RunStatus::Ok, "{:?}", polluted.error);
        assert_eq!(m2m_claims(&polluted)["calls"], 1, "module state starts afresh");
        let observed = run_on_one_isolate(observing).await;
        assert_eq!(observed.status, RunStatus::Ok, "{:?}", observed.error);
        let observed = m2m_claims(&observed);
        assert_eq!(observed["calls"], 1);
        assert_eq!(observed["leak"], "undefined");
        assert_eq!(observed["polluted"], "no");
        assert_eq!(observed["push"], 1);
        assert_eq!(observed["json"], 1);
    }
}

#[tokio::test]
async fn a_short_time_limit_holds_after_a_run_with_a_long_one() {
    let long = Limits { wall_time: Duration::from_secs(30), ..Limits::default() };
    let quick = one_isolate().run(request("export default async function () {}", &[], long)).await.unwrap();
    assert_eq!(quick.status, RunStatus::Ok);
    let short = Limits { wall_time: Duration::from_millis(200), ..Limits::default() };
    let looping =
        one_isolate().run(request("export default async function () { while (true) {} }", &[], short)).await.unwrap();
    assert_eq!(looping.status, RunStatus::TimedOut);
    assert!(
        looping.duration < Duration::from_secs(10),
        "stopped at its own limit, not the earlier run's: {:?}",
        looping.duration
    );
}

#[tokio::test]
async fn the_event_and_the_claims_are_ordinary_objects() {
    let outcome = run(
        r#"export default async function (event) {
            kinde.m2mToken.setCustomClaim("own", event.hasOwnProperty("context") && event.context.application.hasOwnProperty("clientId"));
            kinde.m2mToken.setCustomClaim("proto", Object.getPrototypeOf(event) === Object.prototype);
            kinde.m2mToken.setCustomClaim("claims", Object.getPrototypeOf(kinde.m2mToken.getCustomClaims()) === Object.prototype);
            kinde.m2mToken.setCustomClaim("array", Array.isArray(event.request.auth.audience) && event.request.auth.audience.includes("acme"));
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    for name in ["own", "proto", "claims", "array"] {
        assert_eq!(claims[name], true, "{name}: {:?}", outcome.error);
    }
}

#[tokio::test]
async fn what_could_outlive_a_run_is_not_there() {
    let outcome = run(
        r#"export default async function () {
            for (const name of ["WebAssembly", "FinalizationRegistry", "WeakRef", "SharedArrayBuffer", "Atomics"]) {
                kinde.m2mToken.setCustomClaim(name, typeof globalThis[name]);
            }
            kinde.m2mToken.setCustomClaim("import", await import("@kinde/infrastructure").then(() => "loaded", (e) => "refused"));
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    for name in ["WebAssembly", "FinalizationRegistry", "WeakRef", "SharedArrayBuffer", "Atomics"] {
        assert_eq!(claims[name], "undefined", "{name}");
    }
    assert_eq!(claims["import"], "refused", "dynamic import() is not available");
}

#[tokio::test]
async fn a_promise_that_can_never_settle_fails_the_run_at_once() {
    let limits = Limits { wall_time: Duration::from_secs(30), ..Limits::default() };
    let outcome = run_with("export default async function () { await new Promise(() => {}); }", &[], limits).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("never settled"), "{:?}", outcome.error);
}

#[tokio::test]
async fn an_endless_loop_holds_up_no_other_run() {
    // Two isolate threads: one is stuck in the loop until its limit, the other serves the rest.
    let engine = Engine::start(2).expect("engine starts");
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let looping = {
        let (engine, finished) = (engine.clone(), finished.clone());
        let limits = Limits { wall_time: Duration::from_millis(1500), ..Limits::default() };
        tokio::spawn(async move {
            let outcome =
                engine.run(request("export default async function () { while (true) {} }", &[], limits)).await;
            finished.lock().unwrap().push("loop");
            outcome.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..20 {
        let quick = engine
            .run(request(
                r#"export default async function () { kinde.m2mToken.setCustomClaim("ok", 1); }"#,
                &["kinde.m2mToken"],
                Limits::default(),
            ))
            .await
            .unwrap();
        assert_eq!(quick.status, RunStatus::Ok);
        finished.lock().unwrap().push("quick");
    }
    assert_eq!(looping.await.unwrap().status, RunStatus::TimedOut);
    let order = finished.lock().unwrap().clone();
    assert_eq!(order.last(), Some(&"loop"), "every quick run finished while the loop was still running: {order:?}");
}
