//! `ClientInfo`: who is asking, as far as a request can tell, for throttling, sessions and audit.

use std::net::IpAddr;

/// Longest user agent kept; real ones are a few hundred characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// The client behind a request. Informative, never proof of identity: the IP is the address the
/// connection came from (possibly a NAT or proxy), the user agent whatever the client claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    /// At most [`MAX_USER_AGENT_CHARS`] characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The key of this client's per-IP request budgets. Requests without a source IP (only
    /// possible outside API Gateway) share one budget rather than escaping it.
    pub fn rate_limit_subject(&self) -> String {
        self.ip
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// The network the lockout counts this client's failures under: its IPv4 address, or the /64
    /// of its IPv6 address (one subscriber's usual allocation, which a client can hop within at
    /// will).
    pub fn network(&self) -> String {
        match self.ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
            None => "unknown".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(ip: &str) -> String {
        ClientInfo {
            ip: Some(ip.parse().unwrap()),
            user_agent: None,
        }
        .network()
    }

    #[test]
    fn a_network_is_an_ipv4_address_or_an_ipv6_slash_64() {
        assert_eq!(network("203.0.113.7"), "203.0.113.7");
        assert_eq!(network("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(network("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(network("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_ne!(network("2001:db8:1:3::1"), network("2001:db8:1:2::1"));
        assert_eq!(ClientInfo::default().network(), "unknown");
    }
}
