//! Test doubles: an in-process mock transport, and (feature `testing`) a
//! fake runtime on loopback.

mod mock;
pub use mock::{MockTransport, RecordedRequest};

#[cfg(feature = "testing")]
mod fake;
#[cfg(feature = "testing")]
pub use fake::{FakeRequest, FakeRuntime};
