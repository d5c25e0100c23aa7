//! The client's address. Behind a proxy every connection comes from the
//! proxy, which names the client in a header; but anyone can send that header,
//! so it is believed only from the proxies the operator listed
//! (`--trusted-proxy`), and only the one header the operator named
//! (`--client-ip-header`): a header the proxy does not set is whatever the
//! client wrote, and passes through many proxies untouched.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::http::header::{HeaderName, X_FORWARDED_FOR};
use actix_web::HttpRequest;
use ipnet::IpNet;

/// Which header names the client (`--client-ip-header`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For`, a chain that each proxy appends to: the right-most
    /// entry that is not a trusted proxy.
    #[default]
    ForwardedFor,
    /// Any other header (`CF-Connecting-IP`, `True-Client-IP`, `X-Real-IP`),
    /// which the proxy sets, replacing what the client sent: one address.
    Single(HeaderName),
}

impl FromStr for ClientIpHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<ClientIpHeader, String> {
        let text = text.trim();
        let name =
            HeaderName::from_str(text).map_err(|_| format!("{text:?} is not a header name"))?;
        if name == "x-forwarded-for" {
            return Ok(ClientIpHeader::ForwardedFor);
        }
        if name == "forwarded" {
            // RFC 7239's `for=` syntax, which no proxy we document sends alone.
            return Err(
                "`Forwarded` is not supported: use X-Forwarded-For (or the header your proxy sets)"
                    .into(),
            );
        }
        Ok(ClientIpHeader::Single(name))
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ClientIpHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ClientIpHeader) -> TrustedProxies {
        TrustedProxies { nets, header }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The address limits and logs should use for this request.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        let name = match &self.header {
            ClientIpHeader::ForwardedFor => &X_FORWARDED_FOR,
            ClientIpHeader::Single(name) => name,
        };
        let values: Vec<&[u8]> = req
            .headers()
            .get_all(name)
            .map(|value| value.as_bytes())
            .collect();
        Some(self.resolve(peer, &values))
    }

    /// From a trusted peer, the client its header names; from anyone else
    /// (or when the header names no one), the peer itself. `values` are the
    /// header's lines in the order received.
    fn resolve(&self, peer: IpAddr, values: &[&[u8]]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        match self.header {
            ClientIpHeader::ForwardedFor => self.right_most_untrusted(peer, values),
            // Exactly one line holding one address; a header sent twice means
            // the proxy added its line to the client's: which is whose is
            // unknowable, so neither is believed.
            ClientIpHeader::Single(_) => match values {
                [one] => std::str::from_utf8(one).ok().and_then(parse_ip),
                _ => None,
            }
            .unwrap_or(peer),
        }
    }

    /// The right-most `X-Forwarded-For` entry that is not itself a trusted
    /// proxy (entries further left were written by the client and prove
    /// nothing).
    fn right_most_untrusted(&self, peer: IpAddr, values: &[&[u8]]) -> IpAddr {
        let hops = values
            .iter()
            .rev()
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| value.rsplit(','))
            .filter_map(parse_ip);
        let mut last = peer;
        for hop in hops {
            if !self.trusts(hop) {
                return hop;
            }
            last = hop;
        }
        last
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse::<IpAddr>().ok().map(canonical)
}

/// IPv4 clients of a dual-stack socket appear as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies_reading(header: &str, nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| {
                    n.parse::<IpNet>()
                        .unwrap_or_else(|_| IpNet::from(n.parse::<IpAddr>().unwrap()))
                })
                .collect(),
            header.parse().unwrap(),
        )
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        proxies_reading("X-Forwarded-For", nets)
    }

    /// `resolve` with one header line.
    fn resolve(proxies: &TrustedProxies, peer: IpAddr, value: &str) -> IpAddr {
        proxies.resolve(peer, &[value.as_bytes()])
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let none = proxies(&[]);
        assert_eq!(
            resolve(&none, ip("203.0.113.9"), "5.6.7.8"),
            ip("203.0.113.9")
        );
        let nginx = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(&nginx, ip("203.0.113.9"), "5.6.7.8"),
            ip("203.0.113.9")
        );
        let cloudflare = proxies_reading("CF-Connecting-IP", &["173.245.48.0/20"]);
        assert_eq!(
            resolve(&cloudflare, ip("203.0.113.9"), "1.2.3.4"),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let nginx = proxies(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(resolve(&nginx, peer, "198.51.100.7"), ip("198.51.100.7"));
        // The client wrote the left-most entry itself; the right-most
        // untrusted one is what our proxies saw.
        assert_eq!(
            resolve(&nginx, peer, "6.6.6.6, 198.51.100.7, 10.1.2.3"),
            ip("198.51.100.7")
        );
        // Several lines are one list, in order.
        assert_eq!(
            nginx.resolve(peer, &[b"6.6.6.6", b"198.51.100.7, 10.1.2.3"]),
            ip("198.51.100.7")
        );
        // Garbage is skipped, not believed; with nothing usable, the peer.
        assert_eq!(resolve(&nginx, peer, "junk"), peer);
        assert_eq!(resolve(&nginx, peer, ""), peer);
        assert_eq!(nginx.resolve(peer, &[]), peer);
        // Only proxies in the chain: the furthest one.
        assert_eq!(resolve(&nginx, peer, "10.0.0.2, 10.0.0.1"), ip("10.0.0.2"));
    }

    #[test]
    fn a_single_address_header_is_read_only_when_chosen() {
        let peer = ip("127.0.0.1");
        let cloudflare = proxies_reading("cf-connecting-ip", &["127.0.0.1"]);
        assert_eq!(
            resolve(&cloudflare, peer, " 2001:db8::1 "),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(&cloudflare, peer, "198.51.100.7"),
            ip("198.51.100.7")
        );
        // A list, garbage, or the header twice: nobody is named.
        assert_eq!(resolve(&cloudflare, peer, "1.2.3.4, 198.51.100.7"), peer);
        assert_eq!(resolve(&cloudflare, peer, "not-an-ip"), peer);
        assert_eq!(cloudflare.resolve(peer, &[b"1.2.3.4", b"5.6.7.8"]), peer);
        assert_eq!(cloudflare.resolve(peer, &[]), peer);
    }

    #[test]
    fn the_header_setting_is_a_header_name() {
        assert_eq!(
            "x-forwarded-for".parse::<ClientIpHeader>(),
            Ok(ClientIpHeader::ForwardedFor)
        );
        assert_eq!(
            " True-Client-IP ".parse::<ClientIpHeader>(),
            Ok(ClientIpHeader::Single(HeaderName::from_static(
                "true-client-ip"
            )))
        );
        for bad in ["", "CF Connecting IP", "x:y", "Forwarded"] {
            assert!(bad.parse::<ClientIpHeader>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mapped_ipv4_is_plain_ipv4() {
        let nginx = proxies(&["127.0.0.1"]);
        assert_eq!(
            resolve(&nginx, ip("::ffff:127.0.0.1"), "192.0.2.1"),
            ip("192.0.2.1")
        );
    }
}
