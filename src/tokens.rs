//! Runtime tokens: mint, rotate and revoke them through the provisioning API.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::request::{Call, decode, segment};
use crate::{DecodeError, Error, Result, Zaby};

const PREFIX: &str = "/api/v1/provisioning/managed-agents";

/// Runtime-token calls, from [`Zaby::runtime_tokens`].
#[derive(Clone, Copy, Debug)]
pub struct RuntimeTokens<'a> {
    pub(crate) client: &'a Zaby,
}

impl RuntimeTokens<'_> {
    /// Mints a runtime token for an external app's deployment.
    ///
    /// # Errors
    /// The API errors of [`crate::Error`] (401 for a bad API key, 422 for a
    /// missing or wrong field); [`crate::Error::InvalidInput`] for a bad app id.
    ///
    /// # Example
    /// ```no_run
    /// use zaby::{RuntimeTokenRequest, Zaby};
    /// let zaby = Zaby::new("zk_live_...")?;
    /// let minted = zaby.runtime_tokens().create(
    ///     RuntimeTokenRequest::new("app-id", "deployment-id").unique_id("user-42").max_uses(100),
    /// )?;
    /// println!("expires at {:?}", minted.expires_at);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn create(&self, request: RuntimeTokenRequest) -> Result<RuntimeToken> {
        let app = segment(&request.external_app_id, "external app id")?;
        let mut call = Call::post(
            format!("{PREFIX}/external-apps/{app}/runtime-tokens"),
            Some(&request),
        )?;
        call.request_id = request.request_id.clone();
        self.client.core.answer(&call, decode_token)
    }

    /// Trades a token for a new one of the same family.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    ///
    /// # Example
    /// ```no_run
    /// # let zaby = zaby::Zaby::new("zk_live_...")?;
    /// let fresh = zaby.runtime_tokens().rotate("eyJhbGciOi...")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn rotate(&self, previous_token: &str) -> Result<RuntimeToken> {
        let body = serde_json::json!({ "previousToken": previous_token });
        let mut call = Call::post(format!("{PREFIX}/runtime-tokens/rotate"), Some(&body))?;
        call.secrets.push(previous_token.to_owned());
        self.client.core.answer(&call, decode_token)
    }

    /// Revokes every token of a family; returns the server's JSON
    /// (`{"tokenFamilyId", "revokedAt"}`).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    ///
    /// # Example
    /// ```no_run
    /// # let zaby = zaby::Zaby::new("zk_live_...")?;
    /// zaby.runtime_tokens().revoke_family("family-id", "user logged out")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn revoke_family(&self, token_family_id: &str, reason: &str) -> Result<Value> {
        let family = segment(token_family_id, "token family id")?;
        let body = serde_json::json!({ "reason": reason });
        let call = Call::post(
            format!("{PREFIX}/runtime-token-families/{family}/revoke"),
            Some(&body),
        )?;
        self.client.core.json_value(&call)
    }
}

/// What to mint a runtime token for. Unset fields are left out of the request.
///
/// # Example
/// ```
/// let request = zaby::RuntimeTokenRequest::new("app-id", "deployment-id")
///     .unique_id("user-42")
///     .channel("web")
///     .scopes(["runs:start", "runs:stream"])
///     .ttl_seconds(900)
///     .max_uses(50);
/// # let _ = request;
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeTokenRequest {
    /// Goes in the path only.
    #[serde(skip)]
    external_app_id: String,
    deployment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_family_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_uses: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl RuntimeTokenRequest {
    /// A token for this external app (path) and deployment (body).
    pub fn new(external_app_id: impl Into<String>, deployment_id: impl Into<String>) -> Self {
        RuntimeTokenRequest {
            external_app_id: external_app_id.into(),
            deployment_id: deployment_id.into(),
            unique_id: None,
            external_user_id: None,
            external_conversation_id: None,
            external_session_id: None,
            display_name: None,
            email_hash: None,
            locale: None,
            timezone: None,
            channel: None,
            quota_policy_id: None,
            token_family_id: None,
            metadata: None,
            scopes: None,
            ttl_seconds: None,
            max_uses: None,
            request_id: None,
        }
    }

    text_setters! {
        /// Your stable id of the end user.
        unique_id,
        /// The end user's id in your system.
        external_user_id,
        /// The conversation's id in your system.
        external_conversation_id,
        /// The session's id in your system.
        external_session_id,
        /// The end user's display name.
        display_name,
        /// A hash of the end user's email.
        email_hash,
        /// The end user's locale, e.g. `en-GB`.
        locale,
        /// The end user's time zone, e.g. `Europe/London`.
        timezone,
        /// `web`, `mobile`, `server`, `support` or `embedded`.
        channel,
        /// The quota policy to apply.
        quota_policy_id,
        /// The token family to mint into.
        token_family_id,
        /// An idempotency key, sent as `requestId` and `x-request-id`.
        request_id,
    }

    /// Any JSON object of your own.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The scopes the token grants.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The token's absolute lifetime in seconds.
    pub fn ttl_seconds(mut self, seconds: u64) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }

    /// How many calls the token may make.
    pub fn max_uses(mut self, uses: u64) -> Self {
        self.max_uses = Some(uses);
        self
    }
}

/// A minted runtime token. `Debug` does not show the token.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(from = "Wire")]
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
            .field("extra", &self.extra)
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

/// Decodes a minted token; a failure's message and body never show it: the
/// token is masked, or the whole body withheld when it cannot be found.
fn decode_token(body: &[u8]) -> Result<RuntimeToken> {
    decode(body, "a runtime token").map_err(|e| {
        let Error::Decode(e) = e else { return e };
        let token = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map.get("token").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        Error::Decode(match token {
            Some(token) => DecodeError {
                message: e.message.replace(&token, "[redacted]"),
                body: e.body.replace(&token, "[redacted]"),
            },
            None if !body.is_empty() => DecodeError {
                message: e.message,
                body: "[withheld: an unreadable token answer may hold a token]".to_owned(),
            },
            None => e,
        })
    })
}

/// `2026-11-29T12:34:56Z`, with optional fraction and `±hh:mm` offset.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<9}", &fraction[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<u64> {
        parse_rfc3339(text).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn rfc3339_dates_parse() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(secs("2026-11-29T12:34:56Z"), Some(1_795_955_696));
        assert_eq!(secs("2026-11-29T13:34:56+01:00"), Some(1_795_955_696));
        assert_eq!(secs("2026-11-29T12:34:56.250Z"), Some(1_795_955_696));
        let t = parse_rfc3339("2026-11-29T12:34:56.25Z").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .subsec_millis(),
            250
        );
        for bad in [
            "",
            "2026-11-29",
            "2026-13-01T00:00:00Z",
            "2026-11-29T12:34:56",
            "2026-11-29T12:34:56.Z",
            "1969-12-31T23:59:59Z",
            "２026-11-29T12:34:56Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
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
        let odd: RuntimeToken =
            serde_json::from_value(serde_json::json!({"token": "t", "expiresAt": "soon"})).unwrap();
        assert_eq!(odd.expires_at, None);
        assert_eq!(odd.extra["expiresAt"], "soon");
    }
}
