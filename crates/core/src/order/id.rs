//! The client order id: derived from the decision, so a restart finds the order it already sent.
//!
//! One id must be accepted by every venue: Binance wants `^[a-zA-Z0-9-_]{1,36}$`, Alpaca at
//! most 128 characters. A derived id looks like `bt20261207b-<20 base32 letters>` (32
//! characters, leaving 4 spare for a tool that prefixes ids):
//! - `bt`, the decision day as `yyyymmdd` and `b`/`s` for the side keep it readable in a venue's
//!   order list;
//! - the 20 letters are the first 100 bits of a SHA-256 over the whole decision (account,
//!   strategy, symbol, day, side), each field length-prefixed so `("ab", "c")` and `("a", "bc")`
//!   hash differently, written in lower-case base32 so no venue's case rules or separators
//!   matter.
//!
//! The encoding is versioned by the `barter/client-order-id/v1` tag inside the hash and pinned
//! by a test: changing it would give orders already at a venue new ids, and a restart would no
//! longer find them.

use std::fmt;
use std::str::FromStr;

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Day;
use crate::execution::Side;
use crate::symbol::Symbol;

/// The longest id accepted (Binance's limit; Alpaca allows 128).
pub const MAX_CLIENT_ORDER_ID_LEN: usize = 36;

/// Domain tag hashed first: a new encoding gets a new tag, never a silent change.
const HASH_TAG: &str = "barter/client-order-id/v1";

/// Lower-case RFC 4648 base32: letters and digits only, the same under any case folding.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Base32 letters of the digest kept: 100 bits, so a collision between two decisions is
/// out of reach (about 2^50 orders before one becomes likely).
const HASH_CHARS: usize = 20;

/// The length of every derived id: `bt` + 8 date digits + side + `-` + the hash.
pub const DERIVED_ID_LEN: usize = 12 + HASH_CHARS;

/// An order id chosen by Barter and sent to the venue, valid on Binance and Alpaca alike.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

/// Why a text is not a usable client order id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientOrderIdError {
    /// The text was empty.
    #[error("client order id is empty: a stored or reported order must carry its id")]
    Empty,
    /// The text was longer than [`MAX_CLIENT_ORDER_ID_LEN`].
    #[error(
        "client order id `{excerpt}` has {length} characters, more than the \
         {MAX_CLIENT_ORDER_ID_LEN} Binance accepts: it was not made by Barter, check the order \
         record it came from"
    )]
    TooLong {
        /// The first characters of the text.
        excerpt: String,
        /// Its length in characters.
        length: usize,
    },
    /// The text held a character other than `a-z`, `A-Z`, `0-9`, `-` or `_`.
    #[error(
        "client order id `{id}` contains {character:?}: venues accept only letters, digits, \
         `-` and `_`; check the order record it came from"
    )]
    BadCharacter {
        /// The refused id.
        id: String,
        /// The first character that is not allowed.
        character: char,
    },
}

impl ClientOrderId {
    /// The id of the order for one decision: the same inputs give the same id on every
    /// platform and in every version, different inputs give different ids.
    ///
    /// Names are hashed byte for byte as given (`Main` and `main` are different accounts).
    pub fn derive(account: &str, strategy: &str, symbol: &Symbol, day: Day, side: Side) -> Self {
        let mut hasher = Sha256::new();
        let day_text = day.to_string();
        let side_text = match side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        for field in [
            HASH_TAG,
            account,
            strategy,
            symbol.as_str(),
            &day_text,
            side_text,
        ] {
            // A fixed-width big-endian length, not `usize`, so 32- and 64-bit builds agree.
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        let digest = hasher.finalize();

        let mut id = String::with_capacity(MAX_CLIENT_ORDER_ID_LEN);
        id.push_str("bt");
        // The readable date is only a hint (the hash holds the exact day): a year without four
        // digits, which no real decision has, shows as zeros to keep the id's length fixed.
        if (0..=9999).contains(&day.year()) {
            id.push_str(&format!(
                "{:04}{:02}{:02}",
                day.year(),
                day.month(),
                day.day()
            ));
        } else {
            id.push_str("00000000");
        }
        id.push(match side {
            Side::Buy => 'b',
            Side::Sell => 's',
        });
        id.push('-');
        // 15 bytes are exactly 24 letters; the first 20 are kept.
        id.extend(base32(&digest[..15]).chars().take(HASH_CHARS));
        Self(id)
    }

    /// Checks an id read back from the database or a venue.
    ///
    /// # Errors
    /// [`ClientOrderIdError`] when the text is empty, longer than 36 characters, or has a
    /// character other than letters, digits, `-` and `_`.
    pub fn parse(text: &str) -> Result<Self, ClientOrderIdError> {
        if text.is_empty() {
            return Err(ClientOrderIdError::Empty);
        }
        let length = text.chars().count();
        if length > MAX_CLIENT_ORDER_ID_LEN {
            return Err(ClientOrderIdError::TooLong {
                excerpt: text.chars().take(40).collect(),
                length,
            });
        }
        if let Some(character) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(ClientOrderIdError::BadCharacter {
                id: text.to_owned(),
                character,
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Base32 without padding; `bytes.len() * 8` must be a multiple of 5 (it is: 120 bits).
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 0x1f) as usize]));
        }
    }
    out
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ClientOrderId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClientOrderId {
    type Err = ClientOrderIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ClientOrderId {
    type Error = ClientOrderIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientOrderId> for String {
    fn from(value: ClientOrderId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(text: &str) -> Symbol {
        Symbol::parse(text).expect("symbol")
    }

    fn day(text: &str) -> Day {
        text.parse().expect("day")
    }

    #[test]
    fn a_known_decision_has_a_pinned_id() {
        // Computed independently (Python hashlib + base64.b32encode over the documented
        // encoding); if this changes, orders already sent could no longer be found.
        let id = ClientOrderId::derive(
            "main",
            "trend",
            &symbol("BTC"),
            day("2026-12-07"),
            Side::Buy,
        );
        assert_eq!(id.as_str(), PINNED);
        assert_eq!(id.as_str().len(), DERIVED_ID_LEN);
        let sell = ClientOrderId::derive(
            "main",
            "trend",
            &symbol("BTC"),
            day("2026-12-07"),
            Side::Sell,
        );
        assert_eq!(sell.as_str(), PINNED_SELL);
        // Names are hashed as UTF-8 bytes.
        let unicode = ClientOrderId::derive(
            "Compte Été",
            "趋势 🚀",
            &symbol("brk-b"),
            day("1999-01-31"),
            Side::Sell,
        );
        assert_eq!(unicode.as_str(), "bt19990131s-uveg2srgimiql6rgswf2");
    }

    const PINNED: &str = "bt20261207b-b3c5uqx3natwddlpumj4";
    const PINNED_SELL: &str = "bt20261207s-kvb5amcpg5uui2wgc3yw";

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        let btc = symbol("BTC");
        let d = day("2026-12-07");
        let a = ClientOrderId::derive("ab", "c", &btc, d, Side::Buy);
        let b = ClientOrderId::derive("a", "bc", &btc, d, Side::Buy);
        assert_ne!(a, b);
        // The strategy name running into the symbol must not collide either.
        let c = ClientOrderId::derive("a", "bB", &symbol("TC"), d, Side::Buy);
        let e = ClientOrderId::derive("a", "b", &symbol("BTC"), d, Side::Buy);
        assert_ne!(c, e);
    }

    #[test]
    fn days_outside_four_digit_years_keep_the_length_and_stay_distinct() {
        let btc = symbol("BTC");
        let far = day("+10000-01-01");
        let early = Day::from_ymd_opt(-5, 1, 1).expect("day");
        let a = ClientOrderId::derive("m", "s", &btc, far, Side::Buy);
        let b = ClientOrderId::derive("m", "s", &btc, early, Side::Buy);
        assert!(a.as_str().starts_with("bt00000000b-"), "{a}");
        assert_eq!(a.as_str().len(), DERIVED_ID_LEN);
        assert_ne!(a, b);
        assert!(ClientOrderId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn parse_accepts_venue_ids_and_refuses_others_with_the_reason() {
        for good in [
            "barter-20261207-btcusdt-buy-0001",
            "web_8d9f2c",
            "x",
            // An Alpaca-generated UUID is 36 characters.
            "61e69015-8549-4bfd-b9c3-01e75843f47d",
        ] {
            assert_eq!(
                ClientOrderId::parse(good).map(String::from),
                Ok(good.to_owned())
            );
        }
        assert_eq!(ClientOrderId::parse(""), Err(ClientOrderIdError::Empty));
        let long = "a".repeat(37);
        let err = ClientOrderId::parse(&long).expect_err("too long");
        assert!(err.to_string().contains("37 characters"), "{err}");
        assert_eq!(
            ClientOrderId::parse("bt.1"),
            Err(ClientOrderIdError::BadCharacter {
                id: "bt.1".into(),
                character: '.'
            })
        );
        // Unicode letters are not ASCII letters.
        assert!(matches!(
            ClientOrderId::parse("btç"),
            Err(ClientOrderIdError::BadCharacter {
                character: 'ç', ..
            })
        ));
    }

    #[test]
    fn serde_round_trips_and_deserializing_validates() {
        let id = ClientOrderId::derive("a", "b", &symbol("ETH"), day("2024-02-29"), Side::Sell);
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, format!("\"{id}\""));
        let back: ClientOrderId = serde_json::from_str(&json).expect("back");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<ClientOrderId>("\"has space\"").is_err());
    }

    #[test]
    fn base32_matches_rfc_4648() {
        // RFC 4648 test vector "fooba" → "MZXW6YTB" (upper case there).
        assert_eq!(base32(b"fooba"), "mzxw6ytb");
    }
}
