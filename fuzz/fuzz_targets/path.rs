//! Path normalization on arbitrary text, under each combination of `paths` settings. Oracle:
//! `jwt_authz::testing::check_normalization` (a normalized path is absolute, a fixed point, and
//! free of `//`, dot-segments, `;`, encoded dots, slashes and backslashes, and of upper case
//! when case-insensitive; a `;` is accepted only when parameters are stripped).
#![no_main]

use jwt_authz::policy::{Parameters, PathOptions};
use jwt_authz::testing::check_normalization;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for case_insensitive in [false, true] {
        for parameters in [Parameters::Reject, Parameters::Strip] {
            let options = PathOptions {
                case_insensitive,
                parameters,
            };
            if let Err(why) = check_normalization(raw, &options) {
                panic!("{why}");
            }
        }
    }
});
