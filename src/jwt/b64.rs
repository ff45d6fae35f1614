//! Strict base64url decoding (RFC 4648 §5 alphabet, no padding) for the three parts of a
//! compact JWS. Canonical only: a length of 4n+1 characters, any character outside the
//! alphabet (padding included), and non-zero bits after the last byte are all refused, so one
//! byte string has exactly one accepted encoding (RFC 7515 §2, RFC 8725 §3.1). Table-driven,
//! into a caller's buffer: no allocation. Checked against the `base64` crate's
//! `URL_SAFE_NO_PAD` in the tests.

/// Marks a byte outside the alphabet; any value with the high bit set is invalid.
const BAD: u8 = 0xFF;

/// Character → 6-bit value, or [`BAD`].
static TABLE: [u8; 256] = table();

/// Character → its 6 bits already shifted into place for each position of a 4-character group
/// (bit 31 set for a character outside the alphabet): a group decodes with four loads and ORs.
static SHIFTED: [[u32; 256]; 4] = [shifted(18), shifted(12), shifted(6), shifted(0)];

const fn table() -> [u8; 256] {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const fn shifted(shift: u32) -> [u32; 256] {
    let plain = table();
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if plain[i] == BAD {
            1 << 31
        } else {
            (plain[i] as u32) << shift
        };
        i += 1;
    }
    t
}

/// The decoded length of `chars` base64url characters; `None` for 4n+1 (never canonical).
pub fn decoded_len(chars: usize) -> Option<usize> {
    match chars % 4 {
        1 => None,
        0 => Some(chars / 4 * 3),
        r => Some(chars / 4 * 3 + r - 1),
    }
}

/// Decodes `input` into the front of `out` and returns the decoded length; `None` when the
/// input is not canonical base64url or `out` is too short.
pub fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let mut bad = 0u8;
    let (body, tail) = input.split_at(input.len() / 4 * 4);
    let (out_body, out_tail) = out.split_at_mut(body.len() / 4 * 3);
    let mut group_bad = 0u32;
    for (c, o) in body.chunks_exact(4).zip(out_body.chunks_exact_mut(3)) {
        let v = SHIFTED[0][c[0] as usize]
            | SHIFTED[1][c[1] as usize]
            | SHIFTED[2][c[2] as usize]
            | SHIFTED[3][c[3] as usize];
        group_bad |= v;
        o.copy_from_slice(&v.to_be_bytes()[1..]);
    }
    if group_bad >> 31 != 0 {
        return None;
    }
    match *tail {
        [] => {}
        [a, b] => {
            let (a, b) = (TABLE[a as usize], TABLE[b as usize]);
            // Two characters carry 12 bits for one byte: the last 4 must be zero.
            bad |= a | b | if b & 0x0F == 0 { 0 } else { BAD };
            out_tail[0] = a << 2 | b >> 4;
        }
        [a, b, c] => {
            let (a, b, c) = (TABLE[a as usize], TABLE[b as usize], TABLE[c as usize]);
            // Three characters carry 18 bits for two bytes: the last 2 must be zero.
            bad |= a | b | c | if c & 0x03 == 0 { 0 } else { BAD };
            let v = u32::from(a) << 12 | u32::from(b) << 6 | u32::from(c);
            out_tail[0] = (v >> 10) as u8;
            out_tail[1] = (v >> 2) as u8;
        }
        _ => return None,
    }
    (bad & 0x80 == 0).then_some(len)
}

/// Decodes `input` into a new buffer of exactly its decoded length.
pub fn decode_vec(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; decoded_len(input.len())?];
    decode_into(input, &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use proptest::prelude::*;

    fn ours(s: &[u8]) -> Option<Vec<u8>> {
        decode_vec(s)
    }

    fn reference(s: &[u8]) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(s).ok()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(ours(b"").unwrap(), b"");
        assert_eq!(ours(b"Zg").unwrap(), b"f");
        assert_eq!(ours(b"Zm8").unwrap(), b"fo");
        assert_eq!(ours(b"Zm9v").unwrap(), b"foo");
        assert_eq!(ours(b"Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(ours(b"-_8").unwrap(), [0xFB, 0xFF]);
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        for bad in [
            &b"Z"[..],      // 4n+1
            b"Zh",          // non-zero trailing bits (Zg is canonical)
            b"Zm9=",        // padding
            b"Zm9vYg==",    // padding
            b"Zm+v",        // standard alphabet
            b"Zm/v",        // standard alphabet
            b"Zm9v.",       // separator
            b"Zm 9",        // space
            b"Zm9\xC3\xA9", // non-ASCII
        ] {
            assert_eq!(ours(bad), None, "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(reference(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn short_output_buffer_is_refused() {
        let mut out = [0u8; 2];
        assert_eq!(decode_into(b"Zm9v", &mut out), None);
        let mut out = [0u8; 4];
        assert_eq!(decode_into(b"Zm9v", &mut out), Some(3));
    }

    proptest! {
        #[test]
        fn encodings_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(ours(text.as_bytes()), Some(bytes));
        }

        #[test]
        fn agrees_with_the_base64_crate(text in "[A-Za-z0-9_=+/. -]{0,40}") {
            prop_assert_eq!(ours(text.as_bytes()), reference(text.as_bytes()));
        }

        #[test]
        fn agrees_on_trailing_bits(text in "[A-Za-z0-9_-]{0,40}") {
            prop_assert_eq!(ours(text.as_bytes()), reference(text.as_bytes()));
        }

        #[test]
        fn agrees_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            prop_assert_eq!(ours(&bytes), reference(&bytes));
        }
    }
}
