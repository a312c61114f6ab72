//! Destinations a webhook may not reach unless private delivery is allowed:
//! loopback, private, link-local (cloud metadata lives at 169.254.169.254),
//! shared, multicast, reserved and documentation ranges, in IPv4 and IPv6,
//! including IPv4 addresses embedded in IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
