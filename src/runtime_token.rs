//! A minted runtime token, read leniently, never shown.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::time::parse_rfc3339;
use crate::{DecodeError, Error, Result};

/// A minted runtime token. `Debug` does not show the token.
///
/// # Example
/// ```
/// let minted: zaby::RuntimeToken = serde_json::from_str(r#"{"token": "eyJhbGciOi...", "remainingUses": 50}"#).unwrap();
/// assert_eq!(minted.remaining_uses, Some(50));
/// assert!(!format!("{minted:?}").contains("eyJ")); // `Debug` hides the token
/// ```
#[derive(Clone, PartialEq, Deserialize)]
#[serde(from = "Wire")]
#[non_exhaustive]
pub struct RuntimeToken {
    /// The JWT to give [`crate::ZabyRuntime`].
    pub token: String,
    /// `Bearer`.
    pub token_type: Option<String>,
    /// When it stops working (`expiresAt`).
    pub expires_at: Option<SystemTime>,
    /// How many calls it has left, when capped.
    pub remaining_uses: Option<u64>,
    /// When the server suggests rotating it.
    pub rotate_after: Option<Duration>,
    /// Its family, for rotation and revocation.
    pub token_family_id: Option<String>,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// Every other field of the answer.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for RuntimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("remaining_uses", &self.remaining_uses)
            .field("rotate_after", &self.rotate_after)
            .field("token_family_id", &self.token_family_id)
            .field("scopes", &self.scopes)
            // Names only: the answer may echo a secret (the token, or the
            // previous one of a rotation) in any field.
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The answer as sent, read leniently: a field of an unexpected shape is
/// kept in `extra` instead of failing the mint.
#[derive(Deserialize)]
struct Wire {
    token: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl From<Wire> for RuntimeToken {
    fn from(w: Wire) -> Self {
        let mut extra = w.rest;
        let mut take = |key: &str, read: fn(&Value) -> bool| match extra.get(key) {
            Some(v) if read(v) => extra.remove(key),
            _ => None,
        };
        let token_type = take("tokenType", Value::is_string);
        let expires_at = take("expiresAt", |v| {
            v.as_str().and_then(parse_rfc3339).is_some()
        });
        let remaining_uses = take("remainingUses", Value::is_u64);
        let rotate_after = take("rotateAfterSeconds", |v| {
            v.as_f64()
                .is_some_and(|s| s.is_finite() && (0.0..1e12).contains(&s))
        });
        let token_family_id = take("tokenFamilyId", Value::is_string);
        let scopes = take("scopes", |v| {
            v.as_array()
                .is_some_and(|items| items.iter().all(Value::is_string))
        });
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        RuntimeToken {
            token: w.token,
            token_type: text(token_type),
            expires_at: expires_at.and_then(|v| parse_rfc3339(v.as_str()?)),
            remaining_uses: remaining_uses.and_then(|v| v.as_u64()),
            rotate_after: rotate_after
                .and_then(|v| v.as_f64())
                .map(Duration::from_secs_f64),
            token_family_id: text(token_family_id),
            scopes: scopes
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            extra,
        }
    }
}

/// Decodes a minted token. A failure shows neither the body nor serde's
/// message, which may quote a value: any value of the answer may be the token.
pub(crate) fn decode_token(body: &[u8]) -> Result<RuntimeToken> {
    serde_json::from_slice(body).map_err(|e| {
        Error::Decode(DecodeError {
            message: format!(
                "expected a runtime token ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
            body: "[withheld: a token answer may hold a token]".to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_answer_that_fails_to_decode_shows_nothing_of_it() {
        for body in [
            r#"{"token":"eyJREAL.secret.token","token":"x"}"#,
            r#"{"token":12,"note":"eyJREAL.secret.token"}"#,
            r#""eyJREAL.secret.token""#,
            r#"{"token":"eyJREAL.secret.token""#,
        ] {
            let err = decode_token(body.as_bytes()).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("eyJREAL"), "{body}: {shown}");
            assert!(matches!(err, Error::Decode(_)));
        }
    }

    #[test]
    fn tokens_parse_leniently_and_hide_the_token() {
        let token: RuntimeToken = serde_json::from_value(serde_json::json!({
            "token": "eyJsecret.token.value", "tokenType": "Bearer", "expiresAt": "2026-11-29T12:34:56Z",
            "remainingUses": 3, "rotateAfterSeconds": 60, "tokenFamilyId": "fam", "grantId": "g1"
        }))
        .unwrap();
        assert_eq!(token.remaining_uses, Some(3));
        assert_eq!(token.rotate_after, Some(Duration::from_secs(60)));
        assert_eq!(token.extra["grantId"], "g1");
        assert!(!format!("{token:?}").contains("eyJsecret"));
        let echo: RuntimeToken = serde_json::from_value(serde_json::json!({
            "token": "eyJnew", "previousToken": "eyJold", "note": {"again": "eyJnew"}
        }))
        .unwrap();
        let shown = format!("{echo:?}");
        assert!(
            shown.contains("previousToken") && shown.contains("note"),
            "{shown}"
        );
        assert!(!shown.contains("eyJ"), "{shown}");
        let odd: RuntimeToken =
            serde_json::from_value(serde_json::json!({"token": "t", "expiresAt": "soon"})).unwrap();
        assert_eq!(odd.expires_at, None);
        assert_eq!(odd.extra["expiresAt"], "soon");
    }
}
