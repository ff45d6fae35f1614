//! JWK Sets: any bytes decode to valid keys (each at least its algorithm's length) or an error.
#![no_main]

use std::path::PathBuf;
use std::sync::Arc;

use jwt_authz::keys::{decode_jwks, DirFile, DirSnapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let snapshot = DirSnapshot {
        files: vec![DirFile {
            name: "set.json".into(),
            path: PathBuf::from("/jwks/set.json"),
            bytes: data.to_vec(),
        }],
        data_target: None,
    };
    if let Ok(keys) = decode_jwks(&snapshot, &Arc::from("/jwks")) {
        for k in keys {
            assert!(k.secret.len() >= k.alg.output_len());
            assert!(!k.kid.is_empty());
        }
    }
});
