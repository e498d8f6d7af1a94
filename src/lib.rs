#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// `ApiError`'s public fields are the API callers match on; boxing them would
// break those patterns. A test pins `Error`'s size instead.
#![allow(clippy::result_large_err)]

#[macro_use]
mod macros;

mod approvals;
mod cancel;
mod client;
mod config;
mod error;
mod event;
mod feedback;
mod provisioning;
mod request;
mod retry;
mod runs;
mod seen_ids;
pub mod sse;
mod stream;
pub mod testing;
mod token_source;
mod tokens;
mod transport;

pub use approvals::Approvals;
pub use cancel::CancelHandle;
pub use client::{DEFAULT_MAX_RECONNECTS, ZabyRuntime, ZabyRuntimeBuilder};
pub use config::{
    DEFAULT_API_ORIGIN, DEFAULT_TIMEOUT, Environment, LOCAL_API_ORIGIN, ZabyGlobalConfig,
    configure_zaby, reset_zaby_config,
};
pub use error::{ApiError, DecodeError, Error, Result};
pub use event::{RunEvent, SseEvent};
pub use feedback::{Feedback, FeedbackApi};
pub use provisioning::{Zaby, ZabyBuilder};
pub use request::MAX_JSON_BODY;
pub use retry::RetryPolicy;
pub use runs::{EventsQuery, Run, RunStatus, Runs, StartRun};
pub use stream::EventStream;
pub use token_source::{MintingTokenSource, TokenError, TokenSource};
pub use tokens::{RuntimeToken, RuntimeTokenRequest, RuntimeTokens};
pub use transport::{HttpTransport, Transport, TransportRequest, TransportResponse};
