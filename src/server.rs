//! Wiring: listeners (TCP or unix socket), the ext_authz and health services, the admin
//! server, the reloader, and graceful shutdown on SIGTERM/SIGINT.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::authz::{AuthzService, CheckServer, Shed};
use crate::config::{Config, ListenAddr, Overrides};
use crate::net;
use crate::reload;
use crate::state::State;
use crate::telemetry::Metrics;

/// The gRPC health service name Envoy and Kubernetes probes ask about.
pub const AUTHZ_SERVICE_NAME: &str = "envoy.service.auth.v3.Authorization";

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install SIGTERM/SIGINT handlers: {0}")]
    Signal(std::io::Error),
    /// The gRPC server task panicked or was cancelled.
    #[error("gRPC server task failed: {0}")]
    Task(String),
}

fn bind_err(addr: impl ToString) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    }
}

/// Runs the server until SIGTERM/SIGINT, then drains in-flight Checks for up to
/// `shutdown_grace` and returns.
pub async fn serve(config: Config, overrides: Overrides) -> Result<(), ServeError> {
    // Install the handlers before anything can observe the server: a SIGTERM that arrives
    // before them would take the default action and kill the process mid-request.
    let shutdown = shutdown_signal()?;
    let metrics = Metrics::new();
    let (sets, keys) = reload::initial_keys(&config, &metrics);
    let config = Arc::new(config);
    let state = State::new(config.clone(), Arc::new(keys), metrics);

    let admin_listener = TcpListener::bind(config.listen.admin)
        .await
        .map_err(bind_err(config.listen.admin))?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(bind_err(config.listen.admin))?;
    let (incoming, grpc_addr, socket_path) = bind_grpc(&config.listen.grpc).await?;
    // Both health names are registered before anything can connect: an early probe must get
    // SERVING or NOT_SERVING, never "unknown service".
    let (reporter, health) = tonic_health::server::health_reporter();
    let health_sync = Arc::new(HealthSync {
        reporter,
        lock: tokio::sync::Mutex::new(()),
    });
    health_sync.sync(&state).await;
    tokio::spawn(mirror_readiness(state.clone(), health_sync.clone()));
    tracing::info!(grpc = %grpc_addr, admin = %admin_addr, ready = state.is_ready(), "listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let reloader = tokio::spawn(reload::run(
        state.clone(),
        overrides,
        sets,
        stopped(stop_rx.clone()),
    ));
    // The admin server outlives the gRPC drain so /readyz can answer 503 meanwhile.
    let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
    let admin = tokio::spawn(crate::admin::serve(
        admin_listener,
        state.clone(),
        stopped(admin_stop_rx),
    ));

    let grpc = grpc_builder().add_service(health).add_service(Shed::new(
        CheckServer::new(AuthzService::new(state.clone())),
        state.clone(),
    ));
    let mut grpc = match incoming {
        Incoming::Tcp(tcp) => {
            tokio::spawn(grpc.serve_with_incoming_shutdown(tcp, stopped(stop_rx.clone())))
        }
        Incoming::Unix(unix) => {
            tokio::spawn(grpc.serve_with_incoming_shutdown(unix, stopped(stop_rx.clone())))
        }
    };
    tokio::select! {
        r = &mut grpc => return grpc_outcome(r),
        _ = shutdown => {}
    }
    tracing::info!(grace = ?config.shutdown_grace, "shutdown signal: not ready, draining in-flight Checks");
    state.begin_shutdown();
    health_sync.sync(&state).await;
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, &mut grpc).await;
    reloader.abort();
    let _ = admin_stop_tx.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), admin).await;
    if let Some(path) = socket_path {
        let _ = std::fs::remove_file(path);
    }
    match drained {
        Ok(r) => grpc_outcome(r)?,
        Err(_) => tracing::warn!("shutdown_grace elapsed with Checks still in flight; exiting"),
    }
    tracing::info!("stopped");
    Ok(())
}

fn grpc_outcome(
    r: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    match r {
        Ok(inner) => inner.map_err(ServeError::Grpc),
        Err(join) => Err(ServeError::Task(join.to_string())),
    }
}

/// The gRPC server settings, shared with the no-op baseline server of the benchmarks
/// (`examples/noop_server.rs`) so both are measured on the same stack.
pub fn grpc_builder() -> Server {
    Server::builder().tcp_nodelay(true)
}

enum Incoming {
    Tcp(net::Incoming<TcpListener>),
    Unix(net::Incoming<UnixListener>),
}

async fn bind_grpc(addr: &ListenAddr) -> Result<(Incoming, String, Option<PathBuf>), ServeError> {
    match addr {
        ListenAddr::Tcp(a) => {
            let listener = TcpListener::bind(a).await.map_err(bind_err(a))?;
            let local = listener.local_addr().map_err(bind_err(a))?;
            Ok((
                Incoming::Tcp(net::Incoming::new(listener)),
                local.to_string(),
                None,
            ))
        }
        ListenAddr::Unix(path) => {
            // A socket left by a previous run would make bind fail.
            if std::fs::symlink_metadata(path).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            }) {
                let _ = std::fs::remove_file(path);
            }
            let listener = UnixListener::bind(path).map_err(bind_err(addr))?;
            // The socket lives in a pod-private directory (the chart's emptyDir); the proxy
            // that calls it runs as another user, so it must be connectable by anyone there.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
                .map_err(bind_err(addr))?;
            Ok((
                Incoming::Unix(net::Incoming::new(listener)),
                addr.to_string(),
                Some(path.clone()),
            ))
        }
    }
}

/// gRPC health, set from readiness. Every update takes the lock and reads readiness inside
/// it, so updates are serialized and the last one reflects the latest state: once shutdown has
/// begun, nothing can set SERVING again.
struct HealthSync {
    reporter: tonic_health::server::HealthReporter,
    lock: tokio::sync::Mutex<()>,
}

impl HealthSync {
    /// Sets `""` and the Authorization service to the current readiness.
    async fn sync(&self, state: &State) {
        let _serialized = self.lock.lock().await;
        let status = if state.is_ready() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in ["", AUTHZ_SERVICE_NAME] {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// Keeps gRPC health in step with readiness.
async fn mirror_readiness(state: Arc<State>, health: Arc<HealthSync>) {
    let mut rx = state.subscribe_ready();
    loop {
        rx.borrow_and_update();
        health.sync(&state).await;
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Registers SIGTERM and SIGINT handlers now; the future resolves on the first signal.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let handler = |kind| signal(kind).map_err(ServeError::Signal);
    let mut term = handler(SignalKind::terminate())?;
    let mut int = handler(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
