//! Destinations a webhook may not reach unless private delivery is allowed:
//! loopback, private, link-local (cloud metadata lives at 169.254.169.254),
//! shared, multicast, reserved and documentation ranges, in IPv4 and IPv6,
//! including IPv4 addresses embedded in IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::request::Destination;

/// Why `destination` may not be reached before any name is resolved: a
/// forbidden address, or a name that always means this host (`localhost`
/// and its subdomains, RFC 6761). Names are checked again on the addresses
/// they resolve to.
pub fn refused(destination: &Destination) -> Option<String> {
    match destination {
        Destination::Ip(ip) => {
            forbidden_reason(*ip).map(|r| format!("destination refused: {ip} is a {r}"))
        }
        Destination::Name(name) => {
            let name = name.trim_end_matches('.');
            (name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost"))
            .then(|| format!("destination refused: {name} is loopback"))
        }
    }
}

/// Why an address is refused.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "this-network address",
        (10, _, _) => "private address",
        (100, 64..=127, _) => "shared (carrier-grade NAT) address",
        (127, _, _) => "loopback address",
        (169, 254, _) => "link-local address",
        (172, 16..=31, _) => "private address",
        (192, 0, 0) => "IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation address",
        (192, 88, 99) => "relay anycast address",
        (192, 168, _) => "private address",
        (198, 18..=19, _) => "benchmarking address",
        (224..=239, _, _) => "multicast address",
        (240..=255, _, _) => "reserved address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return v4_reason(v4);
    }
    let s = ip.segments();
    let first = s.first().copied().unwrap_or(0);
    Some(if ip.is_unspecified() {
        "unspecified address"
    } else if ip.is_loopback() {
        "loopback address"
    } else if first & 0xfe00 == 0xfc00 {
        "unique local (private) address"
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        "link-local address"
    } else if first & 0xff00 == 0xff00 {
        "multicast address"
    } else if first == 0x2001 && s.get(1) == Some(&0x0db8) {
        "documentation address"
    } else if first == 0x0100 && s.get(1..4) == Some(&[0, 0, 0]) {
        "discard address"
    } else {
        return None;
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let [s0, s1, s2, s3, s4, s5, s6, s7] = s;
    let v4 = Ipv4Addr::new((s6 >> 8) as u8, s6 as u8, (s7 >> 8) as u8, s7 as u8);
    let prefix_zero = s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0;
    if prefix_zero && s5 == 0xffff {
        return Some(v4);
    }
    if prefix_zero && s5 == 0 && (s6 != 0 || s7 > 1) {
        return Some(v4);
    }
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        return Some(v4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(text: &str) -> Option<&'static str> {
        forbidden_reason(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_ranges_are_refused() {
        for text in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "::10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(reason(text).is_some(), "{text} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "54.172.60.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(reason(text), None, "{text} should pass");
        }
    }

    proptest! {
        /// An IPv4 address and its mapped IPv6 form always get the same answer.
        #[test]
        fn mapped_v6_agrees_with_v4(bits in any::<u32>()) {
            let v4 = Ipv4Addr::from(bits);
            prop_assert_eq!(
                forbidden_reason(IpAddr::V4(v4)),
                forbidden_reason(IpAddr::V6(v4.to_ipv6_mapped()))
            );
        }

        /// Whatever std calls private, loopback, link-local or multicast is refused.
        #[test]
        fn at_least_as_strict_as_std(bits in any::<u32>()) {
            let v4 = Ipv4Addr::from(bits);
            if v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_multicast()
                || v4.is_broadcast() || v4.is_documentation() || v4.is_unspecified() {
                prop_assert!(forbidden_reason(IpAddr::V4(v4)).is_some());
            }
        }
    }
}

/// The SSRF guard against the HTTP client's own reading of URLs: whatever
/// spelling a host has, the client connects where the guard decided.
#[cfg(test)]
mod client_agreement {
    use super::*;
    use crate::request::{Method, Payload, Target, build};
    use proptest::prelude::*;

    /// Where the HTTP client (reqwest parses with the `url` crate) connects
    /// for the request Tollgate builds from `target`.
    fn client_destination(target: &Target) -> Option<Destination> {
        let request = build(target, Method::Post, &Payload::Form(vec![]), "t", "WD1");
        Destination::of(&url::Url::parse(&request.url).ok()?)
    }

    /// One part of an IPv4 address in decimal, hex or octal, as WHATWG reads them.
    fn part(value: u32, style: u8) -> String {
        match style % 4 {
            0 => value.to_string(),
            1 => format!("0x{value:x}"),
            2 => format!("0X{value:X}"),
            _ => format!("0{value:o}"),
        }
    }

    /// `ip` written with 1 to 4 parts, each in any base.
    fn spelling(ip: Ipv4Addr, parts: u8, styles: [u8; 4]) -> String {
        let n = u32::from(ip);
        let [a, b, c, d] = ip.octets().map(u32::from);
        match parts % 4 {
            0 => part(n, styles[0]),
            1 => format!(
                "{}.{}",
                part(a, styles[0]),
                part(n & 0x00ff_ffff, styles[1])
            ),
            2 => format!(
                "{}.{}.{}",
                part(a, styles[0]),
                part(b, styles[1]),
                part((c << 8) | d, styles[2])
            ),
            _ => format!(
                "{}.{}.{}.{}",
                part(a, styles[0]),
                part(b, styles[1]),
                part(c, styles[2]),
                part(d, styles[3])
            ),
        }
    }

    /// Percent-encodes the characters `mask` picks (the parser decodes them).
    fn percent(text: &str, mask: u64) -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    format!("%{:02X}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect()
    }

    fn forbidden_v4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![
            any::<u32>().prop_map(|n| Ipv4Addr::from(0x7f00_0000 | (n & 0x00ff_ffff))),
            any::<u16>().prop_map(|n| Ipv4Addr::from(0xa9fe_0000 | u32::from(n))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff))),
            any::<u16>().prop_map(|n| Ipv4Addr::from(0xc0a8_0000 | u32::from(n))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0xac10_0000 | (n & 0x000f_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(n & 0x00ff_ffff)),
            any::<u32>().prop_map(Ipv4Addr::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any spelling of an IPv4 address (1-4 parts, decimal, hex or
        /// octal, a trailing dot, percent-encoding, a decoy userinfo) is the
        /// address the client connects to, and a forbidden one is refused.
        #[test]
        fn every_spelling_of_a_forbidden_ipv4_is_refused(
            ip in forbidden_v4(),
            parts in any::<u8>(),
            styles in any::<[u8; 4]>(),
            trailing_dot in any::<bool>(),
            mask in any::<u64>(),
            decoy in prop_oneof![Just(""), Just("evil.example@"), Just("u:p@")],
            port in prop_oneof![Just(String::new()), (1u16..).prop_map(|p| format!(":{p}"))],
        ) {
            let mut host = spelling(ip, parts, styles);
            if trailing_dot {
                host.push('.');
            }
            let host = percent(&host, mask);
            let url = format!("http://{decoy}{host}{port}/hook");
            // The spelling means `ip` to a WHATWG parser (else the generator is wrong).
            let oracle = url::Url::parse(&url).ok().and_then(|u| Destination::of(&u));
            prop_assert_eq!(oracle, Some(Destination::Ip(IpAddr::V4(ip))), "{}", url);
            let target = Target::parse(&url);
            prop_assert!(target.is_ok(), "{} {:?}", url, target);
            let target = target.unwrap();
            prop_assert_eq!(client_destination(&target), Some(target.destination.clone()));
            prop_assert_eq!(refused(&target.destination).is_some(), forbidden_reason(IpAddr::V4(ip)).is_some());
        }

        /// The same for IPv6 forms that embed an IPv4 address.
        #[test]
        fn embedded_ipv4_in_ipv6_is_refused_as_the_ipv4(ip in forbidden_v4(), form in 0u8..4) {
            let [a, b, c, d] = ip.octets();
            let host = match form {
                0 => format!("[::ffff:{ip}]"),
                1 => format!("[::ffff:{:x}{:02x}:{:x}{:02x}]", a, b, c, d),
                2 => format!("[64:ff9b::{ip}]"),
                _ => format!("[0:0:0:0:0:FFFF:{ip}]"),
            };
            let target = Target::parse(&format!("https://{host}/x")).unwrap();
            prop_assert_eq!(client_destination(&target), Some(target.destination.clone()));
            prop_assert_eq!(refused(&target.destination).is_some(), forbidden_reason(IpAddr::V4(ip)).is_some());
        }

        /// Whatever the text, a target is either refused by the parser or
        /// connects where the guard looked.
        #[test]
        fn any_accepted_url_connects_where_the_guard_looked(
            text in "(https?://)?[a-zA-Z0-9%.:@\\\\/\\[\\]?#_~-]{0,60}"
        ) {
            if let Ok(target) = Target::parse(&text) {
                prop_assert_eq!(client_destination(&target), Some(target.destination.clone()), "{}", text);
            }
        }
    }

    #[test]
    fn the_reviews_examples_are_refused() {
        for url in [
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://169.254.169.254./latest/meta-data/",
            "http://0xA9FEA9FE/",
            "http://0/",
            "http://[::ffff:7f00:1]/",
            "http://LOCALHOST./",
            "http://x.localhost/",
        ] {
            let t = Target::parse(url).unwrap();
            assert!(
                refused(&t.destination).is_some(),
                "{url} -> {:?}",
                t.destination
            );
        }
        for url in [
            "https://example.com/",
            "http://8.8.8.8/",
            "http://134744072/",
        ] {
            let t = Target::parse(url).unwrap();
            assert_eq!(refused(&t.destination), None, "{url}");
        }
    }
}
