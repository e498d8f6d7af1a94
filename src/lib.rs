//! Blocking Rust SDK for the Zaby agent runtime.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod event;
pub mod sse;
pub mod testing;

pub use error::{ApiError, DecodeError, Error, Result};
pub use event::{RunEvent, SseEvent};
