//! Key rotation under load: clients send Checks continuously while the simulated kubelet
//! performs 20 rotations (add the new key → sign with it → remove the old key after the
//! overlap). Not one RPC error, not one deny. Also measures the time from the `..data` rename to
//! the first Check accepted with the new key, written to `$CARGO_TARGET_TMPDIR/rotation.txt`.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use support::kubelet::{AtomicWriter, Step};
use support::*;

const ROTATIONS: usize = 20;
const CLIENTS: usize = 4;

fn secret(i: usize) -> Vec<u8> {
    format!("rotation-{i:03}-0123456789abcdef01234567").into_bytes()
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rotations_under_load_fail_nothing() {
    let f = Fixture::new();
    let writer = AtomicWriter::new(&f.keys());
    writer.write(&[("r0", &secret(0))]);
    // Default reload settings: the latency measured is what a deployment gets.
    f.basic_config("");
    let server = JwtAuthz::start(&f.config_path());

    // The generation the load signs with, and the latest generation each client completed.
    let signer = Arc::new(RwLock::new(0usize));
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (signer, seen, tally, stop) =
            (signer.clone(), seen.clone(), tally.clone(), stop.clone());
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let generation = *signer.read().unwrap();
                let token = mint(
                    &format!("r{generation}"),
                    &secret(generation),
                    claims("load"),
                );
                match verdict(&mut client, &token).await.as_str() {
                    "ok" => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => tally
                        .failures
                        .lock()
                        .unwrap()
                        .push(format!("client {c}, r{generation}: {other}")),
                }
                seen[c].store(generation as u64, Ordering::Relaxed);
            }
        }));
    }

    let mut probe = server.client().await;
    let mut latencies = Vec::with_capacity(ROTATIONS);
    for i in 1..=ROTATIONS {
        let (old, new) = (format!("r{}", i - 1), format!("r{i}"));
        // 1. Add the new key next to the old one.
        let swapped = writer
            .write(&[(&old, &secret(i - 1)), (&new, &secret(i))])
            .expect("payload changed");
        let fresh = mint(&new, &secret(i), claims("probe"));
        loop {
            if verdict(&mut probe, &fresh).await == "ok" {
                latencies.push(swapped.elapsed());
                break;
            }
            assert!(
                swapped.elapsed() < Duration::from_secs(10),
                "rotation {i}: new key never accepted"
            );
        }
        // 2. Sign with it, and wait until every client has completed a Check signed with it.
        *signer.write().unwrap() = i;
        eventually(
            "all clients on the new key",
            Duration::from_secs(10),
            || async {
                seen.iter()
                    .all(|s| s.load(Ordering::Relaxed) >= i as u64)
                    .then_some(())
            },
        )
        .await;
        // 3. Retire the old key after the overlap.
        writer
            .write(&[(&new, &secret(i))])
            .expect("payload changed");
        let stale = mint(&old, &secret(i - 1), claims("probe"));
        eventually("the old key to be retired", Duration::from_secs(10), || {
            let mut p = probe.clone();
            let stale = stale.clone();
            async move { (verdict(&mut p, &stale).await == "unknown_kid").then_some(()) }
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    let failures = tally.failures.lock().unwrap().clone();
    let ok = tally.ok.load(Ordering::Relaxed);
    assert!(
        failures.is_empty(),
        "{} failed Checks out of {}: {:?}",
        failures.len(),
        ok + failures.len() as u64,
        &failures[..failures.len().min(10)]
    );
    assert!(ok > 1000, "the load was real: {ok} Checks");
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="unavailable"}"#)
            .await,
        0.0
    );

    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = format!(
        "rotations={ROTATIONS} clients={CLIENTS} checks_ok={ok} failures=0 rename_to_first_accept_ms: p50={:.1} max={:.1} min={:.1}\n",
        ms(latencies[latencies.len() / 2]),
        ms(*latencies.last().unwrap()),
        ms(latencies[0]),
    );
    eprint!("{report}");
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rotation.txt"),
        &report,
    )
    .unwrap();
}

/// Runs one kubelet update on a thread, pausing after every step until the test acks.
fn paused_write(
    writer: AtomicWriter,
    payload: Vec<(String, Vec<u8>)>,
) -> (
    std::sync::mpsc::Receiver<Step>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (step_tx, step_rx) = std::sync::mpsc::channel();
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let refs: Vec<(&str, &[u8])> = payload
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        writer.write_with(&refs, |step| {
            step_tx.send(step).unwrap();
            ack_rx.recv().unwrap();
        });
    });
    (step_rx, ack_tx, handle)
}

async fn reload_count(server: &JwtAuthz) -> f64 {
    let mut total = 0.0;
    for result in ["success", "unchanged", "failure"] {
        total += server
            .metric(&format!(
                r#"jwt_authz_reloads_total{{kind="keys",result="{result}"}}"#
            ))
            .await;
    }
    total
}

/// Every intermediate state of a kubelet update is served consistently: before the `..data`
/// rename the old payload, after it the new one, never a mix, an error or an empty key set.
async fn consistent_at_every_step(legacy: bool) {
    let f = Fixture::new();
    let writer = || {
        let w = AtomicWriter::new(&f.keys());
        if legacy {
            w.legacy_order()
        } else {
            w
        }
    };
    writer().write(&[("old", &secret(1))]);
    f.basic_config("reload: { debounce: 50ms, poll_interval: 30s }\n");
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let old = mint("old", &secret(1), claims("a"));
    let new = mint("new", &secret(2), claims("a"));

    for (payload, old_after, new_after) in [
        (vec![("old", secret(1)), ("new", secret(2))], "ok", "ok"),
        (vec![("new", secret(2))], "unknown_kid", "ok"),
    ] {
        let (old_before, new_before) = (
            verdict(&mut client, &old).await,
            verdict(&mut client, &new).await,
        );
        let payload = payload
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let (steps, ack, handle) = paused_write(writer(), payload);
        let mut swapped = false;
        while let Ok(step) = steps.recv() {
            // Force a reload of this exact intermediate state: settle, then poke the mount
            // with a hidden file (ignored by the reader, but an event for the watch).
            tokio::time::sleep(Duration::from_millis(150)).await;
            let before = reload_count(&server).await;
            std::fs::write(f.keys().join(".poke"), format!("{step:?}")).unwrap();
            eventually("a reload at this step", Duration::from_secs(5), || async {
                (reload_count(&server).await > before).then_some(())
            })
            .await;
            swapped |= step == Step::Swapped;
            let expected = if swapped {
                (old_after, new_after)
            } else {
                (old_before.as_str(), new_before.as_str())
            };
            let got = (
                verdict(&mut client, &old).await,
                verdict(&mut client, &new).await,
            );
            assert_eq!(
                (got.0.as_str(), got.1.as_str()),
                expected,
                "legacy={legacy}, after {step:?}"
            );
            ack.send(()).unwrap();
        }
        handle.join().unwrap();
    }
}

#[tokio::test]
async fn every_intermediate_kubelet_state_is_consistent() {
    consistent_at_every_step(false).await;
}

#[tokio::test]
async fn every_intermediate_legacy_kubelet_state_is_consistent() {
    consistent_at_every_step(true).await;
}
