//! A thread-per-request service: N workers share one client (clones share
//! one connection pool), each starting and streaming a batch of runs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const WORKERS: usize = 8;
const RUNS_PER_WORKER: usize = 10;

fn main() {
    let (runtime, _fake) = common::connect_or_exit();
    let (done, errors) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let (runtime, done, errors) = (runtime.clone(), &done, &errors);
            scope.spawn(move || {
                for i in 0..RUNS_PER_WORKER {
                    match serve(&runtime, &format!("request {i} of worker {worker}")) {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("worker {worker}: {e}");
                            errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let done = done.into_inner();
    println!(
        "{done} runs by {WORKERS} threads in {elapsed:.2?}: {:.0} runs/s, {} errors",
        done as f64 / elapsed.as_secs_f64(),
        errors.into_inner()
    );
}

/// One request: start a run and read its stream to the end.
fn serve(runtime: &zaby::ZabyRuntime, input: &str) -> Result<(), Box<dyn std::error::Error>> {
    let run = runtime.runs().start(input)?;
    for event in runtime.runs().stream(&run.run_id)? {
        event?;
    }
    Ok(())
}
