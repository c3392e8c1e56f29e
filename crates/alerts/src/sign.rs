//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
//!
//! The key is the secret's bytes; a secret written the Standard Webhooks way,
//! `whsec_<base64>`, is the base64-decoded bytes (so the receivers' standard
//! libraries verify it as is).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC key of a secret.
pub fn secret_key(secret: &str) -> Vec<u8> {
    if let Some(b64) = secret.strip_prefix("whsec_") {
        if let Ok(k) = STANDARD.decode(b64) {
            return k;
        }
    }
    secret.as_bytes().to_vec()
}

/// The `webhook-signature` header value of a message.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret_key(secret)).expect("HMAC takes a key of any length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `header` (space-separated `v1,<sig>` entries) carries a valid
/// signature of the message: what a receiver checks.
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &str, header: &str) -> bool {
    let want = sign(secret, msg_id, timestamp, body);
    header.split(' ').any(|s| constant_time_eq(s.as_bytes(), want.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1_614_265_330;
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(sign(secret, id, ts, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_raw_secret_signs_with_its_bytes_and_verification_catches_tampering() {
        let sig = sign("plain-secret-0123456789", "m1", 10, "{}");
        assert!(verify("plain-secret-0123456789", "m1", 10, "{}", &format!("v1,bogus {sig}")));
        assert!(!verify("plain-secret-0123456789", "m1", 10, "{ }", &sig));
        assert!(!verify("plain-secret-0123456789", "m1", 11, "{}", &sig));
        assert!(!verify("other-secret", "m1", 10, "{}", &sig));
    }
}
