//! `format: files`: each regular file is one key, its algorithm the source's pinned
//! `algorithm`. `raw` and `base64` files are HMAC secrets named by their kid; `pem` files are
//! public keys whose kid is the file name less a `.pem` suffix, and the key must fit the
//! algorithm (an RSA key with `ES256` is refused, naming the file).

use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::{pem, validate_key_len, Algorithm, DirSnapshot, KeyError, LoadedKey, Material};
use crate::config::KeyEncoding;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes every file of the snapshot into a key.
pub fn decode(
    snapshot: &DirSnapshot,
    encoding: KeyEncoding,
    alg: Algorithm,
    source: &Arc<str>,
) -> Result<Vec<LoadedKey>, KeyError> {
    let mut keys = Vec::with_capacity(snapshot.files.len());
    for file in &snapshot.files {
        if encoding == KeyEncoding::Pem {
            keys.push(decode_pem(file, alg, source)?);
            continue;
        }
        let what = format!("{} (kid {:?})", file.path.display(), file.name);
        let mut warnings = Vec::new();
        let secret = match encoding {
            KeyEncoding::Raw => {
                if file.bytes.ends_with(b"\n") {
                    warnings.push(format!(
                        "{what}: raw key ends with a newline, which is part of the key; \
                         if that is unintended, write it without (printf, not echo) or use encoding: base64"
                    ));
                }
                file.bytes.clone()
            }
            KeyEncoding::Base64 => {
                decode_base64(&file.bytes).map_err(|message| KeyError::Encoding {
                    what: what.clone(),
                    message,
                })?
            }
            KeyEncoding::Pem => unreachable!("handled above"),
        };
        validate_key_len(&what, alg, secret.len())?;
        keys.push(LoadedKey {
            kid: file.name.clone(),
            alg,
            material: Material::Secret(secret),
            source: source.clone(),
            warnings,
        });
    }
    Ok(keys)
}

/// One PEM public key file.
pub(super) fn decode_pem(
    file: &super::DirFile,
    alg: Algorithm,
    source: &Arc<str>,
) -> Result<LoadedKey, KeyError> {
    let kid = file
        .name
        .strip_suffix(".pem")
        .unwrap_or(&file.name)
        .to_string();
    let what = format!("{} (kid {kid:?})", file.path.display());
    let bad = |message: String| KeyError::BadKey {
        what: what.clone(),
        message,
    };
    let (key, warnings) = pem::parse(&file.bytes).map_err(bad)?;
    if key.family() != alg.family() {
        return Err(bad(format!(
            "this {} key cannot verify {alg} (keys[].algorithm must fit the key)",
            key.describe()
        )));
    }
    Ok(LoadedKey {
        kid,
        alg,
        material: Material::Public(key),
        source: source.clone(),
        warnings: warnings
            .into_iter()
            .map(|w| format!("{what}: {w}"))
            .collect(),
    })
}

/// Standard or URL-safe alphabet, padding optional, surrounding whitespace ignored.
pub fn decode_base64(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "base64 key is not valid text".to_string())?
        .trim();
    if text.is_empty() {
        return Err("base64 key is empty".into());
    }
    let url = text.contains(['-', '_']);
    if url && text.contains(['+', '/']) {
        return Err("base64 key mixes the standard (+/) and URL-safe (-_) alphabets".into());
    }
    let engine = if url { &URL_SAFE } else { &STANDARD };
    engine
        .decode(text)
        .map_err(|e| format!("invalid base64 key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DirFile;
    use std::path::PathBuf;

    fn snap(name: &str, bytes: &[u8]) -> DirSnapshot {
        DirSnapshot {
            files: vec![DirFile {
                name: name.into(),
                path: PathBuf::from("/keys").join(name),
                bytes: bytes.to_vec(),
            }],
            data_target: None,
        }
    }

    fn src() -> Arc<str> {
        Arc::from("/keys")
    }

    #[test]
    fn raw_keys_are_exact_bytes_and_warn_on_trailing_newline() {
        let mut bytes = vec![b'a'; 32];
        let keys = decode(
            &snap("k1", &bytes),
            KeyEncoding::Raw,
            Algorithm::HS256,
            &src(),
        )
        .unwrap();
        assert_eq!(keys[0].kid, "k1");
        assert!(matches!(&keys[0].material, Material::Secret(s) if *s == bytes));
        assert!(keys[0].warnings.is_empty());
        bytes.push(b'\n');
        let keys = decode(
            &snap("k1", &bytes),
            KeyEncoding::Raw,
            Algorithm::HS256,
            &src(),
        )
        .unwrap();
        assert!(matches!(&keys[0].material, Material::Secret(s) if s.len() == 33));
        assert!(keys[0].warnings[0].contains("newline"));
    }

    #[test]
    fn base64_accepts_both_alphabets_padding_and_whitespace() {
        let secret: Vec<u8> = (0..48u8)
            .map(|b| b.wrapping_mul(37).wrapping_add(250))
            .collect();
        use base64::engine::general_purpose as gp;
        for text in [
            gp::STANDARD.encode(&secret),
            gp::STANDARD_NO_PAD.encode(&secret),
            gp::URL_SAFE.encode(&secret),
            gp::URL_SAFE_NO_PAD.encode(&secret),
            format!("  {}\n", gp::STANDARD.encode(&secret)),
        ] {
            assert_eq!(decode_base64(text.as_bytes()).unwrap(), secret, "{text}");
        }
    }

    #[test]
    fn base64_errors_are_precise() {
        assert!(decode_base64(b"   ").unwrap_err().contains("empty"));
        assert!(decode_base64(b"ab+-").unwrap_err().contains("mixes"));
        assert!(decode_base64(b"not base64!")
            .unwrap_err()
            .contains("invalid base64"));
        assert!(decode_base64(&[0xff, 0xfe])
            .unwrap_err()
            .contains("not valid text"));
        let err = decode(
            &snap("k", b"!!!"),
            KeyEncoding::Base64,
            Algorithm::HS256,
            &src(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/keys/k (kid \"k\"): invalid base64"),
            "{err}"
        );
    }

    #[test]
    fn short_keys_name_the_file_and_algorithm() {
        let err = decode(
            &snap("k", &[1; 40]),
            KeyEncoding::Raw,
            Algorithm::HS384,
            &src(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/keys/k (kid \"k\"): 40-byte key is too short for HS384 (at least 48 bytes required)"
        );
        let text = err.to_string();
        assert!(!text.contains("\u{1}"));
    }
}
