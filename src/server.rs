//! Wiring: listeners (TCP or unix socket), the ext_authz and health services, the admin
//! server, the reloader, and graceful shutdown on SIGTERM/SIGINT.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tonic::transport::Server;
use tower::layer::util::{Identity, Stack};

use crate::authz::{AuthzService, Budget, CheckServer, Shed, Stalls};
use crate::config::{Config, Limits, ListenAddr, Overrides};
use crate::health::HealthSync;
use crate::net;
use crate::reload;
use crate::state::State;
use crate::telemetry::Metrics;

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
    // Every connection is a file descriptor: take all the kernel allows this process.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit raised to the hard limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let metrics = Metrics::new();
    metrics.config_tests(config.tests.len(), 0);
    let (sets, keys) = reload::initial_keys(&config, &metrics);
    let config = Arc::new(config);
    let state = State::new(config.clone(), Arc::new(keys), metrics);

    let admin_listener = TcpListener::bind(config.listen.admin)
        .await
        .map_err(bind_err(config.listen.admin))?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(bind_err(config.listen.admin))?;
    let limits = &config.limits;
    let caps = net::Caps {
        max_connections: limits.max_connections,
        handshake_timeout: limits.handshake_timeout,
        max_lifetime: Some(limits.max_connection_age + config.shutdown_grace),
        evicted: Some(state.metrics.connections_evicted()),
    };
    let (incoming, grpc_addr, socket_path) = bind_grpc(&config.listen.grpc, caps).await?;
    let (health_sync, health) = HealthSync::new(&state, limits.max_health_watches).await;
    tokio::spawn(health_sync.clone().mirror(state.clone()));
    tokio::spawn(watch_overload(state.clone()));
    tracing::info!(grpc = %grpc_addr, admin = %admin_addr, ready = state.is_ready(), "listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(crate::providers::supervise(
        state.clone(),
        stopped(stop_rx.clone()),
    ));
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

    let budget = Budget::new(limits.max_buffered_bytes);
    let stalls = Arc::new(Stalls::default());
    let grpc = grpc_builder(limits)
        .add_service(health)
        .add_service(Shed::new(
            CheckServer::new(AuthzService::new(state.clone()), budget, stalls.clone()),
            state.clone(),
            stalls,
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
    let _ = tokio::time::timeout(Duration::from_secs(1), admin).await;
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
/// (`examples/noop_server.rs`) so both are measured on the same stack: `limits`' HTTP/2 stream,
/// keepalive, connection age and reset-stream bounds, and its per-request timeout (which
/// covers reading the request message). At `max_connection_age` a connection gets a graceful
/// GOAWAY; the listener ([`net::Caps::max_lifetime`]) closes it a grace period later if it is
/// still open. (tonic 0.14.9's own `max_connection_age_grace` is not used: with it set, tonic
/// never sends the GOAWAY and only cuts the connection when the grace has passed, failing the
/// Checks in flight.)
pub fn grpc_builder(limits: &Limits) -> Server<Stack<net::MarkStarted, Identity>> {
    Server::builder()
        .tcp_nodelay(true)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .http2_max_local_error_reset_streams(Some(limits.max_reset_streams))
        .max_connection_age(limits.max_connection_age)
        .layer(net::MarkStarted)
}

/// Checks every second whether shedding is sustained (readiness follows).
async fn watch_overload(state: Arc<State>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        state.evaluate_overload();
    }
}

enum Incoming {
    Tcp(net::Incoming<TcpListener>),
    Unix(net::Incoming<UnixListener>),
}

async fn bind_grpc(
    addr: &ListenAddr,
    caps: net::Caps,
) -> Result<(Incoming, String, Option<PathBuf>), ServeError> {
    match addr {
        ListenAddr::Tcp(a) => {
            let listener = TcpListener::bind(a).await.map_err(bind_err(a))?;
            let local = listener.local_addr().map_err(bind_err(a))?;
            Ok((
                Incoming::Tcp(net::Incoming::with_caps(listener, caps)),
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
                Incoming::Unix(net::Incoming::with_caps(listener, caps)),
                addr.to_string(),
                Some(path.clone()),
            ))
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
