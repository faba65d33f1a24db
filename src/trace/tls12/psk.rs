//! The master secret of a plain PSK session from its pre-shared key and the clear handshake,
//! so that a session opens without a key log:
//!
//! - premaster_secret = uint16(N) ‖ N zero bytes ‖ uint16(N) ‖ PSK, N the PSK's length
//!   (RFC 4279 §2: the "other secret" of the plain PSK suites is N zero bytes);
//! - master_secret = PRF(premaster_secret, "master secret", client_random ‖ server_random)
//!   (RFC 5246 §8.1), or, when the ServerHello echoed extended_master_secret,
//!   PRF(premaster_secret, "extended master secret", session_hash), session_hash being the hash
//!   of the PRF over the handshake messages from ClientHello up to and including
//!   ClientKeyExchange (RFC 7627 §3–4).
//!
//! Only a full handshake derives so: an abbreviated one (session resumption) has no
//! ClientKeyExchange and reuses the master secret of the session it resumes.

use super::cipher::{digest, prf, Suite};
use super::record::{handshake_type, Message};
use zeroize::Zeroizing;

/// A TLS 1.2 master secret's length (RFC 5246 §8.1).
pub(super) const MASTER_SECRET: usize = 48;

/// What turns a PSK into this session's master secret: the PRF's label and seed.
#[derive(Debug)]
pub(super) struct Derivation {
    suite: &'static Suite,
    label: &'static [u8],
    seed: Vec<u8>,
}

impl Derivation {
    /// The derivation of a full handshake: `client` and `server` are each direction's clear
    /// handshake messages, `extended` whether the ServerHello echoed extended_master_secret.
    pub fn new(
        suite: &'static Suite,
        extended: bool,
        client: &[Message],
        server: &[Message],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Result<Self, String> {
        let transcript = key_exchange_transcript(client, server)?;
        Ok(if extended {
            Self {
                suite,
                label: b"extended master secret",
                seed: digest(suite.prf, &transcript)?,
            }
        } else {
            Self {
                suite,
                label: b"master secret",
                seed: [client_random.as_slice(), server_random.as_slice()].concat(),
            }
        })
    }

    /// The master secret `psk` gives.
    pub fn master_secret(&self, psk: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        prf(
            self.suite.prf,
            &premaster_secret(psk)?,
            self.label,
            &self.seed,
            MASTER_SECRET,
        )
    }
}

/// RFC 4279 §2's premaster secret of a plain PSK suite.
pub(super) fn premaster_secret(psk: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let n = u16::try_from(psk.len())
        .map_err(|_| format!("a PSK of {} bytes exceeds 2^16 - 1", psk.len()))?
        .to_be_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(4 + 2 * psk.len()));
    out.extend_from_slice(&n);
    out.resize(2 + psk.len(), 0);
    out.extend_from_slice(&n);
    out.extend_from_slice(psk);
    Ok(out)
}

/// The handshake messages of a full handshake from ClientHello to ClientKeyExchange, in the
/// order sent: ClientHello, the server's first flight to ServerHelloDone (HelloRequest is never
/// hashed), the client's messages to ClientKeyExchange.
fn key_exchange_transcript<'m>(
    client: &'m [Message],
    server: &'m [Message],
) -> Result<Vec<&'m [u8]>, String> {
    let resumed = || {
        "no ClientKeyExchange after a ServerHelloDone in the clear handshake: an abbreviated \
         handshake (session resumption) reuses the master secret of the session it resumes, \
         which the PSK alone does not give"
            .to_owned()
    };
    let Some((hello, client_rest)) = client.split_first() else {
        return Err("no ClientHello".into());
    };
    if hello.msg_type != handshake_type::CLIENT_HELLO {
        return Err("the client's first handshake message is not a ClientHello".into());
    }
    let server: Vec<&Message> = server
        .iter()
        .filter(|m| m.msg_type != handshake_type::HELLO_REQUEST)
        .collect();
    let done = server
        .iter()
        .position(|m| m.msg_type == handshake_type::SERVER_HELLO_DONE)
        .ok_or_else(resumed)?;
    let key_exchange = client_rest
        .iter()
        .position(|m| m.msg_type == handshake_type::CLIENT_KEY_EXCHANGE)
        .ok_or_else(resumed)?;
    let first_flight = server.get(..=done).unwrap_or_default();
    let client_flight = client_rest.get(..=key_exchange).unwrap_or_default();
    Ok(std::iter::once(hello)
        .chain(first_flight.iter().copied())
        .chain(client_flight)
        .map(|m| m.bytes.as_slice())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4279 §2: "if the PSK is N octets long, concatenate a uint16 with the value N, N
    /// zero octets, a second uint16 with the value N, and the PSK itself".
    #[test]
    fn premaster_secret_is_rfc_4279s_layout() {
        let p = premaster_secret(&[0xAA, 0xBB, 0xCC]).unwrap();
        assert_eq!(
            p.as_slice(),
            [0, 3, 0, 0, 0, 0, 3, 0xAA, 0xBB, 0xCC].as_slice()
        );
        assert_eq!(premaster_secret(&[]).unwrap().as_slice(), [0, 0, 0, 0]);
        assert!(premaster_secret(&vec![1; 65_536])
            .unwrap_err()
            .contains("65536"));
    }
}
