//! Start a run, print its answer as it streams, show tool calls, rate it;
//! then, when all you want is the answer, collect a run in three lines.
//!
//! `cargo run --example quickstart` talks to the service named by
//! `ZABY_RUNTIME_TOKEN` (and `ZABY_API_ORIGIN`), or else to a local fake runtime.

mod common;

use std::io::Write;

use zaby::{Feedback, RunEvent};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (runtime, _fake) = common::connect()?;

    let run = runtime.runs().start("What's the weather in London?")?;
    let run_id = run.run_id;

    for event in runtime.runs().stream(&run_id)? {
        match event?.kind() {
            RunEvent::Text { content } => {
                print!("{content}");
                let _ = std::io::stdout().flush();
            }
            RunEvent::ToolCall { tool_name, .. } => {
                println!("\n[Calling tool: {}]", tool_name.unwrap_or("?"));
            }
            RunEvent::RunFinished { .. } => println!(),
            _ => {}
        }
    }

    runtime.feedback().create(&run_id, Feedback::rating(5))?;
    println!("Rated run {run_id} 5 stars.");

    // Just give me the answer: start, read the run to its end, print.
    let run = runtime.runs().start("And in Paris?")?;
    let state = runtime.runs().stream(&run.run_id)?.collect_run()?;
    println!("Answer: {}", state.text);
    Ok(())
}
