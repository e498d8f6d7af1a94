//! A fake Zaby runtime on 127.0.0.1, for tests and examples.

// In layers: a module uses only modules of the layers below its own.
// The server: connections, stopping, and the router.
mod server;
// The handlers of the provisioning routes, the runtime routes and the stream.
mod provisioning;
mod runtime;
mod stream;
// The shared state.
mod state;
// What the state holds: the token model, the scripted agent, the record of requests.
mod ledger;
mod recorded;
mod script;
// Reading requests: body fields, paths and queries.
mod fields;
mod route;
// Answers.
mod answer;
// Leaves: the clock, HTTP/1.1, made-up ids and tokens.
mod clock;
mod http;
mod ids;
mod jwt;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use recorded::FakeRequest;
use state::{Injected, Shared};

/// The token every fake accepts: shaped like a JWT, signed by nobody.
const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmYWtlLXJ1bnRpbWUiLCJpc3MiOiJ6YWJ5LWZha2UifQ.ZmFrZS1zaWduYXR1cmUtbm90LXZlcmlmaWVk";

/// A fake Zaby runtime: a real HTTP/1.1 server on `127.0.0.1`, with a scripted
/// agent and fault knobs, for tests and examples. It stops when dropped.
///
/// It serves every endpoint of the runtime API under `/api/v1/agent-runtime`,
/// with keep-alive connections, and checks `authorization: Bearer <token>`:
/// the fixed [`token`](Self::token) is always accepted, and so is every token
/// the fake has minted while it is valid (see [Minting](#minting)); anything
/// else answers `401` with code `UNAUTHORIZED`. It also serves the
/// provisioning side under `/api/v1/provisioning`, which mints those tokens.
///
/// # The scripted agent
///
/// `POST /runs` takes `{"input", "requestId"?, "respondAsync"?}`. The input's
/// text is the input itself when it is a JSON string, else its compact JSON.
/// The run's answer is `"You said:"` followed by each whitespace-separated
/// word of the text with one leading space: the input `"hello big world"`
/// gives `"You said: hello big world"`. Its events, with ids `1, 2, …`:
///
/// 1. `event: thinking`, `{"content": "..."}`
/// 2. `event: tool_call`, `{"toolName": "echo", "toolCallId": "call-1", "args": {"text": <text>}}`
/// 3. `event: tool_result`, `{"toolCallId": "call-1", "result": <text>}`
/// 4. the answer, one event per piece (`"You said:"`, then `" word"` for each
///    word), alternating two forms: even pieces (the first, third, …) as
///    `event: text`, `{"content": <piece>}`, odd pieces with no `event:` line
///    and `{"type": "TEXT_MESSAGE_CONTENT", "messageId": "msg-<n>", "delta": <piece>}`
///    (AG-UI). The pieces concatenated equal the run's `finalOutput`.
/// 5. `event: RunFinished`, `{"result": {"finalOutput": <answer>}}`
///
/// So `"hello big world"` yields 8 events: `thinking`, `tool_call`,
/// `tool_result`, `text`, (AG-UI), `text`, (AG-UI), `RunFinished`.
///
/// The agent runs at once: `POST /runs` answers `status: "COMPLETED"` with
/// `finalOutput` and `latestSeq` (the number of events), or `"PENDING"`
/// without `finalOutput` when `respondAsync` is true (the run has
/// nonetheless completed, and a repeated start says so) or when the run waits
/// for an approval. A `requestId` in the body (else the `x-request-id` header)
/// makes the start idempotent: the same id answers the same run. An input that
/// is missing or `null` answers `422` with code `VALIDATION_ERROR`.
///
/// # Approvals
///
/// An input text containing `[approval]` (the marker stays part of the text)
/// stops the script after the tool call with
/// `event: approval_required`, `{"approvalId": "approval-<n>", "runId", "message"}`
/// and the stream sends nothing more, keeping the connection open, until
/// `POST /runs/{runId}/approvals/{approvalId}/approve` (the script goes on from
/// `tool_result`) or `/reject` (a final `event: RunError`,
/// `{"message": "approval rejected"}`) arrives. Both answer
/// `{"approvalId", "status": "approved" | "rejected"}`; repeating the same
/// decision answers the same, the opposite one answers `409`, an unknown run or
/// approval `404`.
///
/// # The other endpoints
///
/// - `GET /runs/{runId}/aiui` streams the events (chunked, one chunk per event)
///   with an `id:` line each; with `last-event-id: N` only the events after `N`.
///   A stream that reaches the end of a paused run waits as above.
/// - `GET /runs/{runId}/events?limit=N` answers
///   `{"events": [{"seq", "event"?, "data"}, ...]}`, the events produced so
///   far, at most `N` (default 50); AG-UI events have no `event` member.
/// - `POST /runs/{runId}/feedback` records its JSON body (see
///   [`feedback`](Self::feedback)) and answers `{"feedbackId", "status": "recorded"}`.
/// - Unknown runs answer `404`, unknown routes `404`, a wrong method `405`,
///   all with a JSON body `{"message", "code"}`. Every JSON answer carries
///   `x-request-id`: the request's own, else a generated one.
///
/// # Minting
///
/// The provisioning endpoints, under `/api/v1/provisioning`, want the header
/// `x-zaby-api-key` equal to [`api_key`](Self::api_key); a wrong or missing
/// key answers `401` with code `INVALID_API_KEY`. All are `POST` with a JSON
/// object body; a missing required field, or a field of the wrong type,
/// answers `422` with code `VALIDATION_ERROR`. Unknown fields are ignored.
///
/// - `/managed-agents/external-apps/{externalAppId}/runtime-tokens` mints a
///   token. It takes every field of the wire: `deploymentId` (required),
///   `uniqueId`, `externalUserId`, `externalConversationId`,
///   `externalSessionId`, `displayName`, `emailHash`, `locale`, `timezone`
///   (strings), `channel` (`web`, `mobile`, `server`, `support` or
///   `embedded`), `quotaPolicyId`, `tokenFamilyId`, `metadata` (an object),
///   `scopes` (strings; default `["agent-runtime"]`), `ttlSeconds` (1 to one
///   year of 366 days; default 3600), `maxUses` (1 to 2³² − 1; default no
///   cap) and `requestId`. Without `tokenFamilyId` the token starts a new
///   family; with the id of a known family it joins it (a revoked one answers
///   `409` with code `TOKEN_FAMILY_REVOKED`); an unknown id starts a family
///   under that id.
/// - `/managed-agents/runtime-tokens/rotate`, `{"previousToken", "requestId"?}`,
///   mints a token in the previous token's family with its settings (ttl,
///   `maxUses`, scopes, ids). The previous token may have expired or used up
///   its uses; an unknown one, one already rotated, or one of a revoked
///   family answers `401` with code `UNAUTHORIZED`.
/// - `/managed-agents/external-apps/{externalAppId}/runtime-tokens/rotate`,
///   `{"deploymentId", "uniqueId", "tokenFamilyId"?, "quotaPolicyId"?,
///   "requestId"?}`, mints a token for that unique id: in the given family
///   (unknown, or not the unique id's: `404`; revoked: `409`), else in the
///   family the unique id last minted in, else (none yet, or revoked) in a
///   new family. It keeps the settings of the family's latest token, with
///   this `deploymentId` and, when given, this `quotaPolicyId`; a new family
///   gets the defaults.
/// - `/managed-agents/runtime-token-families/{tokenFamilyId}/revoke`,
///   `{"reason"}`, answers `{"tokenFamilyId", "revokedAt"}`; an unknown family
///   answers `404`. Revoking again answers the first `revokedAt`.
///
/// Minting and both rotations answer
/// `{"token", "tokenType": "Bearer", "expiresAt", "scopes", "grantId",
/// "tokenFamilyId", "quotaPolicyId"?, "uniqueIdHash"?, "rotateAfterSeconds",
/// "remainingUses"?, "agentSessionId", "externalAppId", "deploymentId"}`:
/// the token is a fresh JWT-shaped string, distinct from every other token
/// minted in the process; `expiresAt` is ISO-8601 in UTC with whole seconds
/// (`"2026-11-29T12:34:56Z"`): the fake's [`now`](Self::now) plus the ttl,
/// rounded down to the second; `rotateAfterSeconds` is 80 % of the ttl;
/// `remainingUses` equals `maxUses` and is present only with it;
/// `quotaPolicyId` and `uniqueIdHash` only when a quota policy or unique id
/// was given. The agent session id is the same for every token of one
/// `(externalAppId, uniqueId)`, else one per family.
///
/// A rotation retires every earlier token of its family: only the new one
/// (and tokens minted into the family afterwards) keeps working.
///
/// On runtime requests, a minted token is checked in this order: unknown
/// (`401 UNAUTHORIZED`), expired, that is the fake's clock at or past
/// `expiresAt` (`401` with code `MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`), its
/// family revoked or the token rotated (`401 UNAUTHORIZED`), all its
/// `maxUses` used (`403` with code
/// `MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED`). A request that
/// passes counts one use, whatever the endpoint and whatever it then answers
/// (a `404` included): starting a run, opening a stream, resuming it, reading
/// events, approving, sending feedback. The fixed [`token`](Self::token) has
/// neither expiry nor cap.
///
/// The fake's clock is real time plus an offset that
/// [`advance_clock`](Self::advance_clock) moves forward, so tests can expire
/// tokens without waiting. [`mints`](Self::mints) and
/// [`minted_tokens`](Self::minted_tokens) tell what was minted, and
/// [`fail_mints`](Self::fail_mints) makes minting fail.
///
/// # Faults
///
/// The `&self` knobs below change how the fake answers: injected statuses
/// ([`fail_next`](Self::fail_next)), expired tokens
/// ([`expire_tokens`](Self::expire_tokens)), and stream troubles
/// ([`cut_after_events`](Self::cut_after_events),
/// [`event_delay`](Self::event_delay), [`keep_alive`](Self::keep_alive),
/// [`malformed_stream`](Self::malformed_stream),
/// [`hold_open_after_finish`](Self::hold_open_after_finish),
/// [`retry_ms`](Self::retry_ms),
/// [`close_delimited_streams`](Self::close_delimited_streams)), and failed
/// mints ([`fail_mints`](Self::fail_mints)). On runtime requests, injected
/// failures come first, then expired tokens, then the token check. On
/// provisioning requests, injected failures come first, then the API key
/// check, then routing, then failed mints, then the body's validation.
pub struct FakeRuntime {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl FakeRuntime {
    /// Starts a fake runtime on `127.0.0.1` with a free port.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound or no thread can be started.
    ///
    /// # Example
    ///
    /// ```
    /// use zaby::testing::FakeRuntime;
    ///
    /// let fake = FakeRuntime::start();
    /// let agent: ureq::Agent = ureq::Agent::config_builder()
    ///     .http_status_as_error(false)
    ///     .build()
    ///     .into();
    /// let mut answer = agent
    ///     .post(format!("{}/api/v1/agent-runtime/runs", fake.url()))
    ///     .header("authorization", format!("Bearer {}", fake.token()))
    ///     .content_type("application/json")
    ///     .send(r#"{"input": "hello"}"#)
    ///     .unwrap();
    /// assert_eq!(answer.status(), 200);
    /// let run: serde_json::Value =
    ///     serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    /// assert_eq!(run["finalOutput"], "You said: hello");
    /// ```
    pub fn start() -> FakeRuntime {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake runtime: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake runtime: local address");
        let shared = Arc::new(Shared::new(TOKEN.to_owned()));
        let accept = server::spawn(Arc::clone(&shared), listener)
            .expect("fake runtime: spawn the accept thread");
        FakeRuntime {
            shared,
            addr,
            accept: Some(accept),
        }
    }

    /// The origin to give a client, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token the fake accepts.
    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    /// Every request received so far, runtime and provisioning, in arrival
    /// order, including refused ones (requests too malformed to parse are not
    /// recorded).
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.shared.state().requests.clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.state().requests.clear();
    }

    /// How many runs `POST /runs` has created (idempotent repeats not counted).
    pub fn runs_started(&self) -> usize {
        self.shared.state().runs.len()
    }

    /// The feedback recorded so far: `(run id, JSON body)` in arrival order;
    /// `Value::Null` for a request with no body.
    pub fn feedback(&self) -> Vec<(String, Value)> {
        self.shared.state().feedback.clone()
    }

    /// The next `n` requests, of any kind, answer `status` with a JSON error
    /// body (code `FAKE_FAILURE`) and, when given, `retry-after: <seconds>`.
    /// They are still recorded. A later call replaces what is left of this one.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<u64>) {
        self.shared.state().knobs.fail = Injected::new(n, status, retry_after);
    }

    /// The next `n` runtime requests answer `401` with code
    /// `MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED`, whatever token they carry.
    /// Provisioning requests neither see nor use up this knob. A request it
    /// refuses counts no use of a minted token.
    pub fn expire_tokens(&self, n: usize) {
        self.shared.state().knobs.expire_tokens = n;
    }

    /// The tenant API key the provisioning endpoints accept in
    /// `x-zaby-api-key`: the same for every fake. It never appears in `Debug`
    /// output, of the fake or of its [`requests`](Self::requests).
    pub fn api_key(&self) -> String {
        provisioning::API_KEY.to_owned()
    }

    /// Moves the fake's clock forward by `by`. The clock is real time plus the
    /// sum of these moves; it decides whether a minted token has expired and
    /// sets `expiresAt` (and `revokedAt`) of later calls. Tokens minted before
    /// keep their expiry, so advancing past it expires them at once.
    ///
    /// # Example
    ///
    /// A token minted with `ttlSeconds: 60` expires once the clock moves 60 s:
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zaby::testing::FakeRuntime;
    /// let fake = FakeRuntime::start();
    /// let agent: ureq::Agent = ureq::Agent::config_builder()
    ///     .http_status_as_error(false)
    ///     .build()
    ///     .into();
    /// let text = agent
    ///     .post(format!(
    ///         "{}/api/v1/provisioning/managed-agents/external-apps/app-1/runtime-tokens",
    ///         fake.url()
    ///     ))
    ///     .header("x-zaby-api-key", fake.api_key())
    ///     .content_type("application/json")
    ///     .send(r#"{"deploymentId": "dep-1", "ttlSeconds": 60}"#)
    ///     .unwrap()
    ///     .body_mut()
    ///     .read_to_string()
    ///     .unwrap();
    /// let minted: serde_json::Value = serde_json::from_str(&text).unwrap();
    /// let token = minted["token"].as_str().unwrap();
    /// let start_run = || {
    ///     agent
    ///         .post(format!("{}/api/v1/agent-runtime/runs", fake.url()))
    ///         .header("authorization", format!("Bearer {token}"))
    ///         .content_type("application/json")
    ///         .send(r#"{"input": "hi"}"#)
    ///         .unwrap()
    /// };
    /// assert_eq!(start_run().status(), 200);
    /// fake.advance_clock(Duration::from_secs(60));
    /// let mut refused = start_run();
    /// assert_eq!(refused.status(), 401);
    /// let body: serde_json::Value =
    ///     serde_json::from_str(&refused.body_mut().read_to_string().unwrap()).unwrap();
    /// assert_eq!(body["code"], "MANAGED_AGENT_RUNTIME_TOKEN_EXPIRED");
    /// ```
    pub fn advance_clock(&self, by: Duration) {
        self.shared.state().clock.advance(by);
    }

    /// The fake's current time: real time plus every
    /// [`advance_clock`](Self::advance_clock) so far.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + self.shared.state().clock.now()
    }

    /// How many tokens were minted: by the create call and both rotations.
    /// Refused calls (bad key, invalid body, [`fail_mints`](Self::fail_mints))
    /// mint nothing.
    pub fn mints(&self) -> usize {
        self.shared.state().ledger.minted.len()
    }

    /// Every token minted so far, in the order minted, whether still valid or not.
    pub fn minted_tokens(&self) -> Vec<String> {
        self.shared.state().ledger.minted.clone()
    }

    /// The next `n` mint calls (create, and both rotations; not revoke) that
    /// carry the right API key and name a known route answer `status` with a
    /// JSON error body (code `FAKE_FAILURE`) and mint nothing. They are still
    /// recorded. A later call replaces what is left of this one.
    pub fn fail_mints(&self, n: usize, status: u16) {
        self.shared.state().knobs.fail_mints = Injected::new(n, status, None);
    }

    /// The next event stream closes its socket abruptly after sending `k`
    /// events: no chunk terminator, so the client sees a cut connection.
    /// Later streams are normal. A stream that has fewer than `k` events left
    /// ends normally (and still uses up the knob).
    pub fn cut_after_events(&self, k: usize) {
        self.shared.state().knobs.cut_after_events = Some(k);
    }

    /// Every stream waits `delay` before each event (`Duration::ZERO`, the
    /// default, for none). Keep-alive comments are sent during the wait when
    /// [`keep_alive`](Self::keep_alive) is set.
    pub fn event_delay(&self, delay: Duration) {
        self.shared.state().knobs.event_delay = delay;
    }

    /// While a stream waits (paused on an approval, or in an
    /// [`event_delay`](Self::event_delay)), it sends a `: keep-alive` comment
    /// line every `interval`. `Duration::ZERO`, the default, sends none.
    pub fn keep_alive(&self, interval: Duration) {
        self.shared.state().knobs.keep_alive = interval;
    }

    /// The next stream request, whatever its run id (even an unknown one),
    /// answers `200 text/event-stream` with exactly `bytes` as its body
    /// instead of the script.
    pub fn malformed_stream(&self, bytes: impl Into<Vec<u8>>) {
        self.shared.state().knobs.malformed_stream = Some(bytes.into());
    }

    /// When `true`, streams do not end their body after the terminal event
    /// (`RunFinished` or `RunError`): the connection stays open until the client
    /// closes it or the fake stops, to check that a client stops by itself.
    pub fn hold_open_after_finish(&self, yes: bool) {
        self.shared.state().knobs.hold_open_after_finish = yes;
    }

    /// With `Some(ms)`, every stream starts with a `retry: <ms>` line (in a block
    /// of its own, which dispatches no event). `None`, the default, sends none.
    pub fn retry_ms(&self, ms: Option<u64>) {
        self.shared.state().knobs.retry_ms = ms;
    }

    /// When `true`, streams are sent without `Transfer-Encoding: chunked`, their
    /// end marked by closing the connection (`connection: close`). Default `false`.
    pub fn close_delimited_streams(&self, yes: bool) {
        self.shared.state().knobs.close_delimited = yes;
    }
}

impl fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeRuntime")
            .field("url", &self.url())
            .field("runs_started", &self.runs_started())
            .field("mints", &self.mints())
            .finish_non_exhaustive()
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        server::stop(&self.shared, self.addr, self.accept.take());
    }
}
