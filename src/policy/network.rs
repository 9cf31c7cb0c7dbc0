//! What web requests (the model's `web_fetch`, scripts' `http_get`, `http_post`,
//! `json_get`, `web_fetch`) may reach: public addresses only, unless
//! `tools.web_allow_local` says otherwise. A page the model reads could otherwise steer it
//! into the person's router, a database on this machine or LocalGPT's own API.
//!
//! The check holds where a check on the first URL does not:
//! - every redirect hop is checked, not just the first URL;
//! - a name is resolved once, by [`PublicOnly`], and the addresses it checked are the ones
//!   connected to — no second lookup that a rebinding DNS server could answer
//!   differently;
//! - every form of a local address is refused: IPv4-mapped and -compatible IPv6, NAT64,
//!   6to4 and Teredo wrapping a private IPv4, carrier-grade NAT, multicast, reserved ranges;
//! - no proxy is used, since a proxy resolves and connects on its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 10;

/// Whether `ip` is this machine, a private or otherwise non-public network.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    if stands_for_public(ip) {
        return false;
    }
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

/// Tests need a "public" server that redirects to a local one, and have only this
/// machine: debug builds take the one address in `LOCALGPT_TEST_PUBLIC_IP` as public.
#[cfg(debug_assertions)]
fn stands_for_public(ip: IpAddr) -> bool {
    static PUBLIC: std::sync::OnceLock<Option<IpAddr>> = std::sync::OnceLock::new();
    *PUBLIC.get_or_init(|| {
        std::env::var("LOCALGPT_TEST_PUBLIC_IP")
            .ok()
            .and_then(|ip| ip.parse().ok())
    }) == Some(ip)
}

#[cfg(not(debug_assertions))]
fn stands_for_public(_ip: IpAddr) -> bool {
    false
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()                       // 0.0.0.0/8 ("this network")
        || a == 0
        || ip.is_loopback()                   // 127.0.0.0/8
        || ip.is_private()                    // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                 // 169.254/16 (cloud metadata)
        || (a == 100 && (b & 0xc0) == 64)     // 100.64/10 carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)     // 192.0.0/24 protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation
        || (a == 198 && (b & 0xfe) == 18)     // 198.18/15 benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation
        || (a == 203 && b == 0 && c == 113)   // documentation
        || (a == 192 && b == 88 && c == 99)   // 6to4 relay anycast
        || a >= 224 // multicast, reserved, broadcast
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return true;
    }
    // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
    if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfe80 {
        return true;
    }
    if (segments[0] & 0xffc0) == 0xfec0 {
        return true;
    }
    // Addresses that carry an IPv4 address: judged by it.
    if let Some(v4) = embedded_v4(ip) {
        return is_local_v4(v4);
    }
    // 100::/64 discard, 2001:db8::/32 documentation, 2001:2::/48 benchmarking.
    (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0])
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x2001 && segments[1] == 0x0002 && segments[2] == 0)
}

/// The IPv4 address inside an IPv6 one, for the forms that route to it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return Some(from(s[6], s[7]));
    }
    // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local-use NAT64).
    if s[0] == 0x0064 && s[1] == 0xff9b {
        return Some(from(s[6], s[7]));
    }
    // 2002::/16 (6to4): the IPv4 address is in bits 16–47.
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    // 2001::/32 (Teredo): the client's IPv4 address, inverted, in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(from(!s[6], !s[7]));
    }
    None
}

/// Why `url` may not be fetched by its form alone (a scheme other than http(s), a
/// local address written out), if it may not. Names are checked when resolved.
pub(crate) fn refuse_url(url: &reqwest::Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "only http and https URLs can be fetched, not {}",
            url.scheme()
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return None,
        None => return Some(format!("{url} names no host")),
    };
    is_local(ip).then(|| local_refusal(url.as_str(), ip))
}

fn local_refusal(target: &str, ip: IpAddr) -> String {
    format!(
        "{target} points at this machine or a private network ({ip}); set \
         tools.web_allow_local = true to allow that"
    )
}

/// Resolves names for web requests and refuses any that leads to a local address; the
/// HTTP client then connects to exactly the addresses returned.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|err| format!("cannot resolve {host}: {err}"))?
                .collect();
            // One local answer among public ones is refused too: a rebinding server
            // would count on the client trying them in turn.
            if let Some(local) = found.iter().find(|address| is_local(address.ip())) {
                return Err(local_refusal(&host, local.ip()).into());
            }
            if found.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            let addresses: Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// Follows up to [`MAX_REDIRECTS`] hops, each checked like the first URL (a hop to a name
/// is checked again when it is resolved).
pub(crate) fn redirect_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match refuse_url(attempt.url()) {
            Some(refusal) => {
                let refusal = format!("redirected: {refusal}");
                attempt.error(refusal)
            }
            None => attempt.follow(),
        }
    })
}

/// The client for web requests: public addresses only, unless `allow_local`.
pub(crate) fn web_client(
    builder: reqwest::ClientBuilder,
    allow_local: bool,
) -> reqwest::Result<reqwest::Client> {
    if allow_local {
        return builder.build();
    }
    builder
        .dns_resolver(PublicOnly)
        .redirect(redirect_policy())
        .no_proxy()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_local_address_is_recognised() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::c0a8:101",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:db8::1",
        ] {
            assert!(is_local(ip.parse().unwrap()), "{ip} passed as public");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_local(ip.parse().unwrap()), "{ip} refused as local");
        }
    }

    #[test]
    fn urls_are_judged_by_scheme_and_written_address() {
        let refused = |raw: &str| refuse_url(&reqwest::Url::parse(raw).unwrap());
        assert!(refused("http://127.0.0.1:8080/").is_some());
        assert!(refused("http://[::ffff:7f00:1]/").is_some());
        assert!(refused("http://2130706433/").is_some(), "decimal 127.0.0.1");
        assert!(refused("http://0x7f.1/").is_some(), "hex 127.0.0.1");
        assert!(refused("file:///etc/passwd").is_some());
        assert!(refused("https://example.com/").is_none());
        assert!(refused("http://8.8.8.8/").is_none());
    }

    #[tokio::test]
    async fn names_that_resolve_locally_are_refused() {
        let name: Name = "localhost".parse().unwrap();
        let refusal = PublicOnly.resolve(name).await.err().unwrap().to_string();
        assert!(refusal.contains("this machine"), "{refusal}");
    }
}
