//! Client ids and secrets: generated server-side, secrets stored only as hashes and compared in
//! constant time.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 128 random bits, hex: the shape of Kinde's client ids.
pub fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// 256 random bits, base64url without padding (43 characters).
pub fn new_client_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of the secret, hex. Secrets carry 256 bits of entropy, so a slow password hash
/// would add latency to every token request and no security.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(presented);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_and_verify_only_themselves() {
        let secret = new_client_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
        let stored = hash_secret(&secret);
        assert!(verify_secret(&secret, &stored));
        assert!(!verify_secret("wrong", &stored));
        assert_ne!(new_client_secret(), secret);
    }
}
