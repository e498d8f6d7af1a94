//! A fake Zaby runtime on 127.0.0.1, for tests and examples.

/// A fake Zaby runtime (placeholder).
pub struct FakeRuntime {}
