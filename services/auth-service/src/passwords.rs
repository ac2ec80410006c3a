//! User passwords: argon2id for the ones set here, bcrypt hashes accepted as they come from
//! Kinde exports (migrations) and verified as such.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

/// Shortest password accepted in clear.
pub const MIN_LENGTH: usize = 8;
/// Longest: argon2 is slow on purpose; unbounded input would be a denial of service.
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be {MIN_LENGTH} to {MAX_LENGTH} characters")]
    Length,
    #[error("hashing_method {0:?} is not supported; use \"bcrypt\" or send the password in clear")]
    UnsupportedMethod(String),
    #[error("hashed_password is not a bcrypt hash")]
    NotBcrypt,
    #[error("hashed_password has bcrypt cost {0}; bcrypt costs are 4 to 31")]
    BcryptCost(u32),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The PHC string for a password given in clear.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&password.chars().count()) {
        return Err(PasswordError::Length);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hash(err.to_string()))
}

/// A pre-hashed password from another system, stored as it is.
pub fn import(hashing_method: &str, hashed: &str) -> Result<String, PasswordError> {
    match hashing_method {
        "bcrypt" => {
            let parts = hashed.parse::<bcrypt::HashParts>().ok().filter(|_| hashed.starts_with("$2"));
            match parts.map(|parts| parts.get_cost()) {
                None => Err(PasswordError::NotBcrypt),
                Some(cost) if !(4..=31).contains(&cost) => Err(PasswordError::BcryptCost(cost)),
                Some(_) => Ok(hashed.to_owned()),
            }
        }
        other => Err(PasswordError::UnsupportedMethod(other.to_owned())),
    }
}

/// Whether `presented` matches the stored hash, in the hash's own scheme.
/// A real argon2id hash of no one's password: verified against when the email is unknown, so
/// that costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::user_tokens::new_secret()).unwrap_or_default())
}

pub fn verify(stored: &str, presented: &str) -> bool {
    if presented.len() > MAX_LENGTH {
        return false;
    }
    if stored.starts_with("$argon2") {
        return PasswordHash::new(stored)
            .is_ok_and(|hash| Argon2::default().verify_password(presented.as_bytes(), &hash).is_ok());
    }
    stored.starts_with("$2") && bcrypt::verify(presented, stored).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_only_their_password() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&stored, "correct horse battery"));
        assert!(!verify(&stored, "Correct horse battery"));
        assert_eq!(hash("short"), Err(PasswordError::Length));
    }

    #[test]
    fn imported_bcrypt_hashes_verify() {
        let exported = bcrypt::hash("from kinde", 4).unwrap();
        let stored = import("bcrypt", &exported).unwrap();
        assert!(verify(&stored, "from kinde"));
        assert!(!verify(&stored, "something else"));
        assert_eq!(import("md5", "x"), Err(PasswordError::UnsupportedMethod("md5".into())));
        assert_eq!(import("bcrypt", "plain"), Err(PasswordError::NotBcrypt));
    }

    #[test]
    fn a_bcrypt_cost_outside_4_to_31_is_refused() {
        let exported = bcrypt::hash("from kinde", 4).unwrap();
        for (cost, expected) in [("03", Err(PasswordError::BcryptCost(3))), ("99", Err(PasswordError::BcryptCost(99)))]
        {
            let forged = exported.replacen("$04$", &format!("${cost}$"), 1);
            assert_eq!(import("bcrypt", &forged), expected, "{forged}");
        }
        let message = PasswordError::BcryptCost(99).to_string();
        assert!(message.contains("hashed_password") && message.contains("4 to 31"), "{message}");
        assert!(import("bcrypt", &exported.replacen("$04$", "$31$", 1)).is_ok());
    }
}
