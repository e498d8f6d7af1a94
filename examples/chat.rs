//! A terminal chat: type a line, watch the answer stream, answer approval
//! requests, rate the answer. `/quit` or end of input leaves.
//!
//! Try `please delete it [approval]` against the fake runtime to see an
//! approval request.

mod common;

use std::io::{self, BufRead, Write};

use zaby::{Change, Feedback, RunState, ZabyRuntime};

fn main() {
    let (runtime, _fake) = common::connect_or_exit();
    let mut lines = io::stdin().lock().lines();
    while let Some(message) = ask(&mut lines, "you> ") {
        let message = message.trim();
        if message == "/quit" {
            break;
        }
        if message.is_empty() {
            continue;
        }
        if let Err(e) = turn(&runtime, message, &mut lines) {
            println!("\n[error: {e}]");
        }
    }
    println!("bye");
}

/// One exchange: start, stream, approvals, rating.
fn turn(
    runtime: &ZabyRuntime,
    message: &str,
    lines: &mut impl Iterator<Item = io::Result<String>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let run = runtime.runs().start(message)?;
    print!("agent> ");
    // The state holds what the run said; a terminal only appends, so each
    // change prints what is new since the last one.
    let mut state = RunState::new();
    let (mut text_shown, mut calls_shown, mut approvals_seen) = (0, 0, 0);
    for event in runtime.runs().stream(&run.run_id)? {
        match state.apply(&event?) {
            Change::Text => {
                print!("{}", &state.text[text_shown..]);
                text_shown = state.text.len();
            }
            Change::Thinking => print!("…"),
            Change::ToolCall | Change::ToolResult => {
                for call in &state.tool_calls[calls_shown..] {
                    print!("[tool: {}] ", call.name.as_deref().unwrap_or("?"));
                }
                calls_shown = state.tool_calls.len();
            }
            Change::Approval => {
                for approval in &state.approvals[approvals_seen..] {
                    let Some(id) = &approval.id else { continue };
                    let what = approval.data["message"]
                        .as_str()
                        .unwrap_or("The agent asks for approval.");
                    println!("\n[{what}]");
                    let yes = ask(lines, "approve? (y/n) ").is_some_and(|a| a.trim() == "y");
                    if yes {
                        runtime.approvals().approve(&run.run_id, id)?;
                    } else {
                        runtime.approvals().reject(&run.run_id, id)?;
                    }
                }
                approvals_seen = state.approvals.len();
            }
            Change::Failed => print!("\n[run failed: {}]", state.error.as_deref().unwrap_or("?")),
            _ => {}
        }
        let _ = io::stdout().flush();
    }
    println!();
    let rating = ask(lines, "rate 1-5 (enter to skip) ").and_then(|r| r.trim().parse().ok());
    if let Some(stars) = rating {
        runtime
            .feedback()
            .create(&run.run_id, Feedback::rating(stars))?;
        println!("[thanks for the {stars}-star rating]");
    }
    Ok(())
}

/// Prints a prompt and reads a line; `None` at the end of input.
fn ask(lines: &mut impl Iterator<Item = io::Result<String>>, prompt: &str) -> Option<String> {
    print!("{prompt}");
    let _ = io::stdout().flush();
    lines.next()?.ok()
}
