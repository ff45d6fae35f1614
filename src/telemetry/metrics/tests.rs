//! The decision counters carry their labels.

use super::*;

#[test]
fn counters_indexed_by_reason_carry_that_reasons_label() {
    let metrics = Metrics::new();
    for r in DenyReason::ALL {
        metrics.deny(r);
    }
    metrics.deny(DenyReason::Expired);
    let text = metrics.render();
    for r in DenyReason::ALL {
        let expected = if r == DenyReason::Expired { 2 } else { 1 };
        let series = format!(
            "jwt_authz_checks_total{{decision=\"deny\",reason=\"{}\"}} {expected}",
            r.as_label()
        );
        assert!(text.contains(&series), "{series}\n{text}");
    }
    for (reason, label) in [
        (AllowReason::Ok, "ok"),
        (AllowReason::Public, "public"),
        (AllowReason::Shadow, "shadow"),
    ] {
        metrics.allow(reason);
        assert!(metrics.render().contains(&format!(
            "jwt_authz_checks_total{{decision=\"allow\",reason=\"{label}\"}} 1"
        )));
    }
    metrics.error(ErrorReason::Overloaded);
    assert!(metrics
        .render()
        .contains("jwt_authz_checks_total{decision=\"error\",reason=\"overloaded\"} 1"));
}
