//! The signer's keys: created on first start, kept as PKCS#8 PEM files readable only by the
//! signer, parsed once into aws-lc-rs key pairs, published as a JWK set. Private keys never leave
//! this module.
//!
//! A JWT is assembled here rather than by a JWT crate: such crates re-parse (and re-validate)
//! the private key on every signature, which costs more than the signature itself. The header
//! of each key is constant, so it is encoded once; a token is that header, the claims and one
//! signature, each base64url.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_contracts::Claims;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signing key {path} is not a PKCS#8 RSA, P-256 or Ed25519 private key: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("cannot generate a {alg} key: {message}")]
    Generate { alg: SigningAlgorithm, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the claims cannot be encoded as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the {0} signature failed")]
    Sign(SigningAlgorithm),
}

/// The JWS algorithms claimflow signs with (`CLAIMFLOW_SIGNING_ALG`). RS256 is the default, as
/// in Kinde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    #[default]
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg` of the header and of the JWK).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_uppercase().as_str() {
            "RS256" => Ok(SigningAlgorithm::Rs256),
            "ES256" => Ok(SigningAlgorithm::Es256),
            "EDDSA" => Ok(SigningAlgorithm::EdDsa),
            _ => Err(format!("{name:?} is not supported; use RS256 (the default), ES256 or EdDSA")),
        }
    }
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlgorithm,
    key: PrivateKey,
    /// `base64url({"alg":…,"kid":…,"typ":"JWT"})`, the same for every token this key signs.
    encoded_header: String,
    jwk: serde_json::Value,
    random: SystemRandom,
}

/// All keys found on disk; the newest key of the configured algorithm signs, all are published
/// (so tokens signed before a rotation, or with another algorithm, still verify).
pub struct KeyRing {
    /// Oldest first.
    keys: Vec<SigningKey>,
    active: usize,
}

impl KeyRing {
    /// Loads `dir/*.pem`, creating a key of `alg` when there is none.
    pub fn load_or_create(dir: &Path, alg: SigningAlgorithm) -> Result<KeyRing, KeyError> {
        let io = |source| KeyError::Io { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
            .collect();
        // NOTE: file names start with the creation time, so sorting puts the newest last.
        paths.sort();
        let mut keys = paths.iter().map(|path| load_key(path)).collect::<Result<Vec<_>, _>>()?;
        if !keys.iter().any(|key| key.alg == alg) {
            keys.push(load_key(&create_key(dir, alg)?)?);
        }
        let active = keys.iter().rposition(|key| key.alg == alg).expect("a key of the algorithm exists");
        Ok(KeyRing { keys, active })
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    /// The public keys, the active one first, then the others newest first.
    pub fn jwks(&self) -> serde_json::Value {
        let others = self.keys.iter().enumerate().rev().filter(|(index, _)| *index != self.active);
        let keys: Vec<serde_json::Value> =
            std::iter::once(self.active()).chain(others.map(|(_, key)| key)).map(|key| key.jwk.clone()).collect();
        serde_json::json!({ "keys": keys })
    }
}

impl SigningKey {
    /// A compact JWS of `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        let payload = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let failed = |_| SignError::Sign(self.alg);
        let signature = match &self.key {
            PrivateKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &self.random, token.as_bytes(), &mut signature)
                    .map_err(failed)?;
                signature
            }
            PrivateKey::Ecdsa(key) => key.sign(&self.random, token.as_bytes()).map_err(failed)?.as_ref().to_vec(),
            PrivateKey::Ed25519(key) => key.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

fn create_key(dir: &Path, alg: SigningAlgorithm) -> Result<PathBuf, KeyError> {
    let failed = |message: String| KeyError::Generate { alg, message };
    let pkcs8: Vec<u8> = match alg {
        SigningAlgorithm::Rs256 => {
            let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|err| failed(err.to_string()))?;
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)
                .map_err(|err| failed(err.to_string()))?
                .as_ref()
                .to_vec()
        }
        SigningAlgorithm::Es256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|key| key.to_pkcs8v1())
            .map_err(|err| failed(err.to_string()))?
            .as_ref()
            .to_vec(),
        SigningAlgorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|key| key.to_pkcs8v1())
            .map_err(|err| failed(err.to_string()))?
            .as_ref()
            .to_vec(),
    };
    let (_, kid) = parse_key(&pkcs8).map_err(failed)?;
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
    let created =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let path = dir.join(format!("{created:012}-{kid}.pem"));
    claimflow_platform::config::write_private_file(&path, pem.as_bytes())
        .map_err(|source| KeyError::Io { path: path.clone(), source })?;
    tracing::info!(path = %path.display(), %alg, "created a new signing key");
    Ok(path)
}

fn load_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
    let decode = |message: String| KeyError::Decode { path: path.to_owned(), message };
    let pem = pem::parse(&text).map_err(|err| decode(err.to_string()))?;
    if pem.tag() != "PRIVATE KEY" {
        return Err(decode(format!("the PEM block is {:?}, not \"PRIVATE KEY\"", pem.tag())));
    }
    let (key, kid) = parse_key(pem.contents()).map_err(decode)?;
    let alg = match &key {
        PrivateKey::Rsa(_) => SigningAlgorithm::Rs256,
        PrivateKey::Ecdsa(_) => SigningAlgorithm::Es256,
        PrivateKey::Ed25519(_) => SigningAlgorithm::EdDsa,
    };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut jwk = match &key {
        PrivateKey::Rsa(key) => {
            let public = key.public_key();
            serde_json::json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            })
        }
        PrivateKey::Ecdsa(key) => {
            // NOTE: an uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
            let point = key.public_key().as_ref();
            serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) })
        }
        PrivateKey::Ed25519(key) => {
            serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref()) })
        }
    };
    jwk["use"] = "sig".into();
    jwk["alg"] = alg.as_str().into();
    jwk["kid"] = kid.clone().into();
    let header = serde_json::json!({ "alg": alg.as_str(), "kid": kid, "typ": "JWT" });
    Ok(SigningKey {
        encoded_header: URL_SAFE_NO_PAD.encode(header.to_string()),
        kid,
        alg,
        key,
        jwk,
        random: SystemRandom::new(),
    })
}

/// A PKCS#8 document as whichever key type it holds, with its key id.
fn parse_key(pkcs8: &[u8]) -> Result<(PrivateKey, String), String> {
    let key = if let Ok(key) = RsaKeyPair::from_pkcs8(pkcs8) {
        PrivateKey::Rsa(key)
    } else if let Ok(key) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8) {
        PrivateKey::Ecdsa(key)
    } else {
        PrivateKey::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|err| err.to_string())?)
    };
    let kid = match &key {
        PrivateKey::Rsa(key) => fingerprint(key.public_key().modulus().big_endian_without_leading_zero()),
        PrivateKey::Ecdsa(key) => fingerprint(key.public_key().as_ref()),
        PrivateKey::Ed25519(key) => fingerprint(key.public_key().as_ref()),
    };
    Ok((key, kid))
}

/// The key id: the first 16 bytes of SHA-256 over the public key (an RSA key's modulus, an EC
/// key's point, an Ed25519 key's bytes), base64url.
fn fingerprint(public: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        serde_json::json!({ "sub": "client", "aud": ["api"], "exp": 4_102_444_800u64, "hello": "world" })
            .as_object()
            .unwrap()
            .clone()
    }

    /// Verifies with jsonwebtoken, an independent JOSE implementation, from the published JWK.
    fn verify(ring: &KeyRing, token: &str) -> serde_json::Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(ring.jwks()).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the kid is published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["api"]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap().claims
    }

    #[test]
    fn every_algorithm_signs_tokens_that_verify_against_its_jwk() {
        for alg in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let dir = tempfile::tempdir().unwrap();
            let ring = KeyRing::load_or_create(dir.path(), alg).unwrap();
            assert_eq!(ring.active().alg, alg);
            let token = ring.active().sign(&claims()).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(format!("{:?}", header.alg).to_uppercase(), alg.as_str().to_uppercase());
            assert_eq!(header.kid.as_deref(), Some(ring.active().kid.as_str()));
            assert_eq!(verify(&ring, &token)["hello"], "world");
            assert_eq!(ring.jwks()["keys"][0]["alg"], alg.as_str());
        }
    }

    #[test]
    fn keys_survive_a_restart_and_another_algorithm_adds_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeyRing::load_or_create(dir.path(), SigningAlgorithm::Rs256).unwrap();
        let token = first.active().sign(&claims()).unwrap();
        let again = KeyRing::load_or_create(dir.path(), SigningAlgorithm::Rs256).unwrap();
        assert_eq!(again.active().kid, first.active().kid, "the same key after a restart");
        let switched = KeyRing::load_or_create(dir.path(), SigningAlgorithm::Es256).unwrap();
        assert_eq!(switched.active().alg, SigningAlgorithm::Es256);
        assert_eq!(switched.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(verify(&switched, &token)["hello"], "world", "tokens of the old key still verify");
    }

    #[test]
    fn an_unknown_algorithm_names_the_choices() {
        let err = "HS256".parse::<SigningAlgorithm>().unwrap_err();
        assert!(err.contains("RS256") && err.contains("ES256") && err.contains("EdDSA"), "{err}");
        assert_eq!("eddsa".parse::<SigningAlgorithm>(), Ok(SigningAlgorithm::EdDsa));
    }

    #[test]
    fn a_key_file_that_is_not_a_private_key_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000000001-broken.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let err = KeyRing::load_or_create(dir.path(), SigningAlgorithm::Rs256).err().unwrap().to_string();
        assert!(err.contains("000000000001-broken.pem"), "{err}");
    }
}
