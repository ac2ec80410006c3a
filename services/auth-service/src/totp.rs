//! Authenticator-app codes (TOTP, RFC 6238, through `totp-rs`): SHA-1, 6 digits, 30-second
//! steps, one step of clock skew either way, as every authenticator app expects; the QR code an
//! app scans (`qrcode`, as SVG: the pages allow no image loads); recovery codes.

use qrcode::{render::svg, QrCode};
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;
const SKEW_STEPS: u8 = 1;

/// A secret for a user to enrol, with what the page shows of it.
pub struct Enrolment {
    /// Base32, as typed into an app by hand (and sealed at rest).
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code, an `<svg>` element.
    pub qr_svg: String,
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Option<TOTP> {
    // NOTE: a colon separates issuer and account in the otpauth label: none may hold one.
    let clean = |text: &str| text.replace(':', " ");
    TOTP::new(Algorithm::SHA1, DIGITS, SKEW_STEPS, STEP_SECONDS, secret, Some(clean(issuer)), clean(account)).ok()
}

/// A new 160-bit secret (RFC 4226's recommendation) for `account` at `issuer`.
pub fn enrolment(issuer: &str, account: &str) -> Enrolment {
    let mut bytes = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    Enrolment::of(&Secret::Raw(bytes).to_encoded().to_string(), issuer, account)
}

impl Enrolment {
    /// The page's view of a secret (base32) being enrolled.
    pub fn of(secret: &str, issuer: &str, account: &str) -> Enrolment {
        let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap_or_default();
        let uri = totp(bytes, issuer, account).map(|totp| totp.get_url()).unwrap_or_default();
        let qr_svg = QrCode::new(uri.as_bytes())
            .map(|code| code.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
            .unwrap_or_default();
        // NOTE: the renderer writes an XML declaration before the element; inline SVG needs none.
        let qr_svg = qr_svg.find("<svg").map(|at| qr_svg[at..].to_owned()).unwrap_or_default();
        Enrolment { secret: secret.to_owned(), uri, qr_svg }
    }
}

/// The 30-second step whose code `code` is, within the allowed skew of `now` (Unix seconds),
/// or `None`. Whether that step was used already is the caller's to check.
pub fn matching_step(secret_base32: &str, code: &str, now: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    let totp = totp(bytes, "claimflow", "user")?;
    let current = now / STEP_SECONDS;
    (current.saturating_sub(SKEW_STEPS as u64)..=current + SKEW_STEPS as u64)
        .find(|step| bool::from(totp.generate(step * STEP_SECONDS).as_bytes().ct_eq(code.as_bytes())))
        .map(|step| step as i64)
}

/// Whether `code` looks like a recovery code rather than an app's code.
pub fn is_recovery_code(code: &str) -> bool {
    normalize_recovery_code(code).len() == 10
}

/// `RECOVERY_CODES` new codes: 10 characters of a lowercase alphabet without look-alikes
/// (about 50 bits each), shown as `xxxxx-xxxxx`.
pub fn recovery_codes(count: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..count)
        .map(|_| {
            let chars: String = (0..10).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as stored (hashed): lowercase, without the dash or spaces.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_match_within_the_skew_only() {
        // RFC 6238 appendix B: the ASCII secret "12345678901234567890", the last 6 digits.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(matching_step(&secret, "287082", 59), Some(1));
        assert_eq!(matching_step(&secret, "081804", 1_111_111_109), Some(1_111_111_109 / 30));
        // One step late is accepted, two are not.
        assert_eq!(matching_step(&secret, "081804", 1_111_111_109 + 30), Some(1_111_111_109 / 30));
        assert_eq!(matching_step(&secret, "081804", 1_111_111_109 + 60), None);
        assert_eq!(matching_step(&secret, "08180", 1_111_111_109), None);
    }

    #[test]
    fn an_enrolment_carries_its_secret_in_the_qr_uri() {
        let enrolment = enrolment("id.example.com:8080", "ada@example.com");
        assert!(enrolment.uri.starts_with("otpauth://totp/"), "{}", enrolment.uri);
        assert!(enrolment.uri.contains(&format!("secret={}", enrolment.secret)), "{}", enrolment.uri);
        assert!(enrolment.qr_svg.starts_with("<svg"), "{}", &enrolment.qr_svg[..40.min(enrolment.qr_svg.len())]);
        assert_eq!(Secret::Encoded(enrolment.secret).to_bytes().unwrap().len(), 20);
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = recovery_codes(10);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10);
        assert!(codes.iter().all(|code| is_recovery_code(code) && code.len() == 11));
        assert_eq!(normalize_recovery_code(" ABCDE-fghjk "), "abcdefghjk");
        assert!(!is_recovery_code("123456"));
    }
}
