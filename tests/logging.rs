//! The `log` feature: one line per request, never the credential.

use std::sync::Mutex;

use zaby::testing::FakeRuntime;
use zaby::{EventsQuery, RetryPolicy, ZabyRuntime};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "zaby"
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

#[test]
fn one_line_per_request_with_status_request_id_and_retry_count() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let fake = FakeRuntime::start();
    fake.fail_next(1, 503, Some(0));
    let runtime = ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .retries(RetryPolicy::attempts(1))
        .build()
        .unwrap();
    let run = runtime
        .runs()
        .start(zaby::StartRun::new("hi").request_id("req-log-1"))
        .unwrap();
    runtime
        .runs()
        .events(&run.run_id, EventsQuery::default())
        .unwrap();
    let lines = LINES.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("POST /api/v1/agent-runtime/runs -> 503 in "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with("(request id req-log-1, retry 0)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("POST /api/v1/agent-runtime/runs -> 200 in "),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with("(request id req-log-1, retry 1)"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("/events -> 200"), "{}", lines[2]);
    assert!(lines.iter().all(|l| !l.contains(&fake.token())));
}
