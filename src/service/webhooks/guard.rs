//! Where webhooks may be sent: public addresses only, unless the server's config allows a
//! private range. Checked when a webhook is saved (an address in the URL) and again at every
//! connection (a name is resolved here, and only its allowed addresses are dialled), so a
//! name re-pointed at an internal host after it was saved reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Ranges allowed although they are not public (`127.0.0.1/32` for a test's receiver).
    allowed: Vec<IpNet>,
}

fn v4_public(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o0 == 0
        // 100.64.0.0/10, carrier-grade NAT; 198.18.0.0/15, benchmarking; 240.0.0.0/4.
        || (o0 == 100 && (64..128).contains(&o1))
        || (o0 == 198 && (o1 & 0xfe) == 18)
        || o0 >= 240
        // 192.0.0.0/24, IETF protocol assignments.
        || (o0 == 192 && o1 == 0 && a.octets()[2] == 0))
}

fn v6_public(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_public(v4);
    }
    let s = a.segments();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        // NAT64 and 6to4 carry an IPv4 address that may be private: refuse them outright.
        || (s[0] == 0x0064 && s[1] == 0xff9b)
        || s[0] == 0x2002)
}

impl AddressPolicy {
    /// From the config's comma-separated list of addresses or CIDR ranges.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{item}' is not an address or CIDR range"))?;
            allowed.push(net);
        }
        Ok(AddressPolicy { allowed })
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let public = match ip {
            IpAddr::V4(a) => v4_public(a),
            IpAddr::V6(a) => v6_public(a),
        };
        public || self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// The URL a webhook may have: http(s), a host, no credentials in it, and (when its host
    /// is an address) an address this policy allows.
    pub fn check_url(&self, text: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!(
                "a webhook URL is https:// (or http://), not {}",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "a webhook URL carries no user name or password: receivers check the \
                 signature instead"
                    .into(),
            );
        }
        if url.fragment().is_some() {
            return Err("a webhook URL has no #fragment".into());
        }
        let ip = match url.host() {
            None => return Err(format!("'{text}' has no host")),
            Some(url::Host::Domain(d)) => {
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") {
                    Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    None
                }
            }
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        };
        if let Some(ip) = ip.filter(|ip| !self.allows(*ip)) {
            return Err(refusal(ip));
        }
        Ok(url)
    }
}

fn refusal(ip: IpAddr) -> String {
    format!(
        "{ip} is a loopback, private or otherwise internal address; webhooks go to public \
         addresses unless the server's webhook_allow_private lists it"
    )
}

/// reqwest's resolver with the policy applied: only allowed addresses are dialled, and a
/// name with none of them fails to connect with the reason.
pub struct GuardedResolver(pub Arc<AddressPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                let why = match found.first() {
                    Some(a) => format!("{host} resolves to {}: {}", a.ip(), refusal(a.ip())),
                    None => format!("{host} resolves to no address"),
                };
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let strict = AddressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!strict.allows(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"] {
            assert!(strict.allows(good.parse().unwrap()), "{good}");
        }
        let test = AddressPolicy::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        assert!(test.allows("127.0.0.1".parse().unwrap()));
        assert!(test.allows("10.9.9.9".parse().unwrap()));
        assert!(!test.allows("127.0.0.2".parse().unwrap()));
        assert!(AddressPolicy::parse("ten").is_err());
    }

    #[test]
    fn urls_are_checked() {
        let strict = AddressPolicy::default();
        assert!(strict.check_url("https://hooks.example.com/scim").is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "not a url",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        let test = AddressPolicy::parse("127.0.0.1/32").unwrap();
        assert!(test.check_url("http://127.0.0.1:9000/").is_ok());
        assert!(test.check_url("http://localhost:9000/").is_ok());
    }
}
