//! Request signing for venues that authenticate with a shared secret (Binance's HMAC keys).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Binance's signature of a request: lower-case hex HMAC-SHA256 of `payload` keyed by `secret`.
///
/// `payload` is exactly the bytes sent: the query string, or the query string followed without a
/// separator by the form body. Sign the already percent-encoded text, then append
/// `&signature=<hex>` last; signing anything else than what goes on the wire fails with `-1022`.
pub fn sign_query(secret: &str, payload: &str) -> String {
    // HMAC takes a key of any length (longer keys are hashed, shorter ones padded), so
    // `new_from_slice` cannot fail here; the expect states an invariant, not an input check.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts a key of any length");
    mac.update(payload.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Lower-case hex digits, as Binance's examples print signatures.
const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from Binance's "SIGNED endpoint security" documentation.
    #[test]
    fn signs_binances_documented_example() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign_query(secret, query),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn the_signature_depends_on_every_byte_of_the_payload_and_the_secret() {
        let base = sign_query("secret", "a=1&b=2");
        assert_eq!(base.len(), 64);
        assert_ne!(base, sign_query("secret", "a=1&b=3"));
        assert_ne!(base, sign_query("Secret", "a=1&b=2"));
        // A key longer than SHA-256's 64-byte block is hashed first, not refused.
        assert_eq!(sign_query(&"k".repeat(200), "x").len(), 64);
    }
}
