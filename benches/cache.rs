//! Which structure holds the verified-token cache: quick_cache's sharded concurrent cache (what
//! `jwt::cache` uses) against per-worker thread-local maps (no shared state at all, but a copy
//! of every hot token per worker and a generation check for the snapshot's reset), both with
//! the same hasher, over 1000 typical tokens, on one thread and on two threads at once (this
//! machine's cores; the time is per lookup per thread, so contention shows as a larger number).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use jwt_authz::testing::bench_token;
use quick_cache::sync::Cache;
use quick_cache::DefaultHashBuilder;

/// What an entry costs to hand out (the real one is an `Arc` too).
type Entry = Arc<[u64; 8]>;

const TOKENS: usize = 1000;

/// The snapshot generation the thread-local maps compare against (a publish bumps it).
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// One worker's map and the generation it was filled in.
type Shard = (u64, HashMap<Box<str>, Entry, DefaultHashBuilder>);

thread_local! {
    static SHARD: RefCell<Shard> = RefCell::new((0, HashMap::default()));
}

fn thread_local_get(token: &str) -> Option<Entry> {
    SHARD.with(|s| {
        let mut s = s.borrow_mut();
        let generation = GENERATION.load(Ordering::Acquire);
        if s.0 != generation {
            s.0 = generation;
            s.1.clear();
        }
        match s.1.get(token) {
            Some(e) => Some(Arc::clone(e)),
            None => {
                s.1.insert(token.into(), Arc::new([0; 8]));
                None
            }
        }
    })
}

/// Runs `lookups` of the tokens in rotation on each of `threads` threads at once, each thread
/// first looking up every token once (so its thread-local map is warm) and then waiting for
/// the others; the longest thread's time for its `lookups`.
fn parallel(
    threads: usize,
    lookups: u64,
    tokens: &[String],
    get: &(dyn Fn(&str) + Sync),
) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    tokens.iter().for_each(|token| get(token));
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..lookups {
                        get(black_box(&tokens[(i as usize + t * 7) % tokens.len()]));
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

fn structures(c: &mut Criterion) {
    let tokens: Vec<String> = (0..TOKENS as u64)
        .map(|i| bench_token(1_800_000_000 + i))
        .collect();
    let shared: Cache<Box<str>, Entry> = Cache::new(4096);
    for t in &tokens {
        shared.insert(t.as_str().into(), Arc::new([0; 8]));
    }
    let quick = |t: &str| {
        black_box(shared.get(t));
    };
    let local = |t: &str| {
        black_box(thread_local_get(t));
    };
    let mut g = c.benchmark_group("cache");
    for (name, get) in [
        ("quick_cache", &quick as &(dyn Fn(&str) + Sync)),
        ("thread_local", &local),
    ] {
        for threads in [1, 2] {
            g.bench_function(format!("{name}_hit_{threads}_threads"), |b| {
                b.iter_custom(|iters| parallel(threads, iters, &tokens, get))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, structures);
criterion_main!(benches);
