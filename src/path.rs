//! Paths under the origin: ids encoded so that they can never change the path.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{Error, Result};

/// Characters kept as they are in a path segment; everything else is `%XX`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// An id as one path segment: `/`, `?`, `#` and `%` can never change the path.
pub(crate) fn segment(id: &str, what: &str) -> Result<String> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::InvalidInput(format!(
            "{what} {id:?} is not a valid id: it must be non-empty and not \".\" or \"..\""
        )));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// Appends `pairs` to the path's query, form-encoded, in order.
pub(crate) fn push_query(path: &mut String, pairs: &[(String, String)]) {
    for (name, value) in pairs {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.extend(url::form_urlencoded::byte_serialize(name.as_bytes()));
        path.push('=');
        path.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_encoded_and_appended_in_order() {
        let mut path = "/runs/r1/events?limit=10".to_owned();
        let pairs = [("a b", "c&d=e"), ("tag", "x"), ("tag", "y/é")];
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        push_query(&mut path, &pairs);
        assert_eq!(
            path,
            "/runs/r1/events?limit=10&a+b=c%26d%3De&tag=x&tag=y%2F%C3%A9"
        );
        let mut bare = "/x".to_owned();
        push_query(&mut bare, &pairs[1..2]);
        assert_eq!(bare, "/x?tag=x");
    }

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(
            segment("a/b?c#d%..", "run id").unwrap(),
            "a%2Fb%3Fc%23d%25.."
        );
        assert_eq!(segment("A-z_0.~!'()*", "run id").unwrap(), "A-z_0.~!'()*");
        assert_eq!(segment("é ü", "run id").unwrap(), "%C3%A9%20%C3%BC");
        for bad in ["", ".", ".."] {
            assert!(matches!(
                segment(bad, "run id"),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
