//! Reading a request target: its path segments under a prefix, the `404` and
//! `405` answers of routing, and its query.

use super::answer::{Answer, error, not_found};

/// The path of a request, split under a known prefix.
pub(super) struct Path<'a> {
    method: &'a str,
    /// The path as sent, without the query.
    path: &'a str,
    /// The segments after the prefix, percent-decoded.
    segments: Vec<String>,
}

/// Whether `target`'s path starts with the segments `prefix`.
pub(super) fn is_under(target: &str, prefix: &[&str]) -> bool {
    let path = target.split('?').next().unwrap_or("");
    let mut segs = path.split('/').skip(1);
    prefix.iter().all(|p| segs.next() == Some(p))
}

impl<'a> Path<'a> {
    /// The path of `target` under `prefix`; `404` when it is not under it or
    /// has an empty segment after it.
    pub fn under(method: &'a str, target: &'a str, prefix: &[&str]) -> Result<Path<'a>, Answer> {
        let path = target.split('?').next().unwrap_or("");
        let mut path = Path {
            method,
            path,
            segments: Vec::new(),
        };
        if !is_under(target, prefix) {
            return Err(path.not_found());
        }
        path.segments = path
            .path
            .split('/')
            .skip(1 + prefix.len())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        if path.segments.iter().any(String::is_empty) {
            return Err(path.not_found());
        }
        Ok(path)
    }

    /// The segments after the prefix, to match routes on.
    pub fn segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// `404`: no route for this path.
    pub fn not_found(&self) -> Answer {
        not_found(format!("No route for {} {}.", self.method, self.path))
    }

    /// `405` with `allow: <allowed>` unless the method is `allowed`.
    pub fn allow(&self, allowed: &str) -> Result<(), Answer> {
        if self.method == allowed {
            return Ok(());
        }
        let answer = error(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{} is not allowed on {}.", self.method, self.path),
        );
        Err(answer.with_header("allow", allowed.to_owned()))
    }
}

/// The raw value of the query parameter `name`; `""` when it has no `=`.
pub(super) fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
