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
}
