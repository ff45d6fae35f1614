//! Answering one Check: load the snapshot once, run [`decide`], count and log the outcome, then
//! write the response. The server calls [`AuthzService::answer_bytes`] (protobuf bytes in and
//! out, see `grpc`); [`AuthzService::answer`] takes and returns prost messages for `explain`,
//! benches and tests. Nothing here blocks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use tonic::Status;

use super::check::{decide_with, AllowKind, Decision};
use super::response::{self, Omitted};
use crate::policy::Rule;
use crate::request::RequestView;
use crate::state::{Snapshot, State};
use crate::telemetry::{clip, AllowReason, ErrorReason, Metrics};

/// What a Check waits for before it is answered: an unknown-kid refetch of its provider's keys.
pub type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A Check's next step.
enum Step<R> {
    /// Answered.
    Done(R),
    /// Wait, then answer (without waiting again).
    Wait(Wait),
}

/// The ext_authz gRPC service.
#[derive(Debug, Clone)]
pub struct AuthzService {
    state: Arc<State>,
}

impl AuthzService {
    /// A service over shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Answers one Check given as a prost message (never waits for a refetch).
    pub fn answer(&self, req: &CheckRequest) -> Result<CheckResponse, Status> {
        let step = self.timed(
            RequestView::new(req),
            MayWait::No,
            response::build_explained,
        )?;
        match step {
            Step::Done(r) => Ok(r),
            Step::Wait(_) => unreachable!("a Check that may not wait is answered at once"),
        }
    }

    /// Answers one Check given as protobuf bytes, appending the encoded response to `out`
    /// (never waits for a refetch).
    pub fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        match self.answer_or_wait(request, out, MayWait::No)? {
            None => Ok(()),
            Some(_) => unreachable!("a Check that may not wait is answered at once"),
        }
    }

    /// Like [`AuthzService::answer_bytes`], but with [`MayWait::Within`] a token whose kid
    /// its remote provider lacks may return a [`Wait`] instead (an unknown-kid refetch in
    /// flight, within `unknown_kid_wait`, the request timeout and the client's deadline):
    /// nothing is written or counted, and the caller answers with `answer_bytes` once the
    /// wait ends.
    pub fn answer_or_wait(
        &self,
        request: &[u8],
        out: &mut Vec<u8>,
        may_wait: MayWait,
    ) -> Result<Option<Wait>, Status> {
        let wire = crate::wire::WireRequest::decode(request)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let step = self.timed(
            RequestView::from_wire(wire),
            may_wait,
            |decision, view, config| ((), response::encode(decision, view, config, out)),
        )?;
        Ok(match step {
            Step::Done(()) => None,
            Step::Wait(w) => Some(w),
        })
    }

    fn timed<R>(
        &self,
        view: RequestView<'_>,
        may_wait: MayWait,
        respond: impl FnOnce(
            &Decision<'_, '_>,
            &RequestView<'_>,
            &crate::config::Config,
        ) -> (R, Vec<Omitted>),
    ) -> Result<Step<R>, Status> {
        let start = Instant::now();
        let snap = self.state.snapshot();
        let metrics = &self.state.metrics;
        let decision = match decide(&view, &snap, metrics) {
            Ok(d) => d,
            Err(status) => {
                metrics.observe_duration(start.elapsed().as_secs_f64());
                return Err(status);
            }
        };
        if let MayWait::Within(deadline) = may_wait {
            if let Some(wait) = self.refetch_wait(&decision, &snap, deadline) {
                return Ok(Step::Wait(wait));
            }
        }
        count(&decision, &view, &snap, metrics);
        let (response, omitted) = respond(&decision, &view, &snap.config);
        for o in omitted {
            count_omission(&view, &snap, &decision, o);
        }
        metrics.observe_duration(start.elapsed().as_secs_f64());
        Ok(Step::Done(response))
    }

    /// The wait for an unknown-kid refetch, when the deny is one that a refetch may turn
    /// around and the provider's fetcher starts one (or has one in flight).
    fn refetch_wait(
        &self,
        decision: &Decision<'_, '_>,
        snap: &Snapshot,
        deadline: Option<Duration>,
    ) -> Option<Wait> {
        let Decision::Deny(deny) = decision else {
            return None;
        };
        let provider = snap.config.jwt.providers.get(deny.refetch?)?;
        // Leave time to answer within the request timeout and the client's deadline.
        let limit = deadline.map_or(snap.config.limits.request_timeout, |d| {
            d.min(snap.config.limits.request_timeout)
        });
        let budget = limit.saturating_sub(ANSWER_MARGIN);
        // The refetch starts even when this Check cannot wait for it: the next one finds it.
        let wait = self.state.fetchers.get(&provider.name)?.unknown_kid()?;
        if budget.is_zero() {
            return None;
        }
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(budget, wait).await;
        }))
    }
}

/// Whether a Check may wait for an unknown-kid refetch before it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MayWait {
    /// Answered at once (`explain`, tests, callers that cannot wait).
    No,
    /// It may wait, within the client's deadline (`grpc-timeout`) when it sent one.
    Within(Option<Duration>),
}

/// What a Check waiting for an unknown-kid refetch keeps of its time limit to answer in.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(50);

/// Unix time in whole seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A claim header left out although its claim is present: counted per header and logged.
fn count_omission(
    view: &RequestView<'_>,
    snap: &Snapshot,
    decision: &Decision<'_, '_>,
    o: Omitted,
) {
    if let Some(c) = snap.counters.omitted.get(o.header) {
        c[o.why as usize].inc();
    }
    let kid = match decision {
        Decision::Allow(a) => a.token.as_ref().map(|t| &*t.key.kid),
        Decision::Deny(_) => None,
    };
    tracing::info!(
        header = snap.config.forward.claims_to_headers[o.header].0.as_str(),
        reason = o.why.as_label(),
        request_id = %clip(view.request_id),
        kid,
        "claim header not forwarded (removed): its value cannot be forwarded faithfully"
    );
}

/// Decides; UNAVAILABLE is counted and logged here.
fn decide<'s, 't>(
    view: &RequestView<'t>,
    snap: &'s Snapshot,
    metrics: &Metrics,
) -> Result<Decision<'s, 't>, Status> {
    decide_with(view, &snap.config, &snap.keys, &snap.cache, unix_now()).map_err(|_| {
        metrics.error(ErrorReason::Unavailable);
        tracing::warn!(
            request_id = %clip(view.request_id),
            "no verification key loaded for the token's provider: answering UNAVAILABLE"
        );
        Status::unavailable("jwt-authz has no verification key loaded for this token's issuer")
    })
}

/// Counts and logs a decision.
fn count(decision: &Decision<'_, '_>, view: &RequestView<'_>, snap: &Snapshot, metrics: &Metrics) {
    let rule_counters = |rule: Option<&Rule>| rule.and_then(|r| snap.counters.rules.get(r.index));
    match decision {
        Decision::Allow(a) => {
            let reason = match &a.kind {
                AllowKind::Token => AllowReason::Ok,
                AllowKind::Public => AllowReason::Public,
                AllowKind::Shadow(_) => AllowReason::Shadow,
            };
            metrics.allow(reason);
            if let Some(t) = &a.token {
                if let Some(c) = snap.counters.kids.get(t.key.index) {
                    c.inc();
                }
            }
            let rule = a.rule.map(|r| r.name.as_str());
            if let Some(c) = rule_counters(a.rule) {
                c[if reason == AllowReason::Shadow { 2 } else { 0 }].inc();
            }
            let kid = a.token.as_ref().map(|t| &*t.key.kid);
            match &a.kind {
                AllowKind::Shadow(d) => tracing::info!(
                    reason = d.reason.as_label(),
                    detail = %d.detail,
                    rule,
                    request_id = %clip(view.request_id),
                    kid,
                    "shadow deny (allowed: rule is in shadow mode)"
                ),
                _ => tracing::debug!(
                    reason = reason.as_label(),
                    rule,
                    request_id = %clip(view.request_id),
                    kid,
                    "allow"
                ),
            }
        }
        Decision::Deny(d) => {
            metrics.deny(d.reason);
            if let Some(c) = d.key.and_then(|k| snap.counters.kids.get(k.index)) {
                c.inc();
            }
            let rule = d.rule.map(|r| r.name.as_str());
            if let Some(c) = rule_counters(d.rule) {
                c[1].inc();
            }
            tracing::info!(
                reason = d.reason.as_label(),
                detail = %d.detail,
                rule,
                request_id = %clip(view.request_id),
                kid = d.key.map(|k| &*k.kid),
                method = %clip(view.method),
                "deny"
            );
        }
    }
}
