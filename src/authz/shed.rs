//! Load shedding: at most `limits.max_in_flight` Checks are answered at once; beyond that a
//! Check gets `UNAVAILABLE` immediately (Envoy then applies its `status_on_error` /
//! `failure_mode_allow`) instead of queueing without bound. Counted from the moment the request
//! headers arrive (body decoding included) until the answer. Wraps only the Authorization
//! service: gRPC health keeps answering under overload.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tower::Service;

use crate::state::State;

/// The shedding wrapper around a gRPC service.
#[derive(Clone, Debug)]
pub struct Shed<S> {
    inner: S,
    state: Arc<State>,
    in_flight: Arc<AtomicUsize>,
}

impl<S> Shed<S> {
    /// Wraps `inner`; the limit is read from the current snapshot, so it reloads with the config.
    pub fn new(inner: S, state: Arc<State>) -> Self {
        Self {
            inner,
            state,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl<S: NamedService> NamedService for Shed<S> {
    const NAME: &'static str = S::NAME;
}

/// Releases one in-flight slot when dropped, however the Check ends.
#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The response future: an immediate rejection, or the inner future holding its slot.
pub struct ShedFuture<F>(Outcome<F>);

enum Outcome<F> {
    Rejected(Option<http::Response<Body>>),
    Admitted(F, #[allow(dead_code)] Slot),
}

impl<F> Future for ShedFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, Infallible>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match &mut self.get_mut().0 {
            Outcome::Rejected(response) => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            Outcome::Admitted(inner, _) => Pin::new(inner).poll(cx),
        }
    }
}

impl<S> Service<http::Request<Body>> for Shed<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let limit = self.state.snapshot().config.limits.max_in_flight;
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.in_flight.clone());
        if before >= limit {
            drop(slot);
            self.state.shed("limits.max_in_flight");
            let status =
                tonic::Status::unavailable("jwt-authz is overloaded (limits.max_in_flight)");
            return ShedFuture(Outcome::Rejected(Some(status.into_http())));
        }
        ShedFuture(Outcome::Admitted(self.inner.call(request), slot))
    }
}
