//! Encryption at rest for secrets (environment variables, signing keys): AES-256-GCM with a random 96-bit nonce
//! per value, stored as `base64(nonce || ciphertext)`. The key comes from
//! `CLAIMFLOW_SECRETS_KEY` (32 bytes, base64) or is generated once into
//! `<data dir>/secrets.key` (mode 0600).

use crate::config::{self, ConfigError};
use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    Aes256Gcm,
};
use base64::{engine::general_purpose::STANDARD, Engine};

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

/// A 256-bit key from the environment variable `variable` (base64), else from `file`, which is
/// created with a new random key (mode 0600) when missing.
pub fn load_or_generate_key(variable: &str, file: &std::path::Path) -> Result<[u8; 32], ConfigError> {
    let decode = |variable: &str, text: &str| -> Result<[u8; 32], ConfigError> {
        STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| ConfigError::new(variable, "must be 32 bytes, base64-encoded (openssl rand -base64 32)"))
    };
    if let Some(key) = config::var(variable) {
        return decode(variable, &key);
    }
    match std::fs::read_to_string(file) {
        Ok(text) => decode("CLAIMFLOW_DATA_DIR", &text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = Aes256Gcm::generate_key(OsRng).into();
            config::write_private_file(file, STANDARD.encode(key).as_bytes()).map_err(|err| {
                ConfigError::new("CLAIMFLOW_DATA_DIR", format!("cannot write {}: {err}", file.display()))
            })?;
            Ok(key)
        }
        Err(err) => Err(ConfigError::new("CLAIMFLOW_DATA_DIR", format!("cannot read {}: {err}", file.display()))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be decrypted (was CLAIMFLOW_SECRETS_KEY changed?)")]
pub struct DecryptError;

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> SecretBox {
        SecretBox { cipher: Aes256Gcm::new(&(*key).into()) }
    }

    /// The key from `CLAIMFLOW_SECRETS_KEY`, else `<data dir>/secrets.key`, created if missing.
    pub fn from_env_or_data_dir(data_dir: &std::path::Path) -> Result<SecretBox, ConfigError> {
        Ok(SecretBox::from_key(&load_or_generate_key("CLAIMFLOW_SECRETS_KEY", &data_dir.join("secrets.key"))?))
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self.cipher.encrypt(&nonce, plaintext.as_bytes()).expect("AES-GCM encryption does not fail");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&ciphertext);
        STANDARD.encode(stored)
    }

    pub fn open(&self, stored: &str) -> Result<String, DecryptError> {
        let bytes = STANDARD.decode(stored).map_err(|_| DecryptError)?;
        if bytes.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| DecryptError)?;
        let plaintext = self.cipher.decrypt(&nonce.into(), ciphertext).map_err(|_| DecryptError)?;
        String::from_utf8(plaintext).map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let secrets = SecretBox::from_key(&[7; 32]);
        let sealed = secrets.seal("sk_live_123");
        assert!(!sealed.contains("sk_live_123"));
        assert_ne!(sealed, secrets.seal("sk_live_123"), "nonces differ");
        assert_eq!(secrets.open(&sealed).unwrap(), "sk_live_123");
        assert!(SecretBox::from_key(&[8; 32]).open(&sealed).is_err());
    }
}
