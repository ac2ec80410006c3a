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
