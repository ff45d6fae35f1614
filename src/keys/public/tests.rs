//! Tests of the public-key checks: every refusal, the small-order table, thumbprints.

use super::*;
use crate::testing::{ec_key, ed25519_key, rsa_key};

#[test]
fn every_small_order_ed25519_encoding_is_refused() {
    let y8 = le("05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826");
    let mut count = 0;
    for y in [
        le("0000000000000000000000000000000000000000000000000000000000000000"),
        le("0000000000000000000000000000000000000000000000000000000000000001"),
        le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec"),
        y8,
        le("7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7"),
        le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed"),
        le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffee"),
    ] {
        for sign in [0u8, 0x80] {
            let mut key = y;
            key[31] |= sign;
            assert!(is_small_order(&key), "{key:02x?}");
            assert!(PublicKey::ed25519(&key).is_err());
            count += 1;
        }
    }
    assert_eq!(count, 14);
    for _ in 0..50 {
        let key = ed25519_key().public();
        let Kind::Ed25519 { x } = key.kind else {
            panic!()
        };
        assert!(!is_small_order(&x));
    }
    assert!(PublicKey::ed25519(&[1; 31])
        .unwrap_err()
        .contains("32 bytes, not 31"));
}

#[test]
fn aws_lc_rs_alone_accepts_a_forgery_with_a_small_order_key() {
    // Why the check above exists: the identity as public key, R = identity, S = 0.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let raw = ParsedPublicKey::new(&sig::ED25519, identity).unwrap();
    let mut forged = [0u8; 64];
    forged[0] = 1;
    assert!(raw.verify_sig(b"any message", &forged).is_ok());
    assert!(PublicKey::ed25519(&identity)
        .unwrap_err()
        .contains("small order"));
}

#[test]
fn rsa_keys_need_2048_bits_and_a_sane_exponent() {
    let n = [0xc5u8; 256];
    assert!(PublicKey::rsa(&n, &[1, 0, 1]).is_ok());
    assert!(
        PublicKey::rsa(&[&[0u8, 0][..], &n].concat(), &[0, 1, 0, 1]).is_ok(),
        "leading zeros"
    );
    assert!(PublicKey::rsa(&n[..255], &[1, 0, 1])
        .unwrap_err()
        .contains("2040 bits"));
    assert!(PublicKey::rsa(&[0xff; 1025], &[1, 0, 1])
        .unwrap_err()
        .contains("8200 bits"));
    for e in [
        &[1u8][..],
        &[2],
        &[1, 0, 0],
        &[0x80, 0, 0, 1],
        &[1, 0, 0, 0, 1],
        &[],
    ] {
        assert!(
            PublicKey::rsa(&n, e).unwrap_err().contains("exponent"),
            "{e:?}"
        );
    }
    assert!(PublicKey::rsa(&n, &[3]).is_ok());
    assert!(PublicKey::rsa(&n, &[0x7f, 0xff, 0xff, 0xff]).is_ok()); // Found by the jwks fuzz target: an even modulus passed our checks and failed later,
                                                                    // when aws-lc-rs prepared it, without a reason.
                                                                    // Also found by it: a modulus of only zero bytes underflowed the bit count.
    for zeros in [&[][..], &[0], &[0, 0, 0]] {
        assert!(PublicKey::rsa(zeros, &[1, 0, 1])
            .unwrap_err()
            .contains("modulus of 0 bits"));
    }
    let mut even = n;
    even[255] = 0xc4;
    assert!(PublicKey::rsa(&even, &[1, 0, 1])
        .unwrap_err()
        .contains("modulus is even"));
}

#[test]
fn ec_points_must_be_on_their_curve_with_exact_coordinates() {
    let key = ec_key(Curve::P256).public();
    let Kind::Ec { x, y, .. } = &key.kind else {
        panic!()
    };
    assert!(PublicKey::ec(Curve::P256, x, y).is_ok());
    let mut off = y.clone();
    off[31] ^= 1;
    assert!(PublicKey::ec(Curve::P256, x, &off)
        .unwrap_err()
        .contains("not on P-256"));
    assert!(PublicKey::ec(Curve::P256, &x[1..], y)
        .unwrap_err()
        .contains("32 bytes"));
    assert!(PublicKey::ec(Curve::P384, x, y)
        .unwrap_err()
        .contains("48 bytes"));
}

#[test]
fn a_key_verifies_only_algorithms_of_its_family() {
    let rsa = rsa_key();
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert!(rsa
            .public()
            .prepare(alg)
            .unwrap_err()
            .contains("cannot verify"));
    }
    let ec = ec_key(Curve::P256);
    assert!(
        ec.public().prepare(Algorithm::ES384).is_err(),
        "ES384 on a P-256 key"
    );
    assert!(ed25519_key().public().prepare(Algorithm::RS256).is_err());
}

#[test]
fn signatures_verify_for_their_algorithm_only_and_at_their_exact_length() {
    let rsa = rsa_key();
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let v = rsa.public().prepare(alg).unwrap();
        let signature = rsa.sign(alg, b"m").unwrap();
        assert_eq!(v.signature_len(), 256);
        assert!(v.verify(b"m", &signature), "{alg}");
        assert!(!v.verify(b"n", &signature), "{alg}");
        assert!(!v.verify(b"m", &signature[..255]), "one byte short: {alg}");
        assert!(!v.verify(b"m", &[&[0u8][..], &signature].concat()), "{alg}");
    }
    // PKCS#1 v1.5 and PSS are different algorithms of the same key.
    let rs = rsa.public().prepare(Algorithm::RS256).unwrap();
    assert!(!rs.verify(b"m", &rsa.sign(Algorithm::PS256, b"m").unwrap()));
    let ps = rsa.public().prepare(Algorithm::PS256).unwrap();
    assert!(!ps.verify(b"m", &rsa.sign(Algorithm::RS256, b"m").unwrap()));
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        let key = ec_key(curve);
        let v = key.public().prepare(curve.algorithm()).unwrap();
        let signature = key.sign(curve.algorithm(), b"m").unwrap();
        assert_eq!(signature.len(), 2 * curve.coordinate_len());
        assert!(v.verify(b"m", &signature));
        assert!(!v.verify(b"m", &signature[1..]));
    }
    let ed = ed25519_key();
    let v = ed.public().prepare(Algorithm::EdDSA).unwrap();
    assert!(v.verify(b"m", &ed.sign(Algorithm::EdDSA, b"m").unwrap()));
}

#[test]
fn psychic_and_der_ecdsa_signatures_are_refused() {
    let key = ec_key(Curve::P256);
    let v = key.public().prepare(Algorithm::ES256).unwrap();
    // CVE-2022-21449: r = s = 0, and r = s = n.
    assert!(!v.verify(b"m", &[0u8; 64]));
    let n = le("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut n_be = n;
    n_be.reverse();
    assert!(!v.verify(b"m", &[n_be, n_be].concat()));
    // The same signature DER-encoded (SEQUENCE of two INTEGERs) is refused by length.
    let jose = key.sign(Algorithm::ES256, b"m").unwrap();
    assert!(!v.verify(b"m", &crate::testing::ecdsa_der(&jose)));
    assert!(v.verify(b"m", &jose));
}
