//! `jwt-authz test`: runs the config's decision tests and reports each failure with what it
//! expected and what it got, then `N passed, M failed`; exit 0 when all pass.

use std::process::ExitCode;

use super::{say, CommandError, Output};
use crate::cli::TestArgs;
use crate::config::Config;

/// Runs the tests of `args.config`.
pub fn run(args: &TestArgs) -> Result<ExitCode, CommandError> {
    let config = Config::load_untested(&args.config.config)?;
    let started = std::time::Instant::now();
    let outcomes = crate::decisions::run(&config, crate::authz::unix_now());
    let elapsed = started.elapsed();
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let passed = outcomes.len() - failed;
    let mut out = Output::default();
    if args.format == "json" {
        let results: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({
                    "name": o.name, "passed": o.passed, "expected": o.expected, "actual": o.actual,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "config": config.path.display().to_string(),
            "passed": passed,
            "failed": failed,
            "results": results,
        });
        say!(out, "{doc}");
    } else {
        for o in outcomes.iter().filter(|o| !o.passed) {
            say!(
                out,
                "FAIL {}: expected {}, got {}",
                o.name,
                o.expected,
                o.actual
            );
        }
        say!(
            out,
            "{}: {passed} passed, {failed} failed ({} ms)",
            config.path.display(),
            elapsed.as_millis()
        );
    }
    out.emit()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
