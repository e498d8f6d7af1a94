//! Folding a run with many tool calls into a `RunState`: the time per event
//! should not grow with the number of calls, whatever a server sends.
//!
//! `cargo bench --bench run_state`. Each case folds 2 × N events; compare the
//! time per element for N = 1,000 and N = 100,000: linear folding keeps it flat.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use zaby::{RunState, SseEvent};

/// N calls opened, then their N results: by id, or all without ids.
fn events(n: usize, with_ids: bool) -> Vec<SseEvent> {
    let id = |i: usize| with_ids.then(|| format!("call-{i}"));
    let starts = (0..n).map(|i| {
        SseEvent::new(
            "tool_call",
            json!({"toolName": "t", "toolCallId": id(i), "args": {}}),
        )
    });
    let results =
        (0..n).map(|i| SseEvent::new("tool_result", json!({"toolCallId": id(i), "result": i})));
    starts.chain(results).collect()
}

fn fold(c: &mut Criterion) {
    let mut group = c.benchmark_group("fold");
    group.sample_size(10);
    for n in [1_000, 100_000] {
        for with_ids in [true, false] {
            let run = events(n, with_ids);
            group.throughput(Throughput::Elements(run.len() as u64));
            let name = format!("{n} calls, {}", if with_ids { "ids" } else { "no ids" });
            group.bench_function(name, |b| {
                b.iter(|| black_box(run.iter().collect::<RunState>()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, fold);
criterion_main!(benches);
