//! `encoding: pem`: one public key per file, as a SubjectPublicKeyInfo (`PUBLIC KEY`), a
//! PKCS#1 `RSA PUBLIC KEY`, or an X.509 `CERTIFICATE` (its public key; the certificate's dates
//! and issuer are not checked: it is only a container). A file holding a private key is
//! refused with a message that says so, whatever else it holds.
//!
//! pem-rfc7468 reads the block; it requires RFC 7468's 64-character lines, while Keycloak's
//! admin console and a JWK's `x5c` give the base64 body as one line, which users wrap in
//! BEGIN/END lines by hand. Such a body (and only a base64 defect) is read again here with the
//! line breaks removed, strictly canonical base64 otherwise, with a warning.

use der::Decode;

use super::public::PublicKey;

/// Parses one PEM key file.
pub fn parse(bytes: &[u8]) -> Result<(PublicKey, Vec<String>), String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| "a PEM file is text: this is not".to_string())?;
    let labels: Vec<&str> = text
        .match_indices("-----BEGIN ")
        .filter_map(|(at, _)| {
            let rest = &text[at + "-----BEGIN ".len()..];
            rest.find("-----").map(|end| &rest[..end])
        })
        .collect();
    if labels.iter().any(|l| l.contains("PRIVATE KEY")) {
        return Err(
            "this file holds a PRIVATE key: mount only public keys here (a private key must never be in jwt-authz's key directory)"
                .into(),
        );
    }
    let Some(first) = labels.first() else {
        return Err(
            "no PEM block (-----BEGIN PUBLIC KEY-----, RSA PUBLIC KEY or CERTIFICATE)".into(),
        );
    };
    let mut warnings = Vec::new();
    if labels.len() > 1 {
        if labels.iter().all(|l| *l == "CERTIFICATE") {
            warnings.push(format!(
                "{} certificates: the first one's key is used (the leaf of a chain)",
                labels.len()
            ));
        } else {
            return Err("more than one PEM block: one key per file".into());
        }
    }
    let begin = text.find("-----BEGIN ").expect("a label was found");
    let end_marker = format!("-----END {first}-----");
    let end = text[begin..]
        .find(&end_marker)
        .map(|e| begin + e + end_marker.len())
        .ok_or_else(|| format!("the {first} block has no END line"))?;
    let block = &text[begin..end];
    let (label, der) = match pem_rfc7468::decode_vec(block.as_bytes()) {
        Ok(decoded) => decoded,
        Err(pem_rfc7468::Error::Base64(e)) => {
            let der = unwrapped_body(block, first).ok_or(format!("invalid PEM: {e}"))?;
            warnings.push(
                "the PEM body is not wrapped at 64 characters (RFC 7468): read with its line breaks ignored".into(),
            );
            (*first, der)
        }
        Err(e) => return Err(format!("invalid PEM: {e}")),
    };
    let key = match label {
        "PUBLIC KEY" => PublicKey::from_spki(&der)?,
        "RSA PUBLIC KEY" => PublicKey::from_pkcs1(&der)?,
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|e| format!("not an X.509 certificate: {e}"))?;
            let spki = der::Encode::to_der(cert.tbs_certificate().subject_public_key_info())
                .map_err(|e| format!("the certificate's key: {e}"))?;
            PublicKey::from_spki(&spki)?
        }
        other => {
            return Err(format!(
                "PEM block {other:?}: use PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"
            ))
        }
    };
    Ok((key, warnings))
}

/// The base64 body of a `-----BEGIN label-----` block whatever its line lengths: no headers,
/// nothing but base64 and whitespace, canonical padded base64 once the whitespace is removed.
fn unwrapped_body(block: &str, label: &str) -> Option<Vec<u8>> {
    let body = block
        .strip_prefix(&format!("-----BEGIN {label}-----"))?
        .strip_suffix(&format!("-----END {label}-----"))?;
    let compact: String = body.split_ascii_whitespace().collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Curve, Family};
    use crate::testing::{ec_key, ed25519_key, rsa_key};

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn reads_spki_pkcs1_and_certificates() {
        let (key, warnings) = parse(&fixture("cert-rsa.pem")).unwrap();
        assert_eq!(
            (key.family(), key.describe().as_str()),
            (Family::Rsa, "RSA 2048")
        );
        assert!(warnings.is_empty());
        let (pkcs1, _) = parse(&fixture("pkcs1-rsa.pem")).unwrap();
        assert_eq!(
            pkcs1, key,
            "the certificate's key and its PKCS#1 form are the same key"
        );
        let (ec, _) = parse(&fixture("cert-ec-p256.pem")).unwrap();
        assert_eq!(ec.family(), Family::Ec(Curve::P256));
        let (ed, _) = parse(&fixture("spki-ed25519.pem")).unwrap();
        assert_eq!(ed.family(), Family::Ed25519);
        for generated in [
            rsa_key(),
            ec_key(Curve::P384),
            ec_key(Curve::P521),
            ed25519_key(),
        ] {
            let (parsed, _) = parse(generated.to_public_pem().as_bytes()).unwrap();
            assert_eq!(parsed, generated.public());
        }
        // A chain: the first (leaf) certificate's key, with a warning.
        let chain = [fixture("cert-rsa.pem"), fixture("cert-ec-p256.pem")].concat();
        let (leaf, warnings) = parse(&chain).unwrap();
        assert_eq!(leaf, key);
        assert!(warnings[0].contains("2 certificates"), "{warnings:?}");
    }

    #[test]
    fn refuses_private_keys_weak_keys_and_other_shapes() {
        let private = ec_key(Curve::P256).to_pkcs8_pem();
        let err = parse(private.as_bytes()).unwrap_err();
        assert!(err.contains("PRIVATE key"), "{err}");
        let mixed = format!("{}{}", ec_key(Curve::P256).to_public_pem(), private);
        assert!(parse(mixed.as_bytes()).unwrap_err().contains("PRIVATE key"));
        for (bytes, expected) in [
            (fixture("spki-rsa-1024.pem"), "1024 bits"),
            (
                fixture("spki-secp256k1.pem"),
                "is not P-256, P-384 or P-521",
            ),
            (b"no pem here".to_vec(), "no PEM block"),
            (b"\xff\xfe".to_vec(), "not"),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
                "not a SubjectPublicKeyInfo",
            ),
            (
                b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n".to_vec(),
                "PEM block \"FOO\"",
            ),
            (
                [fixture("pkcs1-rsa.pem"), fixture("spki-ed25519.pem")].concat(),
                "one key per file",
            ),
        ] {
            let err = parse(&bytes).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn a_body_on_one_line_is_read_with_a_warning_but_only_as_canonical_base64() {
        let key = rsa_key();
        let pem = key.to_public_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        // What users paste from Keycloak's console or a JWK's x5c.
        let one_line = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let (parsed, warnings) = parse(one_line.as_bytes()).unwrap();
        assert_eq!(parsed, key.public());
        assert!(warnings[0].contains("64 characters"), "{warnings:?}");
        let cert: String = String::from_utf8(fixture("cert-rsa.pem"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let x5c = format!("-----BEGIN CERTIFICATE-----\n{cert}\n-----END CERTIFICATE-----");
        assert_eq!(parse(x5c.as_bytes()).unwrap().0.describe(), "RSA 2048");
        // Still strict: URL-safe characters, a bad padding, a header line.
        for bad in [
            body.replace('+', "-").replace('/', "_"),
            body.trim_end_matches('=').to_string() + "=",
            format!("Proc-Type: 4,ENCRYPTED\n{body}"),
        ] {
            let text = format!("-----BEGIN PUBLIC KEY-----\n{bad}\n-----END PUBLIC KEY-----\n");
            if bad != body {
                assert!(
                    parse(text.as_bytes()).unwrap_err().contains("invalid PEM"),
                    "{bad}"
                );
            }
        }
    }
}
