//! With the `tracing` feature: one span per request and one per stream,
//! with the fields a trace viewer needs and never a secret.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use zaby::testing::FakeRuntime;
use zaby::{RunEvent, ZabyRuntime};

/// A span's name and its fields, those recorded later included.
type SpanRecord = (String, Vec<(String, String)>);

/// Every span opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanRecord>>>);

struct Recorder {
    spans: Spans,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let mut spans = self.spans.0.lock().unwrap();
        spans.push((span.metadata().name().to_owned(), fields));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.0.lock().unwrap();
        let index = span.into_u64() as usize - 1;
        values.record(&mut Fields(&mut spans[index].1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_call_and_a_stream_each_have_a_span_without_the_token() {
    let fake = FakeRuntime::start();
    fake.cut_after_events(2);
    let spans = Spans::default();
    let recorder = Recorder {
        spans: spans.clone(),
    };
    tracing::subscriber::with_default(recorder, || {
        let runtime = ZabyRuntime::builder()
            .token(fake.token())
            .api_origin(fake.url())
            .build()
            .unwrap();
        let run = runtime
            .runs()
            .start(zaby::StartRun::new("hi").request_id("req-traced"))
            .unwrap();
        let mut stream = runtime.runs().stream(&run.run_id).unwrap();
        let text: String = stream
            .by_ref()
            .filter_map(|e| match e.unwrap().kind() {
                RunEvent::Text { content } => Some(content.to_owned()),
                _ => None,
            })
            .collect();
        assert!(!text.is_empty());
        assert!(stream.reconnects() >= 1);
    });
    let spans = spans.0.lock().unwrap();
    let start = spans
        .iter()
        .find(|(name, f)| name == "zaby.request" && field(f, "method") == Some("\"POST\""))
        .expect("a span for POST /runs");
    assert_eq!(field(&start.1, "request_id"), Some("\"req-traced\""));
    assert_eq!(field(&start.1, "status"), Some("200"));
    assert_eq!(field(&start.1, "attempt"), Some("0"));
    let stream = spans
        .iter()
        .find(|(name, _)| name == "zaby.stream")
        .expect("a span for the stream");
    assert!(field(&stream.1, "run_id").is_some());
    assert_ne!(
        field(&stream.1, "reconnects"),
        Some("0"),
        "reconnects are recorded"
    );
    let shown = format!("{:?}", *spans);
    assert!(!shown.contains(&fake.token()), "{shown}");
}
