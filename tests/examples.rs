//! Every example, run as a user runs it, against the fake runtime.
//!
//! The examples are built fresh first, once per test run (`cargo build
//! --examples` with this test's cargo, profile and features): running
//! whatever binaries a previous build left would test stale code. They run
//! without `ZABY_RUNTIME_TOKEN`, so they use the fake.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The crate's features this test was built with, passed on to the build of
/// the examples (add a feature here when the crate gains one).
const FEATURES: &[(&str, bool)] = &[
    ("testing", cfg!(feature = "testing")),
    ("log", cfg!(feature = "log")),
    ("tracing", cfg!(feature = "tracing")),
    ("platform-verifier", cfg!(feature = "platform-verifier")),
];

/// Each example's name and its freshly built executable; the build's
/// error when it failed.
fn built_examples() -> &'static Result<HashMap<String, PathBuf>, String> {
    static BUILT: OnceLock<Result<HashMap<String, PathBuf>, String>> = OnceLock::new();
    BUILT.get_or_init(build_examples)
}

fn build_examples() -> Result<HashMap<String, PathBuf>, String> {
    // target/<profile>/deps/examples-<hash>: the profile's directory is
    // `debug` for the dev profile, else the profile's name.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .map(|name| if name == "debug" { "dev" } else { name })
        .ok_or_else(|| format!("no profile directory above {}", exe.display()))?;
    // The same target directory, however it was chosen: CARGO_TARGET_TMPDIR is its `tmp`.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .ok_or("CARGO_TARGET_TMPDIR has no parent")?;
    let features: Vec<&str> = FEATURES
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    let mut cargo = Command::new(env!("CARGO"));
    // Without what cargo set for this test process (CARGO_MANIFEST_DIR,
    // CARGO_PKG_*, ...): some build scripts watch those variables, and the
    // dependencies would be rebuilt here and again by the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let set_for_tests = name.to_str().is_some_and(|name| {
            name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_EXE_")
                || matches!(
                    name,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_RUSTC_CURRENT_DIR"
                        | "OUT_DIR"
                )
        });
        if set_for_tests {
            cargo.env_remove(name);
        }
    }
    let output = cargo
        .args([
            "build",
            "--examples",
            "--message-format=json-render-diagnostics",
        ])
        .args(["--profile", profile, "--features", &features.join(",")])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", env!("CARGO")))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build --examples` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // Cargo names every executable it built (or found up to date) in its messages.
    let mut built = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_example = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "example"));
        if let (true, Some(name), Some(path)) = (
            is_example,
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            built.insert(name.to_owned(), PathBuf::from(path));
        }
    }
    Ok(built)
}

fn example(name: &str) -> Command {
    let built = built_examples().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let path = built
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example `{name}`: {built:?}"));
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
    // The answer alone, collected in three lines, after the streamed run.
    assert!(
        out.trim_end()
            .ends_with("\nAnswer: You said: And in Paris?"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("local fake runtime"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn chat_answers_rates_and_handles_approvals() {
    let input = "hello there\n4\nplease delete it [approval]\ny\n\nmore [approval]\nn\n\n/quit\n";
    let out = stdout(&run_with_input("chat", input));
    assert!(
        out.contains("agent> …[tool: echo] You said: hello there\n"),
        "{out}"
    );
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
    // It draws the run's state: the text grows frame by frame to the whole
    // answer, and a line is drawn only for a frame in which something changed.
    let drawn: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("frame "))
        .map(|l| l.trim_start().split_once(' ').map_or("", |(_, rest)| rest))
        .collect();
    assert_eq!(
        drawn.last(),
        Some(&"✓ You said: tell me about frame loops"),
        "{out}"
    );
    let texts: Vec<&str> = drawn.iter().map(|d| d.split_once(' ').unwrap().1).collect();
    assert!(texts.windows(2).all(|w| w[1].starts_with(w[0])), "{out}");
    assert!(texts.contains(&"You said: tell me"), "{out}");
    assert!(drawn.len() < frames as usize, "{out}");
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
    let out = stdout(&output);
    assert!(
        out.contains("You said: What's the weather in London?"),
        "{out}"
    );
    assert!(out.contains("Answer: You said: And in Paris?"), "{out}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert_eq!(fake.runs_started(), 2);
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
    assert_eq!(
        runtime_calls.len(),
        5,
        "start, stream, feedback; start, stream"
    );
    assert!(
        runtime_calls
            .iter()
            .all(|r| r.header("authorization") == Some(minted.as_str()))
    );
}
