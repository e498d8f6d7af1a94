//! A fixed-rate frame loop that never blocks a frame on the network: the
//! stream's reads run on a background thread, and each frame takes what has
//! arrived with `try_recv`.

mod common;

use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};

use zaby::{Change, RunPhase, RunState};

const FRAME: Duration = Duration::from_millis(16);

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (runtime, fake) = common::connect()?;
    if let Some(fake) = &fake {
        // The fake answers at once; pace it like a real model so frames pass meanwhile.
        fake.event_delay(Duration::from_millis(50));
    }
    // Starting the run and opening the stream block once, before the loop.
    let run = runtime.runs().start("tell me about frame loops")?;
    let (events, _cancel) = runtime.runs().stream(&run.run_id)?.into_channel();

    let (mut frames, mut longest) = (0u32, Duration::ZERO);
    // What the agent has said so far: the only state the game keeps about the run.
    let mut state = RunState::new();
    loop {
        let frame_start = Instant::now();
        // Take everything that arrived since the last frame, without waiting.
        let mut changed = false;
        let finished = loop {
            match events.try_recv() {
                Ok(Ok(event)) => changed |= state.apply(&event) != Change::Nothing,
                Ok(Err(e)) => return Err(e.into()),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        // ... update the game here ...
        draw(frames, &state, changed);
        frames += 1;
        longest = longest.max(frame_start.elapsed());
        if finished {
            break;
        }
        std::thread::sleep(FRAME.saturating_sub(frame_start.elapsed()));
    }
    println!("answer: {}", state.text);
    println!("{frames} frames ran while the answer streamed; the longest took {longest:?}");
    Ok(())
}

/// Draws one frame. A game draws `state.text` in its text box every frame
/// (and lays it out again only when `changed`); here the terminal stands in
/// for the screen and gets a line only when something changed.
fn draw(frame: u32, state: &RunState, changed: bool) {
    if changed {
        let status = match state.phase {
            RunPhase::Running => "…",
            RunPhase::Finished => "✓",
            RunPhase::Failed => "✗",
        };
        println!("frame {frame:>3} {status} {}", state.text);
    }
}
