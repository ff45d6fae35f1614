//! Config hot reload (a ConfigMap volume simulated by the kubelet writer) and the polling
//! fallback when no file watch can be created.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::kubelet::AtomicWriter;
use support::*;

const WAIT: Duration = Duration::from_secs(10);

fn config(rules: &str) -> String {
    format!("keys: [{{ dir: ../keys, algorithm: HS256 }}]\nreload: {{ debounce: 100ms, poll_interval: 1s }}\n{rules}")
}

/// A fixture whose config lives in a kubelet-managed `config/` volume.
fn setup(initial: &str) -> (Fixture, AtomicWriter, std::path::PathBuf) {
    let f = Fixture::new();
    f.write_key("a", KEY_A);
    let writer = AtomicWriter::new(&f.path().join("config"));
    writer.write(&[("config.yaml", initial.as_bytes())]);
    let path = f.path().join("config/config.yaml");
    (f, writer, path)
}

async fn until(server: &JwtAuthz, token: &str, expected: &str) {
    let client = server.client().await;
    eventually(&format!("verdict {expected}"), WAIT, || {
        let mut c = client.clone();
        async move { (verdict(&mut c, token).await == expected).then_some(()) }
    })
    .await;
}

async fn config_metric(server: &JwtAuthz, result: &str) -> f64 {
    server
        .metric(&format!(
            r#"jwt_authz_reloads_total{{kind="config",result="{result}"}}"#
        ))
        .await
}

#[tokio::test]
async fn a_config_change_alters_behaviour_without_restart() {
    let (_f, writer, path) = setup(&config(""));
    let server = JwtAuthz::start(&path);
    let token = mint("a", KEY_A, claims("alice"));
    until(&server, &token, "ok").await;
    writer.write(&[(
        "config.yaml",
        config("rules: [{ name: admins, match: {}, require: { scopes: [admin] } }]\n").as_bytes(),
    )]);
    until(&server, &token, "insufficient_scope").await;
    assert!(config_metric(&server, "success").await >= 1.0);
    assert_eq!(
        server
            .metric(r#"jwt_authz_rule_decisions_total{decision="deny",rule="admins"}"#)
            .await,
        1.0
    );
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("\"message\":\"config reloaded\"")));
}

#[tokio::test]
async fn a_broken_config_is_rejected_and_the_old_one_keeps_serving() {
    let (_f, writer, path) = setup(&config("rules: [{ name: open, match: {} }]\n"));
    let server = JwtAuthz::start(&path);
    let token = mint("a", KEY_A, claims("alice"));
    until(&server, &token, "ok").await;
    for (broken, why) in [
        ("rules: [\n", "did not find expected node content"),
        ("keys: []\n", "keys: at least one key source is required"),
        (
            &*config("rules: [{ name: x, match: { path_prefix: nope } }]\n"),
            "rules[0].match.path_prefix",
        ),
        (&*config("rulez: []\n"), "unknown field `rulez`"),
    ] {
        let failures = config_metric(&server, "failure").await;
        writer.write(&[("config.yaml", broken.as_bytes())]);
        eventually("the rejection", WAIT, || async {
            (config_metric(&server, "failure").await > failures).then_some(())
        })
        .await;
        assert_eq!(
            server
                .metric(r#"jwt_authz_last_reload_successful{kind="config"}"#)
                .await,
            0.0
        );
        assert!(
            server
                .logs()
                .iter()
                .any(|l| l.contains("config reload rejected") && l.contains(why)),
            "{why}: {:#?}",
            server.logs()
        );
        let mut client = server.client().await;
        assert_eq!(
            verdict(&mut client, &token).await,
            "ok",
            "the running config still serves"
        );
    }
    writer.write(&[(
        "config.yaml",
        config("rules: [{ name: closed, match: {}, require: { scopes: [x] } }]\n").as_bytes(),
    )]);
    until(&server, &token, "insufficient_scope").await;
    assert_eq!(
        server
            .metric(r#"jwt_authz_last_reload_successful{kind="config"}"#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_config_can_move_the_key_directory() {
    let (f, writer, path) = setup(&config(""));
    let server = JwtAuthz::start(&path);
    std::fs::create_dir(f.path().join("keys2")).unwrap();
    std::fs::write(f.path().join("keys2/b"), KEY_B).unwrap();
    let moved = config("").replace("../keys", "../keys2");
    writer.write(&[("config.yaml", moved.as_bytes())]);
    until(&server, &mint("b", KEY_B, claims("bob")), "ok").await;
    until(&server, &mint("a", KEY_A, claims("alice")), "unknown_kid").await;
    // The new directory is watched: a key added there is picked up.
    std::fs::write(f.path().join("keys2/c"), KEY_A).unwrap();
    until(&server, &mint("c", KEY_A, claims("carol")), "ok").await;
}

/// Holds every inotify instance user `nobody` may have, until dropped.
struct InotifyHog(Child);

impl InotifyHog {
    fn start() -> Self {
        let script = "import ctypes,sys,time\nlibc=ctypes.CDLL(None)\nn=0\nwhile libc.inotify_init()>=0: n+=1\nprint(n,flush=True)\ntime.sleep(600)\n";
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
                script,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.trim().parse::<u32>().unwrap() > 0,
            "held no instance: {line}"
        );
        Self(child)
    }
}

impl Drop for InotifyHog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
#[ignore = "runs the server as nobody (needs root); scripts/test.sh runs it"]
async fn without_inotify_reloads_fall_back_to_polling() {
    let (f, writer, path) = setup(&config(""));
    open_up(f.path());
    let hog = InotifyHog::start();
    let server = JwtAuthz::start_as_nobody(&path, &["--grpc-addr", "127.0.0.1:0"]);
    eventually("the degraded-watch warning", WAIT, || async {
        server
            .logs()
            .iter()
            .any(|l| l.contains("file watching incomplete") && l.contains("Too many open files"))
            .then_some(())
    })
    .await;
    assert_eq!(server.metric("jwt_authz_reload_watcher_active").await, 0.0);
    let token = mint("a", KEY_A, claims("alice"));
    until(&server, &token, "ok").await;
    // Changes still apply, through the 1 s poll.
    writer.write(&[(
        "config.yaml",
        config("rules: [{ name: r, match: {}, require: { scopes: [x] } }]\n").as_bytes(),
    )]);
    until(&server, &token, "insufficient_scope").await;
    drop(hog);
    // With instances available again, the next poll restores the watch.
    eventually("file watching to be restored", WAIT, || async {
        server
            .logs()
            .iter()
            .any(|l| l.contains("file watching restored"))
            .then_some(())
    })
    .await;
    assert_eq!(server.metric("jwt_authz_reload_watcher_active").await, 1.0);
}

#[tokio::test]
async fn other_files_in_the_config_directory_do_not_cause_reloads() {
    let body = "keys: [{ dir: ../keys, algorithm: HS256 }]\nreload: { debounce: 50ms, poll_interval: 60s }\n";
    let (f, writer, path) = setup(body);
    let server = JwtAuthz::start(&path);
    // The watches' first signal is one reload attempt that finds nothing new.
    eventually("the first reload attempt", WAIT, || async {
        (config_metric(&server, "unchanged").await >= 1.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = config_metric(&server, "unchanged").await;
    // Something else writing next to the config (a log, an editor's swap file).
    let log = f.path().join("config/server.log");
    for i in 0..20 {
        std::fs::write(&log, format!("line {i}\n")).unwrap();
        std::fs::write(f.path().join("config/.config.yaml.swp"), [i as u8]).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(config_metric(&server, "unchanged").await, before);
    assert_eq!(config_metric(&server, "success").await, 0.0);
    // The kubelet publishing a new version still triggers a reload.
    writer.write(&[("config.yaml", format!("{body}# v2\n").as_bytes())]);
    eventually("a reload after the kubelet's swap", WAIT, || async {
        (config_metric(&server, "success").await == 1.0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_config_symlinked_to_a_file_beside_it_reloads_when_that_file_changes() {
    let f = Fixture::new();
    f.write_key("a", KEY_A);
    let dir = f.path().join("config");
    std::fs::create_dir(&dir).unwrap();
    let body = "keys: [{ dir: ../keys, algorithm: HS256 }]\nreload: { debounce: 50ms, poll_interval: 60s }\n";
    std::fs::write(dir.join("real.yaml"), body).unwrap();
    std::os::unix::fs::symlink("real.yaml", dir.join("config.yaml")).unwrap();
    let server = JwtAuthz::start(&dir.join("config.yaml"));
    let token = mint("a", KEY_A, claims("alice"));
    until(&server, &token, "ok").await;
    eventually("the first reload attempt", WAIT, || async {
        (config_metric(&server, "unchanged").await >= 1.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        dir.join("real.yaml"),
        format!("{body}rules: [{{ name: admins, match: {{}}, require: {{ scopes: [admin] }} }}]\n"),
    )
    .unwrap();
    until(&server, &token, "insufficient_scope").await;
}

#[tokio::test]
async fn removing_a_key_source_revokes_its_keys_even_when_another_source_fails() {
    let f = Fixture::new();
    std::fs::create_dir(f.path().join("other")).unwrap();
    f.write_key("a", KEY_A);
    std::fs::write(f.path().join("other/b"), KEY_B).unwrap();
    let two = "keys: [{ dir: keys, algorithm: HS256 }, { dir: other, algorithm: HS256 }]\nreload: { debounce: 100ms, poll_interval: 1s }\n";
    f.write_config(two);
    let server = JwtAuthz::start(&f.config_path());
    let (ta, tb) = (
        mint("a", KEY_A, claims("alice")),
        mint("b", KEY_B, claims("bob")),
    );
    until(&server, &ta, "ok").await;
    until(&server, &tb, "ok").await;
    // One reload: `other` leaves the config while `keys` gets a bad file.
    f.write_key("bad", b"short");
    f.write_config(
        "keys: [{ dir: keys, algorithm: HS256 }]\nreload: { debounce: 100ms, poll_interval: 1s }\n",
    );
    until(&server, &tb, "unknown_kid").await;
    until(&server, &ta, "ok").await;
    let metrics = server.admin_get("/metrics").await.1;
    assert!(!metrics.contains(r#"source="other""#), "{metrics}");
    assert_eq!(
        metric_value(
            &metrics,
            r#"jwt_authz_key_source_last_load_successful{source="keys"}"#
        ),
        0.0
    );
    assert_eq!(
        metric_value(&metrics, r#"jwt_authz_keys{provider="",source="keys"}"#),
        1.0
    );
    assert!(
        server.logs().iter().any(|l| l
            .contains("key source failed to load: keeping its last good keys")
            && l.contains("\"source\":\"keys\"")
            && l.contains("too short")),
        "{:#?}",
        server.logs()
    );
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("\"message\":\"key removed\"") && l.contains("\"kid\":\"b\"")));
}
