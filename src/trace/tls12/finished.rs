//! Checking both Finished messages against the clear handshake (RFC 5246 §7.4.9): with the
//! record MACs this proves the handshake the capture shows is the one both ends saw.
//!
//! Two shapes are followed: the full handshake (ServerHelloDone in the server's flight; the
//! client's Finished covers ClientHello, the server's first flight and the client's second,
//! the server's covers those, the client's Finished and NewSessionTicket) and the abbreviated
//! one (no ServerHelloDone; the server finishes first). HelloRequest is never hashed.

use super::cipher::{verify_data, Suite};
use super::record::{handshake_type, Message};

/// The two Finished messages (header and body), as decrypted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finished<'a> {
    pub client: Option<&'a [u8]>,
    pub server: Option<&'a [u8]>,
}

/// The outcome per direction: `Some(true)` matches, `Some(false)` does not, `None` was not
/// checked (its Finished or a message it covers is missing); or why no check was possible.
pub(super) fn check(
    suite: &Suite,
    master: &[u8],
    client: &[Message],
    server: &[Message],
    finished: Finished<'_>,
) -> Result<[Option<bool>; 2], String> {
    let server: Vec<&Message> = server
        .iter()
        .filter(|m| m.msg_type != handshake_type::HELLO_REQUEST)
        .collect();
    let Some((hello, client_rest)) = client.split_first() else {
        return Err("no ClientHello".into());
    };
    let done = server
        .iter()
        .position(|m| m.msg_type == handshake_type::SERVER_HELLO_DONE);
    let bytes = |ms: &[&Message]| -> Vec<u8> { ms.iter().flat_map(|m| m.bytes.clone()).collect() };
    let verify = |label: &[u8], transcript: &[&[u8]], message: &[u8]| -> Result<bool, String> {
        let expected = verify_data(suite.prf, master, label, transcript)?;
        Ok(message.get(4..).is_some_and(|body| {
            body.len() == expected.len() && openssl::memcmp::eq(body, &expected)
        }))
    };
    let (client_ok, server_ok) = match done {
        Some(done) => {
            // Full: CH, SH … SHD, CKE …, client Finished, [NST], server Finished.
            let (first, later) = server.split_at((done + 1).min(server.len()));
            let client_part: Vec<&Message> = client_rest.iter().collect();
            let base = [hello.bytes.clone(), bytes(first), bytes(&client_part)].concat();
            let client_ok = finished
                .client
                .map(|f| verify(b"client finished", &[&base], f))
                .transpose()?;
            let server_ok = match (finished.client, finished.server) {
                (Some(cf), Some(sf)) => {
                    Some(verify(b"server finished", &[&base, cf, &bytes(later)], sf)?)
                }
                _ => None,
            };
            (client_ok, server_ok)
        }
        None if client_rest.is_empty() => {
            // Abbreviated: CH, SH, [NST], server Finished, client Finished.
            let base = [hello.bytes.clone(), bytes(&server)].concat();
            let server_ok = finished
                .server
                .map(|f| verify(b"server finished", &[&base], f))
                .transpose()?;
            let client_ok = match (finished.server, finished.client) {
                (Some(sf), Some(cf)) => Some(verify(b"client finished", &[&base, sf], cf)?),
                _ => None,
            };
            (client_ok, server_ok)
        }
        None => {
            return Err(
                "handshake shape not followed (client messages after ClientHello, but no \
                 ServerHelloDone)"
                    .into(),
            )
        }
    };
    Ok([client_ok, server_ok])
}

/// The whole Finished message when `plaintext` is exactly one.
pub(super) fn as_finished(plaintext: &[u8]) -> Option<&[u8]> {
    match super::record::whole_messages(plaintext)?.as_slice() {
        [(handshake_type::FINISHED, body)] if body.len() == 12 => Some(plaintext),
        _ => None,
    }
}
