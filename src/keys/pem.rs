//! `encoding: pem`: one public key per file, as a SubjectPublicKeyInfo (`PUBLIC KEY`), a
//! PKCS#1 `RSA PUBLIC KEY`, or an X.509 `CERTIFICATE` (its public key; the certificate's dates
//! and issuer are not checked: it is only a container). A file holding a private key is
//! refused with a message that says so, whatever else it holds.

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
    let (label, der) = pem_rfc7468::decode_vec(&text.as_bytes()[begin..end])
        .map_err(|e| format!("invalid PEM: {e}"))?;
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
}
