//! A run's live event stream: an iterator that resumes after a dropped
//! connection, stops by itself when the run ends, and can be cancelled.

use std::fmt;
use std::io::{BufReader, Read};
use std::sync::mpsc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::call::Call;
use crate::error::is_timeout;
use crate::headers::header;
use crate::pipeline::Answer;
use crate::seen_ids::SeenIds;
use crate::sse::{ReadError, SseReader};
use crate::{CancelHandle, Error, RequestOptions, Result, SseEvent, ZabyRuntime};

/// The read buffer of a stream: events are usually far smaller.
const BUFFER: usize = 16 * 1024;

/// How a cut stream resumes: its own policy, apart from the call retries.
/// Without a `retry:` from the server it waits 250 ms doubling to 5 s,
/// jittered. A `retry:` is used as given (no jitter) up to `max_wait`; a
/// `retry-after` on a refused resume longer than `max_wait` ends the stream
/// with that error instead of being slept on.
struct ResumePolicy {
    max_reconnects: u32,
    backoff: Backoff,
    max_wait: Duration,
}

impl ResumePolicy {
    fn new(max_reconnects: u32) -> ResumePolicy {
        ResumePolicy {
            max_reconnects,
            backoff: Backoff {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(5),
                jitter: true,
            },
            max_wait: Duration::from_secs(30),
        }
    }
}

type Body = BufReader<Box<dyn Read + Send>>;

/// The events of one run, as they happen: `Iterator<Item = Result<SseEvent>>`.
///
/// It ends (`None`) right after the event that finishes the run
/// ([`SseEvent::is_terminal`]). If the connection drops first, it reconnects
/// with `last-event-id` and skips what it already yielded; when it cannot,
/// the last item is [`Error::Stream`] saying the stream was cut short, never
/// a silent end. A silent server fails it with [`Error::Timeout`] after the
/// idle timeout. Dropping it releases the connection.
///
/// Skipping is exact however much the server replays, in any order, which
/// takes memory: numeric ids that count up by one cost nothing, and any other
/// id yielded is kept as an 8-byte hash, about 11 bytes with the room around
/// it and up to 16 just after it grows (1,000,000 text ids: about 10 MB). Events without ids cannot be
/// recognised and are yielded as they come.
///
/// # Example
/// ```
/// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
/// # let mock = MockTransport::new();
/// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![
/// #     SseEvent::new("text", serde_json::json!({"content": "Hello"})),
/// #     SseEvent::new("RunFinished", serde_json::json!({})),
/// # ]);
/// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
/// use zaby::RunEvent;
/// for event in runtime.runs().stream("r1")? {
///     match event?.kind() {
///         RunEvent::Text { content } => print!("{content}"),
///         RunEvent::RunFinished { .. } => println!(),
///         _ => {}
///     }
/// }
/// # Ok::<(), zaby::Error>(())
/// ```
pub struct EventStream {
    client: ZabyRuntime,
    path: String,
    reader: SseReader<Body>,
    cancel: CancelHandle,
    /// The caller's options, sent again on every resume.
    options: RequestOptions,
    resume: ResumePolicy,
    seen: SeenIds,
    reconnects: u32,
    failures_in_row: u32,
    done: bool,
    /// `zaby.stream`: the run id and the reconnects, entered on every read.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("path", &self.path)
            .field("last_event_id", &self.last_event_id())
            .field("reconnects", &self.reconnects)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Connects to the run's stream; a non-2xx answer is this call's error.
    pub(crate) fn open(
        client: &ZabyRuntime,
        run_id: &str,
        path: String,
        options: &RequestOptions,
    ) -> Result<EventStream> {
        #[cfg(feature = "tracing")]
        let span = tracing::debug_span!("zaby.stream", run_id, reconnects = 0u32);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        #[cfg(not(feature = "tracing"))]
        let _ = run_id;
        // The caller's handle, when given, is the stream's: it ends it whenever.
        let cancel = options
            .cancel
            .as_ref()
            .map_or_else(CancelHandle::new, CancelHandle::child);
        let options = RequestOptions {
            cancel: None,
            ..options.clone()
        };
        let body = connect(client, &path, &options, None, &cancel, None)?;
        let resume = ResumePolicy::new(client.max_reconnects);
        Ok(EventStream {
            client: client.clone(),
            path,
            reader: SseReader::new(BufReader::with_capacity(BUFFER, body))
                .with_max_event_size(client.stream_max_event_size),
            cancel,
            options,
            resume,
            seen: SeenIds::default(),
            reconnects: 0,
            failures_in_row: 0,
            done: false,
            #[cfg(feature = "tracing")]
            span: span.clone(),
        })
    }

    /// A handle that stops this stream from any thread, at once.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![SseEvent::new("text", serde_json::json!({"content": "Hi"}))]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let mut stream = runtime.runs().stream("r1")?;
    /// let cancel = stream.cancel_handle();
    /// std::thread::spawn(move || cancel.cancel()).join().unwrap();
    /// assert!(stream.next().is_none());
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// The id of the last complete event block, as a resume would send it.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # let mut text = SseEvent::new("text", serde_json::json!({"content": "Hi"}));
    /// # text.id = Some("41".into());
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![text]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let mut stream = runtime.runs().stream("r1")?;
    /// stream.next().transpose()?;
    /// assert_eq!(stream.last_event_id(), Some("41")); // a resume would start after it
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn last_event_id(&self) -> Option<&str> {
        self.reader.last_event_id()
    }

    /// How many times the stream reconnected.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # let mut finished = SseEvent::new("RunFinished", serde_json::json!({}));
    /// # finished.id = Some("7".into());
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![finished]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let mut stream = runtime.runs().stream("r1")?;
    /// for event in stream.by_ref() {
    ///     event?;
    /// }
    /// assert_eq!(stream.reconnects(), 0);
    /// assert_eq!(stream.last_event_id(), Some("7"));
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// Moves the blocking reads to a background thread: poll the receiver
    /// with `try_recv` once a frame. Cancelling ends the thread at once;
    /// dropping the receiver ends it when the next event arrives.
    ///
    /// # Example
    /// ```
    /// # use zaby::{testing::MockTransport, SseEvent, ZabyRuntime};
    /// # let mock = MockTransport::new();
    /// # mock.push_sse("GET", "/api/v1/agent-runtime/runs/r1/aiui", vec![SseEvent::new("RunFinished", serde_json::json!({}))]);
    /// # let runtime = ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// let (events, _cancel) = runtime.runs().stream("r1")?.into_channel();
    /// loop {
    ///     match events.try_recv() {
    ///         Ok(event) => { let _ = event?; }
    ///         Err(std::sync::mpsc::TryRecvError::Empty) => { /* draw a frame */ }
    ///         Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
    ///     }
    /// #   std::thread::yield_now();
    /// }
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn into_channel(self) -> (mpsc::Receiver<Result<SseEvent>>, CancelHandle) {
        let cancel = self.cancel_handle();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let forward = std::panic::AssertUnwindSafe(|| {
                for item in self {
                    if tx.send(item).is_err() {
                        break;
                    }
                }
            });
            // A panic (in a token provider, say) is the last item, not a quiet end.
            if std::panic::catch_unwind(forward).is_err() {
                let _ = tx.send(Err(Error::Stream(
                    "the stream's background thread panicked; the stream was cut short".to_owned(),
                )));
            }
        });
        (rx, cancel)
    }

    /// Ends the stream and releases its connection.
    fn finish(&mut self) {
        self.done = true;
        self.reader
            .replace_reader(BufReader::with_capacity(0, Box::new(std::io::empty())));
        self.cancel.clear_hook();
    }

    /// Ends the stream with this error, or quietly when it was cancelled.
    fn fail(&mut self, error: Error) -> Option<Result<SseEvent>> {
        self.finish();
        Some(Err(error)).filter(|_| !self.cancel.is_cancelled())
    }

    /// Reconnects after a cut, as often as allowed; `Err` ends the stream.
    /// (A cancel during the wait is an error too, which `fail` keeps quiet.)
    fn resume(&mut self, why: &str) -> Result<()> {
        let Some(last_id) = self.reader.last_event_id().map(str::to_owned) else {
            return Err(Error::Stream(format!(
                "{why}, and no event id was seen to resume from: the stream was cut short"
            )));
        };
        // A resume sends the id back in a header: one that cannot go there ends it.
        if !last_id
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err(Error::Stream(format!(
                "{why}, and the last event id cannot be sent back in a header to resume"
            )));
        }
        let policy = &self.resume;
        let mut retry_after = None;
        loop {
            if self.failures_in_row >= policy.max_reconnects {
                return Err(Error::Stream(format!(
                    "{why}; the stream was cut short and {} reconnects in a row did not bring it back",
                    self.failures_in_row
                )));
            }
            let wait = retry_after
                .or(self.reader.retry().map(|d| d.min(policy.max_wait)))
                .unwrap_or_else(|| policy.backoff.delay(self.failures_in_row));
            if self.cancel.sleep(wait) {
                return Err(Error::Stream("cancelled".to_owned()));
            }
            self.failures_in_row += 1;
            self.reconnects += 1;
            #[cfg(feature = "tracing")]
            self.span.record("reconnects", self.reconnects);
            let attempt = Some(self.failures_in_row - 1);
            match connect(
                &self.client,
                &self.path,
                &self.options,
                Some(&last_id),
                &self.cancel,
                attempt,
            ) {
                Ok(body) => {
                    self.seen.resumed();
                    self.reader
                        .replace_reader(BufReader::with_capacity(BUFFER, body));
                    return Ok(());
                }
                Err(e)
                    if e.is_retryable() && e.retry_after().is_none_or(|w| w <= policy.max_wait) =>
                {
                    retry_after = e.retry_after();
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Once it has ended, it stays ended.
impl std::iter::FusedIterator for EventStream {}

impl Drop for EventStream {
    /// Releases what a cancel would have interrupted (the stream's agent),
    /// even while clones of the cancel handle live on.
    fn drop(&mut self) {
        self.cancel.clear_hook();
    }
}

impl Iterator for EventStream {
    type Item = Result<SseEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        #[cfg(feature = "tracing")]
        let _entered = self.span.clone().entered();
        loop {
            if self.done || self.cancel.is_cancelled() {
                if !self.done {
                    self.finish();
                }
                return None;
            }
            let why = match self.reader.next_event() {
                Ok(Some(event)) => {
                    if !self.seen.first_time(event.id.as_deref()) {
                        continue;
                    }
                    self.failures_in_row = 0;
                    if event.is_terminal() {
                        // The server may hold the connection open: do not wait for it.
                        self.finish();
                    }
                    return Some(Ok(event));
                }
                Ok(None) => "the connection ended before the run finished".to_owned(),
                Err(ReadError::Io(e)) if is_timeout(&e) => {
                    return self.fail(Error::Timeout(format!(
                        "waiting for the next event ({:?} without a byte)",
                        self.options
                            .timeout
                            .or(self.client.stream_idle_timeout)
                            .unwrap_or_default()
                    )));
                }
                Err(ReadError::Io(e)) => format!("the connection broke ({e})"),
                Err(too_large @ ReadError::TooLarge { .. }) => {
                    return self.fail(too_large.into_error());
                }
            };
            if self.cancel.is_cancelled() {
                continue;
            }
            if let Err(error) = self.resume(&why) {
                return self.fail(error);
            }
        }
    }
}

/// Opens the stream body. The first open (`resume_attempt` `None`) follows
/// the retry policy; resumes are counted by `max_reconnects` instead.
fn connect(
    client: &ZabyRuntime,
    path: &str,
    options: &RequestOptions,
    last_event_id: Option<&str>,
    cancel: &CancelHandle,
    resume_attempt: Option<u32>,
) -> Result<Box<dyn Read + Send>> {
    let call = Call::stream(
        path.to_owned(),
        client.stream_idle_timeout,
        cancel.clone(),
        last_event_id.map(str::to_owned),
    )
    .with_options(options)?;
    let Answer { response, secret } = match resume_attempt {
        None => client.core.send(&call)?,
        Some(attempt) => client.core.attempt(&call, attempt)?,
    };
    if response.status == 204 {
        return Err(Error::Stream(
            "the server answered 204 No Content: it has no stream for this run".to_owned(),
        ));
    }
    if let Some(kind) = header(&response.headers, "content-type") {
        if !kind
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return Err(Error::Stream(format!(
                "expected an event stream (text/event-stream) but the server sent {kind}"
            ))
            .masked(&secret));
        }
    }
    Ok(response.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_back_off_from_250_ms_to_5_s_with_jitter() {
        let policy = ResumePolicy::new(3);
        let ms = Duration::from_millis;
        for (attempt, full) in [(0, ms(250)), (1, ms(500)), (10, ms(5000))] {
            let wait = policy.backoff.delay(attempt);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
    }
}
