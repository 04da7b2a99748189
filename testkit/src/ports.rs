//! A free loopback port, from the kernel rather than guessed: bind 127.0.0.1:0 and read it back.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The listener is closed before returning, so another process may take the port in between:
/// callers that start a server on it retry with a new port when the start fails.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound_on_loopback() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free");
    }

    #[test]
    fn a_port_in_use_is_not_handed_out() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken = held.local_addr().unwrap().port();
        for _ in 0..50 {
            assert_ne!(free_port().unwrap(), taken);
        }
    }
}
