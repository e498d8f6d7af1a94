//! A terminal chat: type a line, watch the answer stream, answer approval
//! requests, rate the answer. `/quit` or end of input leaves.
//!
//! Try `please delete it [approval]` against the fake runtime to see an
//! approval request.

mod common;

use std::io::{self, BufRead, Write};

use zaby::{Feedback, RunEvent, ZabyRuntime};

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
    for event in runtime.runs().stream(&run.run_id)? {
        let event = event?;
        match event.kind() {
            RunEvent::Text { content } => print!("{content}"),
            RunEvent::Thinking { .. } => print!("…"),
            RunEvent::ToolCall { tool_name, .. } => {
                print!("[tool: {}] ", tool_name.unwrap_or("?"))
            }
            RunEvent::ApprovalRequested { approval_id, data } => {
                let Some(id) = approval_id else { continue };
                let what = data["message"]
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
            RunEvent::RunError { message } => print!("\n[run failed: {}]", message.unwrap_or("?")),
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
