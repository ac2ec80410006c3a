//! The signer's RSA keys: created on first start, kept as PKCS#8 PEM files readable only by the
//! signer, published as a JWK set. Private keys never leave this module.

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rsa::{
    pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding},
    traits::PublicKeyParts,
    RsaPrivateKey,
};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signing key {path} is not a PKCS#8 RSA key: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("cannot generate an RSA key: {0}")]
    Generate(String),
}

pub struct SigningKey {
    pub kid: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: serde_json::Value,
}

/// All keys found on disk; the newest signs, all are published (so tokens signed before a
/// rotation still verify).
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// Loads `dir/*.pem`, creating a first key when there is none.
    pub fn load_or_create(dir: &Path) -> Result<KeyRing, KeyError> {
        let io = |source| KeyError::Io { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
            .collect();
        if paths.is_empty() {
            paths.push(create_key(dir)?);
        }
        // NOTE: file names start with the creation time, so sorting puts the newest last.
        paths.sort();
        let keys = paths.iter().map(|path| load_key(path)).collect::<Result<Vec<_>, _>>()?;
        Ok(KeyRing { keys })
    }

    pub fn active(&self) -> &SigningKey {
        self.keys.last().expect("a key ring always holds at least one key")
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().rev().map(|key| key.jwk.clone()).collect::<Vec<_>>() })
    }
}

impl SigningKey {
    pub fn sign(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

fn create_key(dir: &Path) -> Result<PathBuf, KeyError> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|err| KeyError::Generate(err.to_string()))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|err| KeyError::Generate(err.to_string()))?;
    let created =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let path = dir.join(format!("{created:012}-{}.pem", fingerprint(&key)));
    claimflow_platform::config::write_private_file(&path, pem.as_bytes())
        .map_err(|source| KeyError::Io { path: path.clone(), source })?;
    tracing::info!(path = %path.display(), "created a new signing key");
    Ok(path)
}

fn load_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
    let decode = |message: String| KeyError::Decode { path: path.to_owned(), message };
    let key = RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|err| decode(err.to_string()))?;
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|err| decode(err.to_string()))?;
    let kid = fingerprint(&key);
    let jwk = serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    Ok(SigningKey { kid, encoding, jwk })
}

/// The key id: the first 16 bytes of SHA-256 over the modulus, base64url.
fn fingerprint(key: &RsaPrivateKey) -> String {
    let digest = Sha256::digest(key.n().to_bytes_be());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}
