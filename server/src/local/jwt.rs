//! The tokens AuthTokenGet hands out: JWTs (HS256, signed with the store's own key) with an `exp`
//! claim, which Modal's JS SDK reads to know when to ask again. A call that carries one in
//! `x-modal-auth-token` is authenticated as the workspace it names.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// How long an issued token is good for.
pub const LIFETIME_SECS: u64 = 60 * 60;

/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_LEN: usize = crate::limits::MAX_AUTH_TOKEN_BYTES;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Who a valid token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The token id (`ak-…`) it was issued to.
    pub token_id: String,
    pub workspace_id: i64,
    pub workspace_name: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Signs and checks tokens with one key. `Debug` does not show the key.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// A token for this token id and workspace, valid from `now` (Unix seconds) for [`LIFETIME_SECS`].
    pub fn issue(
        &self,
        token_id: &str,
        workspace_id: i64,
        workspace_name: &str,
        now: u64,
    ) -> String {
        let payload = json!({
            "sub": token_id,
            "ws": workspace_id,
            "wsn": workspace_name,
            "iat": now,
            "exp": now + LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The claims of a token this signer issued and that has not expired at `now`; `None` for
    /// anything else. The signature is checked (in constant time) before the payload is read.
    pub fn verify(&self, token: &str, now: u64) -> Option<Claims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature).ok()?;

        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let claims = Claims {
            token_id: payload.get("sub")?.as_str()?.to_owned(),
            workspace_id: payload.get("ws")?.as_i64()?,
            workspace_name: payload.get("wsn")?.as_str()?.to_owned(),
            expires_at: payload.get("exp")?.as_u64()?,
        };
        (claims.expires_at > now).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn round_trip_and_expiry() {
        let signer = Signer::new([7; 32]);
        let token = signer.issue("ak-x", 3, "local", NOW);
        assert_eq!(token.split('.').count(), 3);
        let claims = signer.verify(&token, NOW + 10).unwrap();
        assert_eq!(claims.workspace_id, 3);
        assert_eq!(claims.workspace_name, "local");
        assert_eq!(claims.token_id, "ak-x");
        assert_eq!(claims.expires_at, NOW + LIFETIME_SECS);
        assert!(signer.verify(&token, NOW + LIFETIME_SECS).is_none());
    }

    #[test]
    fn payload_is_a_jwt_with_exp() {
        let token = Signer::new([1; 32]).issue("ak-x", 1, "w", NOW);
        let payload = token.split('.').nth(1).unwrap();
        let value: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(value["exp"].as_u64(), Some(NOW + LIFETIME_SECS));
    }

    #[test]
    fn forgeries_are_refused() {
        let signer = Signer::new([7; 32]);
        let other = Signer::new([8; 32]);
        let token = signer.issue("ak-x", 3, "local", NOW);
        assert!(other.verify(&token, NOW).is_none());
        // Swap in a payload naming another workspace, keeping the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            json!({"sub":"ak-x","ws":4,"wsn":"other","iat":NOW,"exp":NOW + 60}).to_string(),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(signer.verify(&forged, NOW).is_none());
        // alg=none with no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        assert!(signer.verify(&none, NOW).is_none());
        for junk in ["", ".", "..", "a.b.c", "a.b", &"x".repeat(10_000)] {
            assert!(signer.verify(junk, NOW).is_none(), "{junk}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", Signer::new([42; 32])), "Signer(***)");
    }
}
