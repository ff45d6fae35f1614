//! `envoy.service.auth.v3.Authorization/Check` on raw bytes: the request message is read as
//! it arrives ([`super::unary`]) and parsed in place ([`crate::wire`]), and the response is
//! written directly (`encode_response`), instead of prost building a `CheckRequest` (a
//! `HashMap<String, String>` of headers) and a `CheckResponse` for every Check. Same wire
//! protocol as the generated server.

use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::Status;
use tower::Service;

use super::stalls::Stalls;
use super::unary::{ok_response, read_message, Budget, ReadError};
use super::AuthzService;

/// The gRPC path of Check.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// Answers a Check given as protobuf bytes with the encoded response: what [`CheckServer`]
/// serves. jwt-authz's is [`AuthzService`]; the benchmark's raw no-op answers a fixed OK.
pub trait AnswerBytes: Clone + Send + Sync + 'static {
    /// Appends the encoded CheckResponse for `request` to `out`.
    fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status>;

    /// Like `answer_bytes`, but may return a wait instead (nothing written, ending within
    /// `deadline`, the client's `grpc-timeout`), after which the Check is answered with
    /// `answer_bytes`. By default, answers at once.
    fn answer_or_wait(
        &self,
        request: &[u8],
        out: &mut Vec<u8>,
        deadline: Option<std::time::Duration>,
    ) -> Result<Option<super::service::Wait>, Status> {
        let _ = deadline;
        self.answer_bytes(request, out).map(|()| None)
    }

    /// The largest request message accepted (`limits.max_message_bytes`).
    fn max_message_bytes(&self) -> usize {
        crate::config::Limits::default().max_message_bytes
    }

    /// Called when a Check is shed because the request buffer budget is spent.
    fn shed(&self) {}

    /// Called when a stalled Check stream is evicted to make room.
    fn evicted(&self) {}
}

impl AnswerBytes for AuthzService {
    fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        AuthzService::answer_bytes(self, request, out)
    }

    fn answer_or_wait(
        &self,
        request: &[u8],
        out: &mut Vec<u8>,
        deadline: Option<std::time::Duration>,
    ) -> Result<Option<super::service::Wait>, Status> {
        AuthzService::answer_or_wait(self, request, out, super::MayWait::Within(deadline))
    }

    fn max_message_bytes(&self) -> usize {
        self.state().snapshot().config.limits.max_message_bytes
    }

    fn shed(&self) {
        self.state().shed("limits.max_buffered_bytes");
    }

    fn evicted(&self) {
        self.state().metrics.stream_evicted();
    }
}

/// The Authorization service (Check only).
#[derive(Clone, Debug)]
pub struct CheckServer<A = AuthzService> {
    service: A,
    budget: Arc<Budget>,
    stalls: Arc<Stalls>,
}

impl<A> CheckServer<A> {
    /// Serves `service`, buffering request messages within `budget`; `stalls` are the streams
    /// waiting for their message, evicted oldest first when room is needed.
    pub fn new(service: A, budget: Arc<Budget>, stalls: Arc<Stalls>) -> Self {
        Self {
            service,
            budget,
            stalls,
        }
    }
}

impl<A> NamedService for CheckServer<A> {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<A: AnswerBytes> Service<http::Request<Body>> for CheckServer<A> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFuture {
        if req.uri().path() != CHECK_PATH {
            let status = Status::unimplemented(format!(
                "{} is not a method of this service",
                req.uri().path()
            ));
            return Box::pin(ready(Ok(status.into_http())));
        }
        let deadline = grpc_timeout(req.headers());
        let service = self.service.clone();
        let budget = self.budget.clone();
        let stalls = self.stalls.clone();
        Box::pin(async move {
            let max = service.max_message_bytes();
            let response = match read_message(req.into_body(), max, &budget, &stalls).await {
                Ok(message) => {
                    let mut out = Vec::with_capacity(512);
                    let answered = match service.answer_or_wait(&message, &mut out, deadline) {
                        Ok(Some(wait)) => {
                            wait.await;
                            service.answer_bytes(&message, &mut out)
                        }
                        Ok(None) => Ok(()),
                        Err(status) => Err(status),
                    };
                    match answered {
                        Ok(()) => ok_response(out),
                        Err(status) => status.into_http(),
                    }
                }
                Err(ReadError::Overloaded) => {
                    service.shed();
                    Status::unavailable("jwt-authz is overloaded (limits.max_buffered_bytes)")
                        .into_http()
                }
                Err(ReadError::Evicted) => {
                    service.evicted();
                    Status::resource_exhausted(
                        "evicted: the request message had not arrived while the server was full",
                    )
                    .into_http()
                }
                Err(ReadError::Refused(status)) => status.into_http(),
            };
            Ok(response)
        })
    }
}

/// The client's deadline (`grpc-timeout`: digits and a unit, H M S m u n), if it sent one.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<std::time::Duration> {
    use std::time::Duration;
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok().filter(|_| digits.len() <= 8)?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_is_read_in_every_unit_and_nonsense_is_ignored() {
        let t = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().unwrap());
            grpc_timeout(&h)
        };
        use std::time::Duration;
        assert_eq!(t("250m"), Some(Duration::from_millis(250)));
        assert_eq!(t("2S"), Some(Duration::from_secs(2)));
        assert_eq!(t("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(t("100u"), Some(Duration::from_micros(100)));
        assert_eq!(t("5x"), None);
        assert_eq!(t("m"), None);
        assert_eq!(t("123456789S"), None);
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
