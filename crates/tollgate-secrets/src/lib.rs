//! Tollgate's secrets: how tokens and key secrets are made, sealed at rest,
//! hashed, and compared.
//!
//! Pure: no I/O, no clock. Randomness comes from the caller through
//! [`RandomSource`], so tests can be deterministic and production uses the OS
//! CSPRNG.
//!
//! - Auth tokens are 32 lower-case hex characters. They sign webhooks, so they
//!   must be recoverable: they are sealed with AES-256-GCM under the master key,
//!   with the account SID as associated data ([`MasterKey::seal`]).
//! - API key secrets are 32 alphanumeric characters, shown once, and stored
//!   only as an argon2id hash ([`hash_secret`]).
//! - Every comparison of secret material runs in constant time ([`ct_eq`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use hmac::Mac;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// A source of cryptographically secure random bytes.
pub trait RandomSource {
    /// Fills `buf` entirely with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Why a secret could not be opened or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the master key must be 64 hex characters (32 bytes)")]
    MasterKeyFormat,
    #[error("sealed secret is malformed or was sealed with another key or for another account")]
    Unseal,
    #[error("sealing failed")]
    Seal,
    #[error("hashing failed")]
    Hash,
}

/// Version byte in front of every sealed value, so the format can change later.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 32-byte key that seals auth tokens at rest. Zeroed on drop; never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// Draws a new key.
    pub fn generate(rng: &mut dyn RandomSource) -> MasterKey {
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        MasterKey(key)
    }

    /// Parses 64 hex characters (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<MasterKey, SecretError> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| SecretError::MasterKeyFormat)?;
        Ok(MasterKey(key))
    }

    /// The key as 64 hex characters, for writing the key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// A key for one `purpose` (HMAC-SHA256 of the purpose under the master
    /// key), so no two uses share key material.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(fingerprint(&self.0, purpose.as_bytes()))
    }

    /// Seals `plaintext` for `aad` (the owning account's SID) with a fresh nonce.
    pub fn seal(
        &self,
        aad: &str,
        plaintext: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, SecretError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| SecretError::Seal)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let body = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Seal)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len());
        sealed.push(SEALED_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// Opens a value sealed by [`MasterKey::seal`] for the same `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let (&version, rest) = sealed.split_first().ok_or(SecretError::Unseal)?;
        if version != SEALED_V1 || rest.len() < NONCE_LEN {
            return Err(SecretError::Unseal);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Unseal)?;
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| SecretError::Unseal)?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Unseal)
    }
}

impl MasterKey {
    /// Opens a sealed UTF-8 secret (an auth token) for `aad`.
    pub fn open_text(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<String>, SecretError> {
        let bytes = self.open(aad, sealed)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Unseal)
    }
}

/// A new auth token: 32 lower-case hex characters (128 bits).
pub fn generate_auth_token(rng: &mut dyn RandomSource) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 16]);
    rng.fill(bytes.as_mut());
    Zeroizing::new(hex::encode(bytes.as_ref()))
}

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new API key secret: 32 alphanumeric characters (about 190 bits), drawn
/// without modulo bias.
pub fn generate_key_secret(rng: &mut dyn RandomSource) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(32));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < 32 {
        rng.fill(buf.as_mut());
        for &b in buf.iter() {
            // 248 = 4 * 62: bytes at or above it would bias the draw.
            if b < 248
                && out.len() < 32
                && let Some(&c) = ALPHANUMERIC.get(usize::from(b % 62))
            {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// argon2id with OWASP's minimum cost (19 MiB, 2 passes, 1 lane).
fn argon2() -> Result<Argon2<'static>, SecretError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| SecretError::Hash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a secret to a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_secret(secret: &str, rng: &mut dyn RandomSource) -> Result<String, SecretError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    argon2()?
        .hash_password_with_salt(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| SecretError::Hash)
}

/// True when `secret` matches the PHC string. Malformed hashes never match.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    argon2().is_ok_and(|a| a.verify_password(secret.as_bytes(), phc).is_ok())
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// HMAC-SHA256 of `secret` under a per-process key. Used to remember a secret
/// that argon2 already verified, so later requests cost one HMAC, not one argon2.
pub fn fingerprint(process_key: &[u8; 32], secret: &[u8]) -> [u8; 32] {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(process_key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this arm cannot run.
        Err(_) => return [0u8; 32],
    };
    mac.update(secret);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A deterministic source for tests: a counter, never for production.
    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(97);
                *b = self.0;
            }
        }
    }

    #[test]
    fn tokens_and_secrets_have_the_wire_shape() {
        let token = generate_auth_token(&mut Counter(1));
        assert_eq!(token.len(), 32);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let secret = generate_key_secret(&mut Counter(2));
        assert_eq!(secret.len(), 32);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn seal_hides_plaintext_and_binds_the_account() {
        let key = MasterKey::generate(&mut Counter(3));
        let sealed = key
            .seal("AC1", b"0123456789abcdef0123456789abcdef", &mut Counter(4))
            .unwrap();
        assert!(
            !sealed
                .windows(32)
                .any(|w| w == b"0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            key.open("AC1", &sealed).unwrap().as_slice(),
            b"0123456789abcdef0123456789abcdef"
        );
        assert_eq!(key.open("AC2", &sealed), Err(SecretError::Unseal));
        assert_eq!(
            key.open_text("AC1", &sealed).unwrap().as_str(),
            "0123456789abcdef0123456789abcdef"
        );
        let not_text = key.seal("AC1", &[0xff, 0xfe], &mut Counter(8)).unwrap();
        assert_eq!(key.open_text("AC1", &not_text), Err(SecretError::Unseal));
        let other = MasterKey::generate(&mut Counter(5));
        assert_eq!(other.open("AC1", &sealed), Err(SecretError::Unseal));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(key.open("AC1", &tampered), Err(SecretError::Unseal));
    }

    #[test]
    fn master_key_hex_round_trip_and_errors() {
        let key = MasterKey::generate(&mut Counter(6));
        let again = MasterKey::from_hex(&format!("{}\n", key.to_hex().as_str())).unwrap();
        assert_eq!(again.to_hex(), key.to_hex());
        assert_eq!(
            MasterKey::from_hex("abc").unwrap_err(),
            SecretError::MasterKeyFormat
        );
        assert_eq!(format!("{key:?}"), "MasterKey(…)");
    }

    #[test]
    fn argon2_hash_verifies_only_the_right_secret() {
        let phc = hash_secret("s3cret", &mut Counter(7)).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!phc.contains("s3cret"));
        assert!(verify_secret("s3cret", &phc));
        assert!(!verify_secret("s3cret!", &phc));
        assert!(!verify_secret("s3cret", "not a hash"));
    }

    #[test]
    fn fingerprints_depend_on_key_and_secret() {
        let a = fingerprint(&[1; 32], b"x");
        assert_eq!(a, fingerprint(&[1; 32], b"x"));
        assert_ne!(a, fingerprint(&[2; 32], b"x"));
        assert_ne!(a, fingerprint(&[1; 32], b"y"));
    }

    proptest! {
        #[test]
        fn open_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let key = MasterKey::from_hex(&"11".repeat(32)).unwrap();
            prop_assert!(key.open("AC1", &bytes).is_err());
        }

        #[test]
        fn ct_eq_agrees_with_eq(a in proptest::collection::vec(any::<u8>(), 0..8),
                                b in proptest::collection::vec(any::<u8>(), 0..8)) {
            prop_assert_eq!(ct_eq(&a, &b), a == b);
        }
    }
}
