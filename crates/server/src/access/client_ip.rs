//! The client's address. Behind a proxy every connection comes from the
//! proxy, which names the client in a header; but anyone can send that header,
//! so it is believed only from the proxies the operator listed
//! (`--trusted-proxy`).

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies { nets }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The address limits and logs should use for this request.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        let header = |name: &str| {
            req.headers()
                .get_all(name)
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(",")
        };
        Some(self.resolve(
            peer,
            &header("cf-connecting-ip"),
            &header("x-forwarded-for"),
        ))
    }

    /// From a trusted peer: Cloudflare's `CF-Connecting-IP` if present, else
    /// the right-most `X-Forwarded-For` entry that is not itself a trusted
    /// proxy (entries further left were written by the client and prove
    /// nothing).
    fn resolve(&self, peer: IpAddr, cf_connecting_ip: &str, forwarded_for: &str) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        if let Some(ip) = parse_ip(cf_connecting_ip) {
            return ip;
        }
        let mut hops = forwarded_for.rsplit(',').filter_map(parse_ip);
        let mut last = peer;
        for hop in hops.by_ref() {
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

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| {
                    n.parse::<IpNet>()
                        .unwrap_or_else(|_| IpNet::from(n.parse::<IpAddr>().unwrap()))
                })
                .collect(),
        )
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let none = proxies(&[]);
        assert_eq!(
            none.resolve(ip("203.0.113.9"), "1.2.3.4", "5.6.7.8"),
            ip("203.0.113.9")
        );
        let nginx = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            nginx.resolve(ip("203.0.113.9"), "1.2.3.4", "5.6.7.8"),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let nginx = proxies(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(nginx.resolve(peer, "", "198.51.100.7"), ip("198.51.100.7"));
        // The client wrote the left-most entry itself; the right-most
        // untrusted one is what our proxies saw.
        assert_eq!(
            nginx.resolve(peer, "", "6.6.6.6, 198.51.100.7, 10.1.2.3"),
            ip("198.51.100.7")
        );
        assert_eq!(
            nginx.resolve(peer, " 2001:db8::1 ", "198.51.100.7"),
            ip("2001:db8::1")
        );
        // Garbage is skipped, not believed; with nothing usable, the peer.
        assert_eq!(nginx.resolve(peer, "not-an-ip", "junk"), peer);
        assert_eq!(nginx.resolve(peer, "", ""), peer);
        // Only proxies in the chain: the furthest one.
        assert_eq!(
            nginx.resolve(peer, "", "10.0.0.2, 10.0.0.1"),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn mapped_ipv4_is_plain_ipv4() {
        let nginx = proxies(&["127.0.0.1"]);
        assert_eq!(
            nginx.resolve(ip("::ffff:127.0.0.1"), "", "192.0.2.1"),
            ip("192.0.2.1")
        );
    }
}
