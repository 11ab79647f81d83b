//! Random identifiers and credentials, from the operating system's random source.

use sha2::{Digest, Sha256};

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters after the prefix of an object id or token id, as Modal's own ids have.
pub const ID_CHARS: usize = 22;

/// Characters after `as-` in a token secret: about 190 bits of entropy.
pub const TOKEN_SECRET_CHARS: usize = 32;

/// The operating system would not give random bytes.
#[derive(Debug)]
pub struct RandomError(getrandom::Error);

impl std::fmt::Display for RandomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the system's random source failed: {}", self.0)
    }
}

impl std::error::Error for RandomError {}

/// `n` characters of `[0-9A-Za-z]`, uniformly distributed (rejection sampling, no modulo bias).
pub fn alphanumeric(n: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).map_err(RandomError)?;
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < n {
                out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(RandomError)?;
    Ok(buf)
}

/// A new secret id: `st-` and 22 alphanumerics.
pub fn secret_id() -> Result<String, RandomError> {
    Ok(format!("st-{}", alphanumeric(ID_CHARS)?))
}

/// A new token id: `ak-` and 22 alphanumerics.
pub fn token_id() -> Result<String, RandomError> {
    Ok(format!("ak-{}", alphanumeric(ID_CHARS)?))
}

/// A new token secret: `as-` and 32 alphanumerics.
pub fn token_secret() -> Result<String, RandomError> {
    Ok(format!("as-{}", alphanumeric(TOKEN_SECRET_CHARS)?))
}

/// What the store keeps of a token secret. The secret is high-entropy random text, so a plain
/// SHA-256 cannot be brute-forced and needs no salt or slow hash.
pub fn hash_token_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Does `id` have the shape of an id with this prefix (`st-`, `ak-`)? Checked before any lookup so
/// that junk never reaches the store.
pub fn has_id_shape(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = secret_id().unwrap();
        assert!(has_id_shape(&id, "st-"), "{id}");
        assert_eq!(id.len(), 25);
        let t = token_id().unwrap();
        assert!(has_id_shape(&t, "ak-"));
        let s = token_secret().unwrap();
        assert!(s.starts_with("as-") && s.len() == 35);
        assert_ne!(token_secret().unwrap(), s);
        assert!(!has_id_shape("st-", "st-"));
        assert!(!has_id_shape("st-a b", "st-"));
        assert!(!has_id_shape("ak-abc", "st-"));
    }

    #[test]
    fn all_characters_appear() {
        let text = alphanumeric(20_000).unwrap();
        for c in ALPHANUMERIC {
            assert!(text.as_bytes().contains(c), "{}", char::from(*c));
        }
    }
}
