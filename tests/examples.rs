//! Every example, run as a user runs it, against the fake runtime.
//!
//! `cargo test` builds the examples before it runs the tests; these run the
//! built binaries (without `ZABY_RUNTIME_TOKEN`, so they use the fake).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn example(name: &str) -> Command {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run `cargo test`",
        path.display()
    );
    let mut command = Command::new(path);
    for name in [
        "ZABY_RUNTIME_TOKEN",
        "ZABY_API_ORIGIN",
        "ZABY_ENVIRONMENT",
        "ZABY_API_KEY",
        "ZABY_EXTERNAL_APP_ID",
        "ZABY_AGENT_DEPLOYMENT_ID",
    ] {
        command.env_remove(name);
    }
    command
}

fn run_with_input(name: &str, input: &str) -> Output {
    run_command(example(name), name, input)
}

fn run_command(mut command: Command, name: &str, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{name}: {output:?}");
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn quickstart_streams_the_answer_and_rates_it() {
    let output = run_with_input("quickstart", "");
    let out = stdout(&output);
    assert!(out.contains("[Calling tool: echo]"), "{out}");
    assert!(
        out.contains("You said: What's the weather in London?\n"),
        "{out}"
    );
    assert!(out.contains("5 stars"), "{out}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("local fake runtime"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn chat_answers_rates_and_handles_approvals() {
    let input = "hello there\n4\nplease delete it [approval]\ny\n\nmore [approval]\nn\n\n/quit\n";
    let out = stdout(&run_with_input("chat", input));
    assert!(out.contains("You said: hello there"), "{out}");
    assert!(out.contains("[thanks for the 4-star rating]"), "{out}");
    assert!(
        out.contains("approve? (y/n) You said: please delete it [approval]"),
        "{out}"
    );
    assert!(out.contains("[run failed: approval rejected]"), "{out}");
    assert!(out.trim_end().ends_with("bye"), "{out}");
}

#[test]
fn chat_leaves_at_end_of_input_and_shows_errors_in_one_line() {
    let out = stdout(&run_with_input("chat", "hi\nnot a number\n"));
    assert!(out.contains("You said: hi"), "{out}");
    assert!(!out.contains("thanks"), "{out}");
    assert!(out.trim_end().ends_with("bye"), "{out}");
}

#[test]
fn game_loop_keeps_drawing_frames_while_the_answer_streams() {
    let out = stdout(&run_with_input("game_loop", ""));
    assert!(
        out.contains("answer: You said: tell me about frame loops"),
        "{out}"
    );
    let frames: u32 = out
        .split(" frames ran")
        .next()
        .and_then(|s| s.rsplit('\n').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {out}"));
    // Ten events, 50 ms apart, over 16 ms frames: a loop that waited for each
    // event would draw at most one frame per event (11); one that never
    // waits draws about 30.
    assert!(frames > 11, "{out}");
}

#[test]
fn threaded_service_runs_every_request_without_errors() {
    let out = stdout(&run_with_input("threaded_service", ""));
    assert!(out.contains("80 runs by 8 threads"), "{out}");
    assert!(out.contains(", 0 errors"), "{out}");
}

#[test]
fn quickstart_uses_a_given_token_and_origin() {
    let fake = zaby::testing::FakeRuntime::start();
    let mut command = example("quickstart");
    command
        .env("ZABY_RUNTIME_TOKEN", fake.token())
        .env("ZABY_API_ORIGIN", fake.url());
    let output = run_command(command, "quickstart", "");
    assert!(stdout(&output).contains("You said: What's the weather in London?"));
    assert!(output.stderr.is_empty(), "{output:?}");
    assert_eq!(fake.runs_started(), 1);
    assert_eq!(fake.feedback().len(), 1);
}

#[test]
fn quickstart_mints_its_own_token_with_an_api_key() {
    let fake = zaby::testing::FakeRuntime::start();
    let mut command = example("quickstart");
    command
        .env("ZABY_API_KEY", fake.api_key())
        .env("ZABY_EXTERNAL_APP_ID", "app-1")
        .env("ZABY_AGENT_DEPLOYMENT_ID", "dep-1")
        .env("ZABY_API_ORIGIN", fake.url());
    let output = run_command(command, "quickstart", "");
    assert!(stdout(&output).contains("5 stars"), "{output:?}");
    assert_eq!(fake.mints(), 1);
    let minted = format!("Bearer {}", fake.minted_tokens()[0]);
    let runtime_calls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/agent-runtime"))
        .collect();
    assert_eq!(runtime_calls.len(), 3, "start, stream, feedback");
    assert!(
        runtime_calls
            .iter()
            .all(|r| r.header("authorization") == Some(minted.as_str()))
    );
}
