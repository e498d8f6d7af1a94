//! How the examples find a runtime: the real service when a token is set,
//! else the crate's local fake runtime.

use zaby::ZabyRuntime;
use zaby::testing::FakeRuntime;

/// The client, and the fake runtime it talks to when no token is set (keep
/// it alive as long as the client is used).
pub fn connect() -> Result<(ZabyRuntime, Option<FakeRuntime>), Box<dyn std::error::Error>> {
    if let Ok(token) = std::env::var("ZABY_RUNTIME_TOKEN") {
        // ZABY_API_ORIGIN and ZABY_ENVIRONMENT, when set, pick the service.
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
