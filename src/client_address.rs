//! Whose request this is: the client's address, which is the TCP peer unless that peer is a proxy
//! the shop was told to trust (`MASTHEAD_TRUSTED_PROXIES`). Behind a load balancer every request
//! comes from the balancer, so guessing limits counted by address would lock everybody out at
//! once; the balancer's `Forwarded` or `X-Forwarded-For` header names the real client, and is
//! believed only when it comes from a trusted network (anyone else could write it).

use std::{fmt, net::IpAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of networks (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let network = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is not a network or an address"))?;
            networks.push(network);
        }
        Ok(TrustedProxies(networks))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|n| n.contains(&address))
    }

    /// The client's address: the peer's, or when the peer is trusted, the right-most address in
    /// the forwarding chain that is not itself a trusted proxy.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarding_chain(headers).into_iter().rev() {
            match hop {
                Some(address) => {
                    client = canonical(address);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // An entry that is no address (`unknown`, garbage): the last trusted hop stands.
                None => break,
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// `::ffff:10.0.0.1` is `10.0.0.1`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
        v4 => v4,
    }
}

/// The addresses a request passed through, client first: from `Forwarded` (RFC 7239) when
/// present, otherwise from `X-Forwarded-For`. Each header may come several times.
fn forwarding_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                element.split(';').map(str::trim).find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))?
                })
            })
            .collect();
    }
    values("x-forwarded-for").iter().map(|v| parse_node(v)).collect()
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.rsplit_once(':').and_then(|(host, _port)| host.parse().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let none = TrustedProxies::default();
        let forged = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(none.client_address(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
        let lb = TrustedProxies::parse("10.0.0.0/8").expect("parsed");
        assert_eq!(lb.client_address(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let lb = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").expect("parsed");
        // A reader who wrote their own X-Forwarded-For cannot choose their address.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(lb.client_address(ip("127.0.0.1"), &chain), ip("198.51.100.7"));
        let forwarded = headers(&[("forwarded", "for=198.51.100.8;proto=https, for=\"[2001:db8::1]:4711\"")]);
        assert_eq!(lb.client_address(ip("::ffff:10.0.0.2"), &forwarded), ip("2001:db8::1"));
        let garbage = headers(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(lb.client_address(ip("10.0.0.2"), &garbage), ip("10.0.0.2"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert_eq!(TrustedProxies::parse("").expect("empty").to_string(), "none");
    }
}
