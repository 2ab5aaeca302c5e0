//! Who sent a request: the peer's address, or behind a trusted proxy (`[server]
//! trusted_proxies`) the address the proxy says it forwarded for, and whether the browser used
//! HTTPS. `X-Forwarded-*` headers are believed only from a trusted proxy: anyone else could
//! write them to dodge the sign-in throttle.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `[server] trusted_proxies`: addresses (`10.0.0.1`, `fdaa::1`) or CIDR blocks
    /// (`10.0.0.0/8`).
    ///
    /// # Errors
    /// Names the first entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| barter_service::config::parse_trusted_proxy(entry))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `address` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request from `peer` with `headers`: the peer itself unless it is a
    /// trusted proxy; then the rightmost `X-Forwarded-For` address that is not a trusted proxy
    /// (the addresses left of it were written by whoever the proxy forwarded for, and may be
    /// forged). An unreadable entry stops the walk at the last trusted hop.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for entry in forwarded.iter().rev() {
            let Some(address) = forwarded_address(entry) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }

    /// Whether the request came over HTTPS: only a trusted proxy can say so, with
    /// `X-Forwarded-Proto: https` (its last value, the one the proxy itself added).
    pub fn is_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusts(peer)
            && headers
                .get_all("x-forwarded-proto")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// The peer's address from the connection (unspecified when not known, e.g. in unit tests:
/// then all such requests count as one client).
pub fn peer(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(address)| {
            canonical(address.ip())
        })
}

/// An `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5678`, `[::1]:80`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(canonical)
}

/// `::ffff:1.2.3.4` as `1.2.3.4`, so a dual-stack listener counts an IPv4 client once.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("proxies")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn entries_are_addresses_or_blocks() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".into(), "fdaa::1".into()]).is_ok());
        let error = TrustedProxies::parse(&["proxy.internal".into()]).expect_err("a name");
        assert!(error.contains("proxy.internal"), "{error}");
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let forged = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        // A client that writes the headers itself is still counted by its own address.
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
        assert!(!trusted.is_https(ip("203.0.113.9"), &forged));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), &forged),
            ip("10.0.0.2")
        );
        // Behind the proxy: the rightmost address the proxy did not add itself.
        let via = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.3"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &via), ip("198.51.100.7"));
        assert!(trusted.is_https(ip("10.0.0.2"), &via));
        assert_eq!(
            trusted.client(
                ip("10.0.0.2"),
                &headers(&[("x-forwarded-for", "[2001:db8::1]:443")])
            ),
            ip("2001:db8::1")
        );
        // Garbage stops at the proxy; no header leaves the proxy as the client.
        assert_eq!(
            trusted.client(
                ip("10.0.0.2"),
                &headers(&[("x-forwarded-for", "1.1.1.1, nonsense")])
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        assert!(!trusted.is_https(
            ip("10.0.0.2"),
            &headers(&[("x-forwarded-proto", "https, http")])
        ));
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.2"), &forged),
            ip("1.1.1.1")
        );
    }
}
