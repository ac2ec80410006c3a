//! The signer's keys: one set for the whole deployment, kept in the database with each private
//! key sealed with the secrets key, parsed once into aws-lc-rs key pairs, published as a JWK set.
//! Private keys never leave the signers.
//!
//! A JWT is assembled here rather than by a JWT crate: such crates re-parse (and re-validate)
//! the private key on every signature, which costs more than the signature itself. The header
//! of each key is constant, so it is encoded once; a token is that header, the claims and one
//! signature, each base64url.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    sync::{atomic::Ordering, Arc},
};

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use claimflow_contracts::Claims;
use claimflow_platform::secret_box::SecretBox;
use claimflow_storage::entity::signing_key;

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
    #[error(
        "signing key {kid} cannot be decrypted: every signer needs the CLAIMFLOW_SECRETS_KEY the key was sealed with"
    )]
    Sealed { kid: String },
    #[error("stored signing key {kid} is unusable: {message}")]
    Stored { kid: String, message: String },
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
    /// Published from then on (Unix ms).
    pub created_at: i64,
    /// Signs from then on, until a newer key of its algorithm signs (Unix ms).
    pub signs_from: i64,
    /// The latest `exp` recorded for it (Unix seconds): it stays published until then.
    pub last_exp: std::sync::atomic::AtomicI64,
    key: PrivateKey,
    /// `base64url({"alg":…,"kid":…,"typ":"JWT"})`, the same for every token this key signs.
    encoded_header: String,
    jwk: serde_json::Value,
    random: SystemRandom,
}

/// The deployment's keys as stored (revoked ones left out): the newest key of the configured
/// algorithm whose time has come signs; a key is published from its creation, before it signs,
/// until the last token it signed has expired.
pub struct KeyRing {
    /// Oldest `signs_from` first.
    keys: Vec<Arc<SigningKey>>,
}

/// Where a key is in its life, as `claimflow keys list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published ahead of its first signature.
    Next,
    Active,
    /// Superseded, still published: tokens it signed have not all expired.
    Retiring,
    /// Superseded and unpublished.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }
}

impl KeyRing {
    /// The ring of the stored keys, `known` keys reused as they are (parsing an RSA key costs
    /// milliseconds). A key that cannot be opened names its `kid` and the likely cause.
    pub fn from_rows(
        rows: &[signing_key::Model],
        secrets: &SecretBox,
        known: Option<&KeyRing>,
    ) -> Result<KeyRing, KeyError> {
        let mut keys = Vec::new();
        for row in rows.iter().filter(|row| row.revoked_at.is_none()) {
            let reused = known.and_then(|ring| ring.keys.iter().find(|key| key.kid == row.kid));
            let key = match reused {
                Some(key) => {
                    key.last_exp.fetch_max(row.last_exp, Ordering::Relaxed);
                    key.clone()
                }
                None => {
                    let opened =
                        secrets.open(&row.sealed_key).map_err(|_| KeyError::Sealed { kid: row.kid.clone() })?;
                    let pkcs8 = base64::engine::general_purpose::STANDARD
                        .decode(opened)
                        .map_err(|err| KeyError::Stored { kid: row.kid.clone(), message: err.to_string() })?;
                    let key = SigningKey::from_pkcs8(&pkcs8, row.created_at, row.signs_from, row.last_exp)
                        .map_err(|message| KeyError::Stored { kid: row.kid.clone(), message })?;
                    Arc::new(key)
                }
            };
            keys.push(key);
        }
        keys.sort_by(|a, b| (a.signs_from, &a.kid).cmp(&(b.signs_from, &b.kid)));
        Ok(KeyRing { keys })
    }

    /// The key that signs `alg` tokens at `now` (Unix ms).
    pub fn active(&self, alg: SigningAlgorithm, now: i64) -> Option<&Arc<SigningKey>> {
        self.keys.iter().rev().find(|key| key.alg == alg && key.signs_from <= now)
    }

    /// When the newest key of `alg` was made (Unix ms).
    pub fn newest_created(&self, alg: SigningAlgorithm) -> Option<i64> {
        self.keys.iter().filter(|key| key.alg == alg).map(|key| key.created_at).max()
    }

    /// Every key and its state at `now` (Unix ms), when the signers sign with `alg` (a key of
    /// another algorithm is retiring at best).
    pub fn states(&self, alg: SigningAlgorithm, now: i64) -> Vec<(&Arc<SigningKey>, KeyState)> {
        let now_secs = now / 1000;
        let active = self.active(alg, now).map(|key| key.kid.as_str());
        self.keys
            .iter()
            .map(|key| {
                let state = if key.alg == alg && key.signs_from > now {
                    KeyState::Next
                } else if active == Some(key.kid.as_str()) {
                    KeyState::Active
                } else if key.last_exp.load(Ordering::Relaxed) >= now_secs {
                    KeyState::Retiring
                } else {
                    KeyState::Retired
                };
                (key, state)
            })
            .collect()
    }

    /// The published keys at `now` (Unix ms): the active ones first, then those next in line,
    /// then those retiring, newest first.
    pub fn jwks(&self, alg: SigningAlgorithm, now: i64) -> serde_json::Value {
        let mut published: Vec<(u8, &Arc<SigningKey>)> = self
            .states(alg, now)
            .into_iter()
            .filter_map(|(key, state)| match state {
                KeyState::Active => Some((0, key)),
                KeyState::Next => Some((1, key)),
                KeyState::Retiring => Some((2, key)),
                KeyState::Retired => None,
            })
            .collect();
        published.sort_by(|(a_rank, a), (b_rank, b)| a_rank.cmp(b_rank).then(b.signs_from.cmp(&a.signs_from)));
        let keys: Vec<serde_json::Value> = published.into_iter().map(|(_, key)| key.jwk.clone()).collect();
        serde_json::json!({ "keys": keys })
    }
}

/// A new key of `alg`, sealed for storage: it is published at `now` and signs from `signs_from`
/// (both Unix ms).
pub fn new_key(
    alg: SigningAlgorithm,
    secrets: &SecretBox,
    now: i64,
    signs_from: i64,
) -> Result<signing_key::Model, KeyError> {
    let pkcs8 = generate(alg)?;
    stored(&pkcs8, secrets, now, signs_from).map_err(|message| KeyError::Generate { alg, message })
}

/// A PKCS#8 key as a row of the key table.
fn stored(pkcs8: &[u8], secrets: &SecretBox, created_at: i64, signs_from: i64) -> Result<signing_key::Model, String> {
    let key = SigningKey::from_pkcs8(pkcs8, created_at, signs_from, 0)?;
    Ok(signing_key::Model {
        kid: key.kid.clone(),
        alg: key.alg.as_str().to_owned(),
        sealed_key: secrets.seal(&base64::engine::general_purpose::STANDARD.encode(pkcs8)),
        created_at,
        signs_from,
        revoked_at: None,
        last_exp: 0,
    })
}

/// The keys of a signer key directory (`<created secs>-<kid>.pem`, as earlier versions kept
/// them), as rows to store: they sign and verify as before.
pub fn key_files(dir: &Path, secrets: &SecretBox) -> Result<Vec<signing_key::Model>, KeyError> {
    let io = |source| KeyError::Io { path: dir.to_owned(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io(err)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Io { path: path.clone(), source })?;
        let decode = |message: String| KeyError::Decode { path: path.clone(), message };
        let pem = pem::parse(&text).map_err(|err| decode(err.to_string()))?;
        if pem.tag() != "PRIVATE KEY" {
            return Err(decode(format!("the PEM block is {:?}, not \"PRIVATE KEY\"", pem.tag())));
        }
        // NOTE: the file name starts with its creation time in seconds.
        let created = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.split('-').next())
            .and_then(|secs| secs.parse::<i64>().ok())
            .unwrap_or_default()
            * 1000;
        let mut row = stored(pem.contents(), secrets, created, created).map_err(decode)?;
        // Tokens it signed before the import may live for a day.
        row.last_exp = claimflow_storage::now_ms() / 1000 + 24 * 3600;
        rows.push(row);
    }
    Ok(rows)
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

/// A new PKCS#8 private key of `alg`.
fn generate(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    let failed = |message: String| KeyError::Generate { alg, message };
    Ok(match alg {
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
    })
}

impl SigningKey {
    fn from_pkcs8(pkcs8: &[u8], created_at: i64, signs_from: i64, last_exp: i64) -> Result<SigningKey, String> {
        let (key, kid) = parse_key(pkcs8)?;
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
            created_at,
            signs_from,
            last_exp: std::sync::atomic::AtomicI64::new(last_exp),
            key,
            jwk,
            random: SystemRandom::new(),
        })
    }
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

    fn secrets() -> SecretBox {
        SecretBox::from_key(&[3; 32])
    }

    /// Verifies with jsonwebtoken, an independent JOSE implementation, from the published JWK.
    fn verify(jwks: serde_json::Value, token: &str) -> Option<serde_json::Value> {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap())?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["api"]);
        Some(jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap().claims)
    }

    #[test]
    fn every_algorithm_signs_tokens_that_verify_against_its_jwk() {
        for alg in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let row = new_key(alg, &secrets(), 1_000, 1_000).unwrap();
            assert!(!row.sealed_key.contains("PRIVATE"), "sealed");
            let ring = KeyRing::from_rows(&[row], &secrets(), None).unwrap();
            let key = ring.active(alg, 2_000).unwrap();
            let token = key.sign(&claims()).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(format!("{:?}", header.alg).to_uppercase(), alg.as_str().to_uppercase());
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            assert_eq!(verify(ring.jwks(alg, 2_000), &token).unwrap()["hello"], "world");
            assert_eq!(ring.jwks(alg, 2_000)["keys"][0]["alg"], alg.as_str());
        }
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire() {
        let alg = SigningAlgorithm::Es256;
        let old = new_key(alg, &secrets(), 0, 0).unwrap();
        let mut next = new_key(alg, &secrets(), 10_000, 20_000).unwrap();
        next.last_exp = 0;
        let ring = KeyRing::from_rows(&[old.clone(), next.clone()], &secrets(), None).unwrap();
        let kids = |now: i64| -> Vec<String> {
            ring.jwks(alg, now)["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        // Before its time the new key is published, second; the old one signs.
        assert_eq!(ring.active(alg, 15_000).unwrap().kid, old.kid);
        assert_eq!(kids(15_000), [old.kid.clone(), next.kid.clone()]);
        let token = ring.active(alg, 15_000).unwrap().sign(&claims()).unwrap();
        // Then it signs; the old key stays published while a token it signed may live.
        ring.active(alg, 15_000).unwrap().last_exp.store(30, Ordering::Relaxed);
        assert_eq!(ring.active(alg, 20_000).unwrap().kid, next.kid);
        assert_eq!(kids(25_000), [next.kid.clone(), old.kid.clone()]);
        assert!(verify(ring.jwks(alg, 25_000), &token).is_some(), "its tokens still verify");
        let states: Vec<&str> = ring.states(alg, 31_000).iter().map(|(_, state)| state.as_str()).collect();
        assert_eq!(states, ["retired", "active"]);
        assert_eq!(kids(31_000), [next.kid.clone()], "unpublished once its last token expired");
        assert!(verify(ring.jwks(alg, 31_000), &token).is_none());
    }

    #[test]
    fn a_revoked_key_neither_signs_nor_is_published_and_a_wrong_secrets_key_is_named() {
        let alg = SigningAlgorithm::EdDsa;
        let mut revoked = new_key(alg, &secrets(), 0, 0).unwrap();
        revoked.revoked_at = Some(5);
        let ring = KeyRing::from_rows(&[revoked.clone()], &secrets(), None).unwrap();
        assert!(ring.active(alg, 10).is_none());
        assert_eq!(ring.jwks(alg, 10)["keys"], serde_json::json!([]));
        revoked.revoked_at = None;
        let err = KeyRing::from_rows(&[revoked.clone()], &SecretBox::from_key(&[4; 32]), None).err().unwrap();
        assert!(err.to_string().contains(&revoked.kid) && err.to_string().contains("CLAIMFLOW_SECRETS_KEY"), "{err}");
    }

    #[test]
    fn key_files_of_earlier_versions_are_imported_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let pkcs8 = generate(SigningAlgorithm::Rs256).unwrap();
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
        std::fs::write(dir.path().join("001700000000-abc.pem"), pem).unwrap();
        let rows = key_files(dir.path(), &secrets()).unwrap();
        assert_eq!((rows.len(), rows[0].created_at, rows[0].alg.as_str()), (1, 1_700_000_000_000, "RS256"));
        assert!(key_files(&dir.path().join("none"), &secrets()).unwrap().is_empty(), "no directory, no keys");
        let path = dir.path().join("000000000001-broken.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let err = key_files(dir.path(), &secrets()).err().unwrap().to_string();
        assert!(err.contains("000000000001-broken.pem"), "{err}");
    }

    #[test]
    fn an_unknown_algorithm_names_the_choices() {
        let err = "HS256".parse::<SigningAlgorithm>().unwrap_err();
        assert!(err.contains("RS256") && err.contains("ES256") && err.contains("EdDSA"), "{err}");
        assert_eq!("eddsa".parse::<SigningAlgorithm>(), Ok(SigningAlgorithm::EdDsa));
    }
}
