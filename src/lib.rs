#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod macros;

// The layers of one call, top to bottom, are listed in `pipeline.rs`.
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
mod mask;
mod minting;
mod options;
mod path;
mod pipeline;
mod provisioning;
mod proxy;
mod redirect;
mod retry;
mod retry_after;
mod run;
mod run_state;
mod runs;
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
pub use credential::{TokenError, TokenSource};
pub use error::{ApiError, CredentialError, DecodeError, Error, Result};
pub use event::{RunEvent, SseEvent};
pub use feedback::{Feedback, FeedbackApi};
pub use minting::MintingTokenSource;
pub use options::RequestOptions;
pub use provisioning::{Zaby, ZabyBuilder};
pub use retry::RetryPolicy;
pub use run::{Run, RunStatus};
pub use run_state::{ApprovalRequest, Change, RunPhase, RunState};
pub use runs::{EventsQuery, Runs, StartRun};
pub use stream::EventStream;
pub use tls::TlsRoots;
pub use tokens::{RuntimeToken, RuntimeTokenRequest, RuntimeTokens, UniqueIdRotation};
pub use tool_call::ToolCallState;
pub use transport::{HttpTransport, Transport, TransportRequest, TransportResponse};
