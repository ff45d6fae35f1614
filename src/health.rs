//! gRPC health (`grpc.health.v1.Health`) for `""` and the Authorization service, kept in step
//! with readiness, and bounded: at most `limits.max_health_watches` `Watch` streams at once (each
//! is a long-lived stream that costs memory; 30,000 of them on one connection took the process
//! to 177 MB), and request messages of at most [`MAX_HEALTH_MESSAGE_BYTES`].

use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tower::Service;

use crate::state::State;

/// The gRPC health service name Envoy and Kubernetes probes ask about.
pub const AUTHZ_SERVICE_NAME: &str = "envoy.service.auth.v3.Authorization";

/// A health request names a service: it is tiny. tonic reserves the length a message
/// declares, so this bounds what a stalled health request can hold.
pub const MAX_HEALTH_MESSAGE_BYTES: usize = 1024;

/// gRPC health, set from readiness. Every update takes the lock and reads readiness inside
/// it, so updates are serialized and the last one reflects the latest state: once shutdown has
/// begun, nothing can set SERVING again.
pub struct HealthSync {
    reporter: tonic_health::server::HealthReporter,
    lock: tokio::sync::Mutex<()>,
}

impl HealthSync {
    /// Health for `state`, and the service that answers it (both names registered now, so an
    /// early probe gets SERVING or NOT_SERVING, never "unknown service").
    pub async fn new(
        state: &State,
        max_watches: usize,
    ) -> (Arc<Self>, WatchCap<impl HealthService>) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let sync = Arc::new(Self {
            reporter,
            lock: tokio::sync::Mutex::new(()),
        });
        sync.sync(state).await;
        let service = service.max_decoding_message_size(MAX_HEALTH_MESSAGE_BYTES);
        let cap = WatchCap {
            inner: service,
            open: Arc::new(AtomicUsize::new(0)),
            max: max_watches,
        };
        (sync, cap)
    }

    /// Sets `""` and the Authorization service to the current readiness.
    pub async fn sync(&self, state: &State) {
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

    /// Keeps gRPC health in step with readiness (a task for the server's lifetime).
    pub async fn mirror(self: Arc<Self>, state: Arc<State>) {
        let mut rx = state.subscribe_ready();
        loop {
            rx.borrow_and_update();
            self.sync(&state).await;
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// What tonic-health's server is, as a service.
pub trait HealthService:
    Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> HealthService for S where
    S: Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The health service with at most `max` `Watch` streams open at once.
#[derive(Clone)]
pub struct WatchCap<S> {
    inner: S,
    open: Arc<AtomicUsize>,
    max: usize,
}

impl<S> NamedService for WatchCap<S> {
    const NAME: &'static str = "grpc.health.v1.Health";
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<S: HealthService> Service<http::Request<Body>> for WatchCap<S> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFuture {
        if req.uri().path() != "/grpc.health.v1.Health/Watch" {
            return Box::pin(self.inner.call(req));
        }
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            let status = tonic::Status::resource_exhausted(
                "too many health Watch streams (limits.max_health_watches)",
            );
            return Box::pin(ready(Ok(status.into_http())));
        }
        let slot = WatchSlot(self.open.clone());
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(Held { body, _slot: slot })))
        })
    }
}

/// One open Watch stream, released when its response body is dropped.
struct WatchSlot(Arc<AtomicUsize>);

impl Drop for WatchSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its Watch slot.
struct Held {
    body: Body,
    _slot: WatchSlot,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
