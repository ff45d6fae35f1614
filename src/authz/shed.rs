//! Load shedding: at most `limits.max_in_flight` Checks are answered at once; beyond that a
//! Check gets `UNAVAILABLE` immediately (Envoy then applies its `status_on_error` /
//! `failure_mode_allow`) instead of queueing without bound. Counted from the moment the request
//! headers arrive (body decoding included) until the answer. At the limit, a stream still
//! waiting for its message is evicted first (see `stalls`), so streams that stall cannot hold
//! the slots that whole Checks need. Wraps only the Authorization service: gRPC health keeps
//! answering under overload.

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

use super::Stalls;
use crate::state::State;

/// The shedding wrapper around a gRPC service.
#[derive(Clone, Debug)]
pub struct Shed<S> {
    inner: S,
    state: Arc<State>,
    stalls: Arc<Stalls>,
    in_flight: Arc<AtomicUsize>,
}

impl<S> Shed<S> {
    /// Wraps `inner`; the limit is read from the current snapshot, so it reloads with the config.
    /// At the limit the oldest stalled stream of `stalls` is evicted to admit the new Check;
    /// only when none is stalled is the new one shed.
    pub fn new(inner: S, state: Arc<State>, stalls: Arc<Stalls>) -> Self {
        Self {
            inner,
            state,
            stalls,
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
        if before >= limit && !self.stalls.evict_oldest() {
            drop(slot);
            self.state.shed("limits.max_in_flight");
            let status =
                tonic::Status::unavailable("jwt-authz is overloaded (limits.max_in_flight)");
            return ShedFuture(Outcome::Rejected(Some(status.into_http())));
        }
        ShedFuture(Outcome::Admitted(self.inner.call(request), slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::telemetry::Metrics;
    use crate::testing::bench_keyring;

    /// An inner service whose answers never come (Checks in flight, not stalled on their body).
    #[derive(Clone)]
    struct Forever;

    impl Service<http::Request<Body>> for Forever {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Pending<Result<http::Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _req: http::Request<Body>) -> Self::Future {
            std::future::pending()
        }
    }

    #[tokio::test]
    async fn with_nothing_stalled_to_evict_a_check_beyond_the_limit_is_shed() {
        let config = Config::from_yaml(
            "keys: [{ dir: /k, algorithm: HS256 }]\nlimits: { max_in_flight: 1 }\n",
            std::path::Path::new("shed.yaml"),
        )
        .unwrap();
        let state = State::new(Arc::new(config), Arc::new(bench_keyring(1)), Metrics::new());
        let stalls = Arc::new(Stalls::default());
        let mut shed = Shed::new(Forever, state.clone(), stalls.clone());
        let held = shed.call(http::Request::new(Body::empty()));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut held = Box::pin(held);
        assert!(
            held.as_mut().poll(&mut cx).is_pending(),
            "admitted and in flight"
        );
        let response = shed.call(http::Request::new(Body::empty())).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "14", "UNAVAILABLE");
        assert!(state
            .metrics
            .render()
            .contains("jwt_authz_checks_total{decision=\"error\",reason=\"overloaded\"} 1"));
        // A stalled stream would have been evicted instead.
        let _stall = stalls.register();
        let mut admitted = Box::pin(shed.call(http::Request::new(Body::empty())));
        assert!(admitted.as_mut().poll(&mut cx).is_pending());
        drop(held);
    }
}
