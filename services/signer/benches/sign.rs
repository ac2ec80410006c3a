//! The signer's signing rate on one core, per algorithm, for a typical M2M claim set: the figure
//! `scripts/bench` sets beside `openssl speed rsa2048`. `cargo bench -p signer --bench sign`.

use std::time::{Duration, Instant};

use claimflow_platform::secret_box::SecretBox;
use signer::keys::{new_key, KeyRing, SigningAlgorithm};

fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let claims = serde_json::json!({
        "aud": ["https://api.bench.example"], "azp": "5677b0d1f0a84d2b9d9d5a3f1b2c4e6f", "exp": 1_795_561_366u64,
        "gty": ["client_credentials"], "iat": 1_795_474_966u64, "iss": "http://127.0.0.1:8080",
        "jti": "4dc4a2c8-3f1e-4c1a-9a57-9d1f8f2b7e10", "scope": "", "scp": [], "v": "2",
        "applicationId": "5677b0d1f0a84d2b9d9d5a3f1b2c4e6f", "audience": "https://api.bench.example",
    });
    let claims = claims.as_object().unwrap().clone();
    let mut results = serde_json::Map::new();
    for alg in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
        let secrets = SecretBox::from_key(&[1; 32]);
        let ring = KeyRing::from_rows(&[new_key(alg, &secrets, 0, 0).unwrap()], &secrets, None).unwrap();
        let key = ring.active(alg, 1).unwrap();
        for _ in 0..50 {
            key.sign(&claims).unwrap();
        }
        let started = Instant::now();
        let mut signed = 0u64;
        while started.elapsed() < Duration::from_secs_f64(seconds) {
            for _ in 0..20 {
                std::hint::black_box(key.sign(&claims).unwrap());
            }
            signed += 20;
        }
        let rate = signed as f64 / started.elapsed().as_secs_f64();
        println!("{alg}: {rate:.0} tokens signed/s on one thread ({:.1} us each)", 1e6 / rate);
        results.insert(alg.as_str().to_owned(), rate.into());
    }
    if let Ok(path) = std::env::var("BENCH_JSON") {
        std::fs::write(path, serde_json::Value::Object(results).to_string()).unwrap();
    }
}
