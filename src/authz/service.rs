//! Answering one Check: load the snapshot once, run [`decide`], count and log the outcome, then
//! write the response. The server calls [`AuthzService::answer_bytes`] (protobuf bytes in and
//! out, see `grpc`); [`AuthzService::answer`] takes and returns prost messages for `explain`,
//! benches and tests. Nothing here blocks.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use tonic::Status;

use super::check::{decide_with, AllowKind, Decision};
use super::response::{self, Omitted};
use crate::policy::Rule;
use crate::request::RequestView;
use crate::state::{Snapshot, State};
use crate::telemetry::{clip, AllowReason, ErrorReason, Metrics};

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

    /// Answers one Check given as a prost message.
    pub fn answer(&self, req: &CheckRequest) -> Result<CheckResponse, Status> {
        self.timed(RequestView::new(req), |decision, view, config| {
            response::build_explained(decision, view, config)
        })
    }

    /// Answers one Check given as protobuf bytes, appending the encoded response to `out`.
    pub fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        let wire = crate::wire::WireRequest::decode(request)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.timed(RequestView::from_wire(wire), |decision, view, config| {
            ((), response::encode(decision, view, config, out))
        })
    }

    fn timed<R>(
        &self,
        view: RequestView<'_>,
        respond: impl FnOnce(
            &Decision<'_, '_>,
            &RequestView<'_>,
            &crate::config::Config,
        ) -> (R, Vec<Omitted>),
    ) -> Result<R, Status> {
        let start = Instant::now();
        let snap = self.state.snapshot();
        let metrics = &self.state.metrics;
        let result = check_once(&view, &snap, metrics).map(|d| {
            let (response, omitted) = respond(&d, &view, &snap.config);
            for o in omitted {
                count_omission(&view, &snap, &d, o);
            }
            response
        });
        metrics.observe_duration(start.elapsed().as_secs_f64());
        result
    }
}

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

/// Decides, counts and logs.
fn check_once<'s, 't>(
    view: &RequestView<'t>,
    snap: &'s Snapshot,
    metrics: &Metrics,
) -> Result<Decision<'s, 't>, Status> {
    let config = &snap.config;
    let decision = match decide_with(view, config, &snap.keys, &snap.cache, unix_now()) {
        Ok(d) => d,
        Err(_) => {
            metrics.error(ErrorReason::Unavailable);
            tracing::warn!(
                request_id = %clip(view.request_id),
                "no verification key loaded: answering UNAVAILABLE"
            );
            return Err(Status::unavailable(
                "jwt-authz has no verification key loaded",
            ));
        }
    };
    let rule_counters = |rule: Option<&Rule>| rule.and_then(|r| snap.counters.rules.get(r.index));
    match &decision {
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
    Ok(decision)
}
