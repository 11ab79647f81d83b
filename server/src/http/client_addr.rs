//! Who is calling: the client address a call is counted under (by the failed-authentication
//! limit, the per-address connection cap) and passed on as by a gateway. That is the TCP peer,
//! unless the peer is a proxy listed by `--trusted-proxy` ([`ProxyList`]): then `X-Forwarded-For`
//! is believed, as far as [`client_address`] says.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::HeaderMap;

/// What one address counts as for the per-address cap and the failed-authentication limit:
/// itself for IPv4, its /64 for IPv6 (one host usually holds a whole /64); IPv4-mapped IPv6 as
/// the IPv4 address.
pub fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`): addresses or networks
/// (`ADDR/PREFIX`). Empty by default: loopback is not trusted either, since any local process
/// could then claim any address and escape the failed-authentication limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyList {
    nets: Vec<(IpAddr, u8)>,
}

impl ProxyList {
    pub fn parse(items: &[String]) -> Result<ProxyList, String> {
        let mut nets = Vec::new();
        for item in items {
            let item = item.trim();
            let (addr, prefix) = match item.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("{item:?} is not an IP address or ADDR/PREFIX network"))?;
            let addr = match addr {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
                v4 => v4,
            };
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("{item:?}: the prefix must be 0 to {max}"))?,
            };
            nets.push((addr, prefix));
        }
        Ok(ProxyList { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|&(net, prefix)| match (net, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

/// Most `X-Forwarded-For` entries looked at (and passed on by a gateway).
const MAX_FORWARDED: usize = 16;

/// Who is calling, as the failed-authentication limit counts it, and what a gateway passes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client: the TCP peer, or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not a trusted proxy itself.
    pub ip: IpAddr,
    /// The `X-Forwarded-For` a gateway sends upstream: the believed chain (only when the peer is
    /// a trusted proxy), then the peer.
    pub forwarded_for: String,
}

/// The client behind a request from `peer`. `X-Forwarded-For` is read only when `peer` is a
/// trusted proxy: its entries are walked from the right (the nearest hop first), trusted proxies
/// are skipped, and the first other address is the client. An entry that is not an address ends
/// the walk (the client is then the last trusted hop); so does running out of entries.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &ProxyList) -> ClientAddr {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    if trusted.is_empty() || !trusted.contains(peer) {
        return ClientAddr {
            ip: peer,
            forwarded_for: peer.to_string(),
        };
    }
    let entries: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(parse_forwarded_entry)
        .collect();
    let recent = &entries[entries.len().saturating_sub(MAX_FORWARDED)..];
    let mut client = peer;
    for entry in recent.iter().rev() {
        match entry {
            Some(ip) if trusted.contains(*ip) => client = *ip,
            Some(ip) => {
                client = *ip;
                break;
            }
            None => break,
        }
    }
    let mut chain: Vec<String> = recent.iter().flatten().map(IpAddr::to_string).collect();
    chain.push(peer.to_string());
    let chain = &chain[chain.len().saturating_sub(MAX_FORWARDED)..];
    ClientAddr {
        ip: client,
        forwarded_for: chain.join(", "),
    }
}

fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))?
                .parse()
                .ok()
        })?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn proxy_lists() {
        let list =
            ProxyList::parse(&["10.0.0.0/8".into(), "::1".into(), "192.0.2.7".into()]).unwrap();
        assert!(list.contains(ip("10.1.2.3")));
        assert!(list.contains(ip("::1")));
        assert!(list.contains(ip("192.0.2.7")));
        assert!(list.contains(ip("::ffff:192.0.2.7")));
        assert!(!list.contains(ip("192.0.2.8")));
        assert!(!list.contains(ip("127.0.0.1")));
        for bad in ["x", "10.0.0.0/33", "::/129", "1.2.3.4/"] {
            assert!(ProxyList::parse(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(
            ProxyList::parse(&["0.0.0.0/0".into()])
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = ProxyList::parse(&["127.0.0.9".into(), "10.0.0.0/8".into()]).unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.5"));
        // An untrusted peer: its claim is ignored.
        let a = client_address(ip("127.0.0.2"), &headers, &trusted);
        assert_eq!(a.ip, ip("127.0.0.2"));
        assert_eq!(a.forwarded_for, "127.0.0.2");
        // A trusted peer: the nearest untrusted entry, skipping trusted hops.
        let a = client_address(ip("127.0.0.9"), &headers, &trusted);
        assert_eq!(a.ip, ip("1.2.3.4"));
        assert_eq!(a.forwarded_for, "6.6.6.6, 1.2.3.4, 10.0.0.5, 127.0.0.9");
        // Junk ends the walk at the last trusted hop.
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4, junk"));
        assert_eq!(
            client_address(ip("127.0.0.9"), &junk, &trusted).ip,
            ip("127.0.0.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("127.0.0.9"), &HeaderMap::new(), &trusted).ip,
            ip("127.0.0.9")
        );
        // Ports and brackets.
        let mut ported = HeaderMap::new();
        ported.insert(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::1]:443"),
        );
        assert_eq!(
            client_address(ip("127.0.0.9"), &ported, &trusted).ip,
            ip("2001:db8::1")
        );
    }
}
