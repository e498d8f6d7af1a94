//! Test doubles: an in-process mock transport and a fake runtime on loopback.

#[cfg(feature = "testing")]
mod fake;
#[cfg(feature = "testing")]
pub use fake::{FakeRequest, FakeRuntime};
