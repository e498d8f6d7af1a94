//! The blocking Rust SDK for the Zaby agent runtime: start runs on a deployed
//! agent, stream their events as a plain [`Iterator`], answer approval
//! requests and send feedback, with no async runtime. For CLI tools, game and
//! desktop loops that poll once a frame, and thread-per-request services.
//!
//! ```no_run
//! use zaby::{Feedback, RunEvent, ZabyRuntime};
//!
//! let runtime = ZabyRuntime::new("eyJhbGciOi...")?; // a runtime token (JWT)
//! let run = runtime.runs().start("What's the weather in London?")?;
//! for event in runtime.runs().stream(&run.run_id)? {
//!     // The stream ends by itself at the run's end.
//!     if let RunEvent::Text { content } = event?.kind() {
//!         print!("{content}");
//!     }
//! }
//! runtime.feedback().create(&run.run_id, Feedback::rating(5))?;
//! # Ok::<(), zaby::Error>(())
//! ```
//!
//! Where to start:
//!
//! - [`ZabyRuntime`] and its [builder](ZabyRuntimeBuilder): the runtime client,
//!   with [`Runs`], [`Approvals`] and [`FeedbackApi`]; [`EventStream`] for the
//!   live events, [`RunEvent`] for their typed view, [`RunState`] to fold them.
//! - [`Zaby`]: the provisioning client holding the tenant API key, which mints
//!   runtime tokens ([`RuntimeTokens`]); [`MintingTokenSource`] keeps a runtime
//!   client's token fresh.
//! - [`RequestOptions`]: a request id, headers, query, timeout, retries or a
//!   [`CancelHandle`] for one call.
//! - [`Error`]: one enum of kinds to match on.
//! - [`testing::MockTransport`] for your tests, and with the `testing` feature
//!   `testing::FakeRuntime`, a whole runtime on loopback.
//!
//! Cargo features: `testing` (the fake runtime), `log` (one `debug` line per
//! request), `tracing` (one span per request and per stream),
//! `platform-verifier` (`TlsRoots::platform`). None is on by default.
//!
//! The [README](https://crates.io/crates/zaby) has the guide: configuration,
//! streaming, resume, networks and proxies, porting from the Python and
//! TypeScript SDKs, and the measurements.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod macros;

// The layers of one call, top to bottom, are listed in `pipeline.rs`.
mod agent;
mod api_error;
mod approvals;
mod backoff;
mod body;
mod call;
mod cancel;
mod client;
mod config;
mod credential;
mod deadline;
mod error;
mod event;
mod feedback;
mod headers;
mod mask;
mod minting;
mod no_proxy;
mod options;
mod path;
mod pipeline;
mod positions;
mod provisioning;
mod proxy;
mod redirect;
mod retry;
mod retry_after;
mod run;
mod run_state;
mod runs;
mod runtime_token;
mod seen_ids;
pub mod sse;
mod stream;
pub mod testing;
mod time;
mod tls;
mod tokens;
mod tool_call;
mod transport;

pub use approvals::Approvals;
pub use body::MAX_JSON_BODY;
pub use cancel::CancelHandle;
pub use client::{DEFAULT_MAX_RECONNECTS, ZabyRuntime, ZabyRuntimeBuilder};
pub use config::{
    DEFAULT_API_ORIGIN, DEFAULT_TIMEOUT, Environment, LOCAL_API_ORIGIN, ZabyGlobalConfig,
    configure_zaby, reset_zaby_config,
};
pub use credential::TokenSource;
pub use error::{ApiError, CredentialError, DecodeError, Error, Result, TokenError};
pub use event::{RunEvent, SseEvent};
pub use feedback::{Feedback, FeedbackApi};
pub use minting::MintingTokenSource;
pub use options::RequestOptions;
pub use provisioning::{Zaby, ZabyBuilder};
pub use retry::RetryPolicy;
pub use run::{Run, RunStatus};
pub use run_state::{ApprovalRequest, Change, RunPhase, RunState};
pub use runs::{EventsQuery, Runs, StartRun};
pub use runtime_token::RuntimeToken;
pub use stream::EventStream;
pub use tls::TlsRoots;
pub use tokens::{RuntimeTokenRequest, RuntimeTokens, UniqueIdRotation};
pub use tool_call::ToolCallState;
pub use transport::{HttpTransport, Transport, TransportRequest, TransportResponse};

// The README's examples are compiled and run as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
