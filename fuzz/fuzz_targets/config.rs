//! Config YAML: any text is accepted with a valid Config or refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ =
            jwt_authz::config::Config::from_yaml(text, std::path::Path::new("/fuzz/config.yaml"));
    }
});
