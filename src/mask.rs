//! Masking secrets that a server echoes back in what the crate shows.

use serde_json::Value;

const MASK: &str = "[redacted]";
/// Shorter secrets are too likely to be ordinary words to mask.
pub(crate) const MIN_MASKED: usize = 8;

pub(crate) fn mask_str(s: &mut String, secret: &str) {
    if s.contains(secret) {
        *s = s.replace(secret, MASK);
    }
}

pub(crate) fn mask_value(v: &mut Value, secret: &str) {
    match v {
        Value::String(s) => mask_str(s, secret),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, secret)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains(secret)).cloned().collect();
            for key in keys {
                if let Some(v) = map.remove(&key) {
                    map.insert(key.replace(secret, MASK), v);
                }
            }
            map.values_mut().for_each(|v| mask_value(v, secret));
        }
        _ => {}
    }
}

/// A request body for `Debug`, with the token a rotation sends hidden.
pub(crate) fn redacted_body(body: &Option<Value>) -> Option<Value> {
    let mut body = body.clone();
    if let Some(Value::Object(map)) = &mut body {
        if let Some(token) = map.get_mut("previousToken") {
            *token = Value::String(MASK.to_owned());
        }
    }
    body
}
