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

#[cfg(test)]
mod tests {
    use super::*;

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
