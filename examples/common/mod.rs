//! How the examples find a runtime, as the official SDKs' examples do:
//! - `ZABY_API_KEY`, `ZABY_EXTERNAL_APP_ID` and `ZABY_AGENT_DEPLOYMENT_ID`:
//!   mint runtime tokens with the API key (server-side code only);
//! - else `ZABY_RUNTIME_TOKEN`: use that token;
//! - else the crate's local fake runtime.
//!
//! `ZABY_API_ORIGIN` or `ZABY_ENVIRONMENT`, when set, pick the service.

use std::env::var;

use zaby::testing::FakeRuntime;
use zaby::{MintingTokenSource, RuntimeTokenRequest, Zaby, ZabyRuntime};

/// The client, and the fake runtime it talks to when nothing is set (keep it
/// alive as long as the client is used).
pub fn connect() -> Result<(ZabyRuntime, Option<FakeRuntime>), Box<dyn std::error::Error>> {
    if let (Ok(key), Ok(app), Ok(deployment)) = (
        var("ZABY_API_KEY"),
        var("ZABY_EXTERNAL_APP_ID"),
        var("ZABY_AGENT_DEPLOYMENT_ID"),
    ) {
        let request = RuntimeTokenRequest::new(app, deployment).channel("server");
        let source = MintingTokenSource::new(Zaby::new(key)?, request);
        return Ok((ZabyRuntime::builder().token_source(source).build()?, None));
    }
    if let Ok(token) = var("ZABY_RUNTIME_TOKEN") {
        return Ok((ZabyRuntime::new(token)?, None));
    }
    let fake = FakeRuntime::start();
    eprintln!(
        "ZABY_RUNTIME_TOKEN is not set: using the local fake runtime at {}",
        fake.url()
    );
    let runtime = ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .build()?;
    Ok((runtime, Some(fake)))
}

/// [`connect`], or the error in one line and exit status 1.
#[allow(dead_code)] // not every example needs it
pub fn connect_or_exit() -> (ZabyRuntime, Option<FakeRuntime>) {
    connect().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    })
}
