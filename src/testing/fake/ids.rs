//! Made-up identifiers.

/// A uuid-looking id, distinct per kind and counter, so tests can predict nothing
/// but still see realistic shapes.
pub(super) fn fake_uuid(kind: u32, n: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}
