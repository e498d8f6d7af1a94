//! The fake runtime's behaviours, driven through the public client: what
//! users' own integration tests will do.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use zaby::testing::FakeRuntime;
use zaby::{Error, EventsQuery, Feedback, RetryPolicy, RunEvent, RunStatus, SseEvent, ZabyRuntime};

fn client(fake: &FakeRuntime) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .stream_idle_timeout(Some(Duration::from_secs(20)))
        .build()
        .unwrap()
}

fn stream_all(runtime: &ZabyRuntime, run_id: &str) -> Vec<SseEvent> {
    runtime
        .runs()
        .stream(run_id)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn text_of(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e.kind() {
            RunEvent::Text { content } => Some(content.to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_run_streams_its_scripted_answer_in_both_event_forms() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("hello big world").unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let events = stream_all(&runtime, &run.run_id);
    assert_eq!(text_of(&events), run.final_output.clone().unwrap());
    assert!(matches!(
        events[1].kind(),
        RunEvent::ToolCall {
            tool_name: Some("echo"),
            ..
        }
    ));
    assert!(
        events
            .iter()
            .any(|e| e.event.is_none() && matches!(e.kind(), RunEvent::Text { .. }))
    );
    assert!(events.last().unwrap().is_run_finished());
    let stored = runtime
        .runs()
        .events(&run.run_id, EventsQuery::limit(3))
        .unwrap();
    assert_eq!(stored, events[..3].to_vec());
}

#[test]
fn a_cut_stream_resumes_through_the_client() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("one two three four").unwrap();
    let whole = stream_all(&runtime, &run.run_id);
    fake.retry_ms(Some(0));
    fake.cut_after_events(3);
    let mut stream = runtime.runs().stream(&run.run_id).unwrap();
    let resumed: Vec<SseEvent> = stream.by_ref().map(Result::unwrap).collect();
    assert_eq!(resumed, whole);
    assert_eq!(stream.reconnects(), 1);
    let last = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/aiui"))
        .unwrap();
    assert_eq!(last.header("last-event-id"), Some("3"));
}

#[test]
fn an_approval_pauses_the_run_until_approved() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("delete it [approval]").unwrap();
    assert_eq!(run.status, RunStatus::Pending);
    let (approval_tx, approval_rx) = mpsc::channel();
    let reader = {
        let (runtime, run_id) = (runtime.clone(), run.run_id.clone());
        std::thread::spawn(move || {
            let mut events = Vec::new();
            for event in runtime.runs().stream(&run_id).unwrap() {
                let event = event.unwrap();
                if let RunEvent::ApprovalRequested {
                    approval_id: Some(id),
                    ..
                } = event.kind()
                {
                    approval_tx.send(id.to_owned()).unwrap();
                }
                events.push(event);
            }
            events
        })
    };
    let approval_id = approval_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let answer = runtime
        .approvals()
        .approve(&run.run_id, &approval_id)
        .unwrap();
    assert_eq!(answer["status"], "approved");
    let events = reader.join().unwrap();
    assert!(events.last().unwrap().is_run_finished());
    assert_eq!(text_of(&events), "You said: delete it [approval]");
}

#[test]
fn a_rejected_approval_ends_the_run_with_an_error_event() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("[approval]").unwrap();
    let mut stream = runtime.runs().stream(&run.run_id).unwrap();
    let approval_id = loop {
        let event = stream.next().unwrap().unwrap();
        if let RunEvent::ApprovalRequested {
            approval_id: Some(id),
            ..
        } = event.kind()
        {
            break id.to_owned();
        }
    };
    runtime
        .approvals()
        .reject(&run.run_id, &approval_id)
        .unwrap();
    let last = stream.next().unwrap().unwrap();
    assert_eq!(
        last.kind(),
        RunEvent::RunError {
            message: Some("approval rejected")
        }
    );
    assert!(stream.next().is_none());
    assert!(matches!(
        runtime.approvals().approve(&run.run_id, "nope"),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn faults_become_typed_errors_or_are_retried() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("hi").unwrap();
    fake.fail_next(1, 429, Some(7));
    let err = runtime
        .runs()
        .events(&run.run_id, EventsQuery::default())
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited(_)));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

    let retrying = ZabyRuntime::builder()
        .token(fake.token())
        .api_origin(fake.url())
        .retries(RetryPolicy::attempts(3))
        .build()
        .unwrap();
    fake.fail_next(2, 503, Some(0));
    assert!(
        !retrying
            .runs()
            .events(&run.run_id, EventsQuery::default())
            .unwrap()
            .is_empty()
    );

    fake.expire_tokens(1);
    assert!(matches!(
        runtime.runs().start("x"),
        Err(Error::TokenExpired(_))
    ));
    let stranger = ZabyRuntime::builder()
        .token("eyJ.not.this.fake")
        .api_origin(fake.url())
        .build()
        .unwrap();
    let err = stranger.runs().start("x").unwrap_err();
    assert!(
        matches!(&err, Error::Auth(e) if e.code.as_deref() == Some("UNAUTHORIZED")),
        "{err:?}"
    );
}

#[test]
fn malformed_bytes_on_the_stream_never_panic() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("hi").unwrap();
    fake.malformed_stream(b"\xff\xfe\x00data: {\"half\": \ndata\r\r\n\nid: 9\n".to_vec());
    let items: Vec<_> = runtime.runs().stream(&run.run_id).unwrap().collect();
    // A block with garbage still dispatches; then the body ends short of RunFinished.
    assert!(
        matches!(items.last(), Some(Err(Error::Stream(_)))),
        "{items:?}"
    );
}

#[test]
fn feedback_reaches_the_fake() {
    let fake = FakeRuntime::start();
    let runtime = client(&fake);
    let run = runtime.runs().start("hi").unwrap();
    runtime
        .feedback()
        .create(&run.run_id, Feedback::rating(4).comment("good"))
        .unwrap();
    assert_eq!(
        fake.feedback(),
        [(run.run_id, json!({"rating": 4, "comment": "good"}))]
    );
}
