//! JWT-shaped tokens and SHA-256-shaped hashes, made up: base64url (RFC 4648,
//! section 5) around a signature that is an FNV-1a digest, not a MAC.

use serde_json::Value;

/// A JWT-shaped token: header, `claims` and a made-up signature, base64url each.
pub(super) fn jwt(claims: &Value) -> String {
    let header = br#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = claims.to_string();
    format!(
        "{}.{}.{}",
        base64url(header),
        base64url(claims.as_bytes()),
        base64url(&digest(claims.as_bytes()))
    )
}

/// 64 hex digits derived from `text`: shaped like a SHA-256, and stable.
pub(super) fn hash_hex(text: &str) -> String {
    digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 bytes derived from `bytes`: four FNV-1a hashes of different seeds.
fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (seed, part) in (0..4u64).zip(out.chunks_exact_mut(8)) {
        part.copy_from_slice(&fnv1a(seed, bytes).to_be_bytes());
    }
    out
}

/// FNV-1a over `bytes`, its offset basis varied by `seed`.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Base64url without padding, as JWTs use it.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64url(plain.as_bytes()), encoded);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn the_jwt_header_is_the_usual_one() {
        let token = jwt(&json!({"sub": "x"}));
        assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
        assert_eq!(token.split('.').count(), 3);
    }

    #[test]
    fn the_hash_is_the_digest_in_hex() {
        let hash = hash_hex("user-42");
        assert_eq!(hash.len(), 64);
        let words: String = (0..4u64)
            .map(|seed| format!("{:016x}", fnv1a(seed, b"user-42")))
            .collect();
        assert_eq!(hash, words);
    }
}
