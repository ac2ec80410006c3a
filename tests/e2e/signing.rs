//! Signing algorithms: RS256 by default, ES256 and EdDSA by configuration, each published in the
//! JWKS and the discovery document and verified by a real JOSE library (jose, from npm).

use std::process::Command;

use claimflow_e2e::{npm_bin, Stack, StackOptions};
use signer::keys::SigningAlgorithm;

/// Verifies `token` with jose's `jwtVerify` against the issuer's JWKS URL, as a resource server
/// would; returns the protected header's alg.
async fn verify_with_jose(stack: &Stack, token: &str, audience: &str) -> String {
    let _ = npm_bin("esbuild");
    let script = r#"
        import { createRemoteJWKSet, jwtVerify } from "jose";
        const [issuer, token, audience] = process.argv.slice(1);
        const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
        const { protectedHeader, payload } = await jwtVerify(token, jwks, { issuer, audience });
        console.log(JSON.stringify({ alg: protectedHeader.alg, sub: payload.sub ?? null }));
    "#;
    let mut command = Command::new("node");
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/npm")).args([
        "--input-type=module",
        "-e",
        script,
        &stack.issuer,
        token,
        audience,
    ]);
    // NOTE: off the test's runtime thread, which also serves the JWKS jose fetches.
    let output = tokio::task::spawn_blocking(move || command.output().expect("node runs")).await.unwrap();
    assert!(output.status.success(), "jose refused the token: {}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    result["alg"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn es256_and_eddsa_tokens_verify_through_the_jwks_with_jose() {
    for (alg, name, kty) in [(SigningAlgorithm::Es256, "ES256", "EC"), (SigningAlgorithm::EdDsa, "EdDSA", "OKP")] {
        let stack = Stack::start_with(StackOptions { signing_alg: alg, ..Default::default() }).await;
        let (client_id, secret) = stack.m2m_client_for("acme").await;
        let token = stack.m2m_token(&client_id, &secret, "acme").await.unwrap();
        assert_eq!(verify_with_jose(&stack, token["access_token"].as_str().unwrap(), "acme").await, name);

        let jwks: serde_json::Value =
            stack.http.get(stack.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        assert_eq!(jwks["keys"][0]["alg"], name);
        assert_eq!(jwks["keys"][0]["kty"], kty);
        let discovery: serde_json::Value =
            stack.http.get(stack.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
        assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!([name]), "{discovery}");

        // A user signs in through openid-client: its ID token's signature and at_hash check out.
        stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse battery").await;
        let app = stack.web_app("reg").await;
        let rp = crate::user_tokens::openid_client(&stack, &app, "ada@example.com", "correct horse battery").await;
        assert_eq!(rp["id_signature_verified"], true, "{name}: {rp}");
        assert_eq!(rp["at_hash_verified"], true, "{name}: {rp}");
    }
}

pub(crate) fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.expect("a kid")
}

async fn published_kids(stack: &Stack) -> Vec<String> {
    let jwks: serde_json::Value =
        stack.http.get(stack.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_owned()).collect()
}

fn key_state(listed: &serde_json::Value, kid: &str) -> String {
    let key = listed["keys"].as_array().unwrap().iter().find(|key| key["kid"] == kid);
    key.map(|key| key["state"].as_str().unwrap().to_owned()).unwrap_or_default()
}

/// One set of keys for the whole deployment: signers with their own key directories sign with
/// the same key; a rotation publishes the next key before it signs, and the old one stays
/// published while its tokens live; a revoked key stops verifying at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signers_share_the_deployments_keys_rotate_ahead_of_use_and_revoke_at_once() {
    use reqwest::Method;
    let lead = std::time::Duration::from_secs(2);
    let stack = Stack::start_with(StackOptions { key_publish_lead: lead, ..Default::default() }).await;
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let second_dir = tempfile::tempdir().unwrap();
    let (stop_second, second) = stack.add_signer(second_dir.path());
    let token = || async {
        stack.m2m_token(&client_id, &secret, "acme").await.expect("a token")["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Both signers answer (one queue group); every token has the one key and verifies.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut kids = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let token = token().await;
        stack.verify(&token, "acme").await.expect("verifies through the JWKS");
        kids.insert(kid_of(&token));
    }
    assert_eq!(kids.len(), 1, "one key for both signers: {kids:?}");
    let first = kids.into_iter().next().unwrap();
    assert_eq!(published_kids(&stack).await, std::slice::from_ref(&first));

    // Rotation: the new key is published at once; the old one still signs until the lead time.
    let (status, listed) = stack.management(Method::POST, "signing_keys/rotate", None).await;
    assert_eq!(status, 200, "{listed}");
    let next = listed["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!((key_state(&listed, &next), key_state(&listed, &first)), ("next".into(), "active".into()), "{listed}");
    assert_eq!(published_kids(&stack).await, [first.clone(), next.clone()], "published before it signs");
    let old_token = token().await;
    assert_eq!(kid_of(&old_token), first);
    tokio::time::sleep(lead + std::time::Duration::from_millis(300)).await;
    for _ in 0..10 {
        assert_eq!(kid_of(&token().await), next, "after the lead time, every signer signs with the new key");
    }
    let (_, listed) = stack.management(Method::GET, "signing_keys", None).await;
    assert_eq!(key_state(&listed, &first), "retiring", "{listed}");
    stack.verify(&old_token, "acme").await.expect("the old key's tokens verify while they live");

    // Revocation: unpublished at once, its tokens fail; revoking the signing key puts a new one in.
    let (status, _) = stack.management(Method::DELETE, &format!("signing_keys/{first}"), None).await;
    assert_eq!(status, 200);
    assert!(!published_kids(&stack).await.contains(&first));
    let err = stack.verify(&old_token, "acme").await.expect_err("a revoked key's token");
    assert!(err.to_string().contains("not in the JWKS"), "{err}");
    let (status, _) = stack.management(Method::DELETE, &format!("signing_keys/{next}"), None).await;
    assert_eq!(status, 200);
    let replacement = kid_of(&token().await);
    assert!(replacement != first && replacement != next, "a new key signs at once");
    for _ in 0..10 {
        let token = token().await;
        assert_eq!(kid_of(&token), replacement, "both signers heard of it");
        stack.verify(&token, "acme").await.unwrap();
    }
    let (_, listed) = stack.management(Method::GET, "signing_keys", None).await;
    assert_eq!((key_state(&listed, &first), key_state(&listed, &next)), ("revoked".into(), "revoked".into()));
    let (status, body) = stack.management(Method::DELETE, "signing_keys/nope", None).await;
    assert_eq!(status, 404, "{body}");

    // A signer sealed with another secrets key refuses to start, naming the variable.
    let wrong = signer::Config {
        secrets: auth_service::secret_box::SecretBox::from_key(&[9; 32]),
        health_addr: None,
        ..stack.signer_config()
    };
    let err = signer::run(wrong, tokio_util::sync::CancellationToken::new()).await.expect_err("refused");
    assert!(err.to_string().contains("CLAIMFLOW_SECRETS_KEY"), "{err}");
    stop_second.cancel();
    second.await.unwrap().unwrap();
}

/// A resource server that caches the key set (jose's `createRemoteJWKSet`, its cache shorter than
/// the publication lead, as the JWKS `max-age` 300 s is shorter than the default lead of 600 s:
/// here scaled down to 1 s and 3 s; jose's default 30 s cooldown means an unknown `kid` right
/// after a fetch fails) verifies every token issued across a rotation: 0 failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caching_verifier_sees_no_failure_across_a_rotation_under_load() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let _ = npm_bin("esbuild");
    let lead = std::time::Duration::from_secs(3);
    let stack = Stack::start_with(StackOptions { key_publish_lead: lead, ..Default::default() }).await;
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let script = r#"
        import { createRemoteJWKSet, jwtVerify } from "jose";
        import readline from "node:readline";
        const [issuer] = process.argv.slice(1);
        const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { cacheMaxAge: 1000 });
        for await (const token of readline.createInterface({ input: process.stdin })) {
          try {
            const { protectedHeader } = await jwtVerify(token, jwks, { issuer, audience: "acme" });
            console.log(`ok ${protectedHeader.kid}`);
          } catch (err) {
            console.log(`fail ${err.code ?? err.message}`);
          }
        }
    "#;
    let mut verifier = tokio::process::Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/npm"))
        .args(["--input-type=module", "-e", script, &stack.issuer])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut input = verifier.stdin.take().unwrap();
    let mut output = BufReader::new(verifier.stdout.take().unwrap()).lines();

    let started = std::time::Instant::now();
    // NOTE: the rotation runs beside the load (making a key takes a while), so tokens of the new
    // key come as soon as it signs.
    let rotation = {
        let (http, url, bearer) =
            (stack.http.clone(), stack.url("/api/v1/signing_keys/rotate"), stack.management_token().await);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            http.post(url).bearer_auth(bearer).send().await.map(|response| response.status().as_u16())
        })
    };
    let (mut verified, mut failures, mut kids) = (0, Vec::new(), Vec::<String>::new());
    while started.elapsed() < lead + std::time::Duration::from_secs(3) {
        let token = stack.m2m_token(&client_id, &secret, "acme").await.expect("a token");
        input.write_all(format!("{}\n", token["access_token"].as_str().unwrap()).as_bytes()).await.unwrap();
        let line = output.next_line().await.unwrap().expect("the verifier answers");
        match line.strip_prefix("ok ") {
            Some(kid) => {
                verified += 1;
                if kids.last().map(String::as_str) != Some(kid) {
                    kids.push(kid.to_owned());
                }
            }
            None => failures.push(line),
        }
    }
    assert_eq!(rotation.await.unwrap().expect("rotated"), 200);
    assert!(failures.is_empty(), "{} of {} tokens failed: {failures:?}", failures.len(), verified + failures.len());
    assert_eq!(kids.len(), 2, "tokens of the old key, then of the new one: {kids:?}");
    assert!(verified > 20, "under load: {verified} tokens verified");
}

/// `CLAIMFLOW_KEY_ROTATION_DAYS`, scaled down to a 2 s period: the signers rotate on their own,
/// one of them each time, and every token verifies throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signers_rotate_on_their_own_once_per_period_between_them() {
    let period = std::time::Duration::from_secs(2);
    let options = StackOptions {
        key_rotation: Some(period),
        key_publish_lead: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let stack = Stack::start_with(options).await;
    let second_dir = tempfile::tempdir().unwrap();
    let (stop_second, second) = stack.add_signer(second_dir.path());
    let (client_id, secret) = stack.m2m_client_for("acme").await;
    let started = std::time::Instant::now();
    let mut kids = Vec::<String>::new();
    while started.elapsed() < period * 3 + std::time::Duration::from_millis(500) {
        let token = stack.m2m_token(&client_id, &secret, "acme").await.expect("a token");
        let token = token["access_token"].as_str().unwrap();
        stack.verify(token, "acme").await.expect("every token verifies across the rotations");
        let kid = kid_of(token);
        if kids.last() != Some(&kid) {
            kids.push(kid);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, listed) = stack.management(reqwest::Method::GET, "signing_keys", None).await;
    let keys = listed["keys"].as_array().unwrap();
    assert!(kids.len() >= 3, "a new key about every 2 s: {kids:?}");
    // Two signers, one rotation per period: at most one key per period (and the first).
    assert!(keys.len() <= 5, "one signer of the two rotates each time: {listed}");
    assert_eq!(keys.iter().filter(|key| key["state"] == "active").count(), 1, "{listed}");
    stop_second.cancel();
    second.await.unwrap().unwrap();
}

/// Signers starting together on a new deployment make one first key between them, not one each
/// (each would sign with its own until it next read the keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signers_starting_together_make_one_first_key() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = claimflow_storage::sqlite_url(&dir.path().join("fresh.sqlite"));
    let store = claimflow_storage::Store::open_and_migrate(&database_url).await.unwrap();
    let mut config = stack.signer_config();
    config.common.database_url = database_url;
    config.common.subject_prefix = "fresh.".to_owned();
    config.health_addr = None;
    let stop = tokio_util::sync::CancellationToken::new();
    let signers: Vec<_> = (0..3)
        .map(|n| {
            let config = signer::Config { key_dir: dir.path().join(format!("keys-{n}")), ..config.clone() };
            tokio::spawn(signer::run(config, stop.clone()))
        })
        .collect();
    let started = std::time::Instant::now();
    while store.signing_keys().await.unwrap().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no signer made a key");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Time for the others to have made theirs, had they.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1, "one first key: {:?}", keys.iter().map(|key| &key.kid).collect::<Vec<_>>());
    stop.cancel();
    for signer in signers {
        signer.await.unwrap().unwrap();
    }
}
