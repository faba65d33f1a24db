//! Interop: the admin server against OpenSSL's own TLS client (`openssl s_client`), an
//! implementation of TLS 1.2 PSK independent of the card emulator's (which also uses OpenSSL, but
//! through our code: a shared misuse would pass a pair test and fail here).
//!
//! Without `openssl` on PATH the tests say "skipped" on stderr and return; with
//! `SMSR_REQUIRE_OPENSSL=1` a missing `openssl` is a failure (as `SMSR_REQUIRE_VPCD` in
//! `tests/vpcd.rs`).

use super::*;
use crate::test_support::openssl_present;
use smsr_proto::scp81::{admin_from, PskIdentity, ADMIN_PROTOCOL, CONTENT_TYPE_COMMANDS};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// EID of the SGP.02 examples used across the project's tests.
const EID: &str = "89001012012341234012345678901224";
/// Another card's EID, for the `X-Admin-From` mismatch.
const OTHER_EID: &str = "89049032123451234512345678901235";
const PSK: &str = "000102030405060708090A0B0C0D0E0F";
const WRONG_PSK: &str = "F0E0D0C0B0A090807060504030201000";
/// The cipher suite the client is limited to: one of [`smsr_proto::scp81::TLS_CIPHERS`], not the server's first.
const SUITE: &str = "PSK-AES128-CBC-SHA256";
/// GET DATA `5A` (the EID) as an expanded-format command script: `AE 80 { 22 05 <APDU> } 00 00`.
const SCRIPT: &str = "AE80220580CA005A000000";
const WAIT: Duration = Duration::from_secs(10);

fn eid(text: &str) -> [u8; 16] {
    hex::decode(text).unwrap().try_into().unwrap()
}

fn identity() -> String {
    PskIdentity {
        eid: eid(EID),
        isd_r: Aid::isd_r(),
        kid: 1,
        kvn: 0x40,
    }
    .to_text()
}

/// A child process killed and reaped on every path out of the test.
#[derive(Debug)]
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Everything a child wrote on one of its pipes so far, read by a thread.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn collect(mut pipe: impl Read + Send + 'static) -> Self {
        let out = Self::default();
        let sink = Arc::clone(&out.0);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]);
            }
        });
        out
    }

    fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits until `done` holds for the bytes, at most [`WAIT`]; the bytes either way.
    fn wait_for(&self, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            let bytes = self.bytes();
            if done(&bytes) || Instant::now() > deadline {
                return bytes;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A server with the test card's key, its events in a channel.
fn server() -> (AdminServer, Receiver<ServerEvent>) {
    let keys = HashMap::from([(
        identity().into_bytes(),
        PskEntry {
            eid: eid(EID),
            psk: Zeroizing::new(hex::decode(PSK).unwrap()),
        },
    )]);
    let (tx, rx) = mpsc::channel();
    let server = AdminServer::start("127.0.0.1:0".parse().unwrap(), keys, move |e| {
        tx.send(e).is_ok()
    })
    .unwrap();
    (server, rx)
}

/// `openssl s_client` connected to `server` with `psk`, limited to TLS 1.2 and [`SUITE`].
fn s_client(server: &AdminServer, psk: &str) -> (Reaped, ChildStdin, Collected, Collected) {
    let mut child = Reaped(
        Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(server.addr().to_string())
            .args(["-tls1_2", "-cipher", SUITE, "-psk_identity"])
            .arg(identity())
            .args(["-psk", psk, "-quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdin = child.0.stdin.take().unwrap();
    let stdout = Collected::collect(child.0.stdout.take().unwrap());
    let stderr = Collected::collect(child.0.stderr.take().unwrap());
    (child, stdin, stdout, stderr)
}

/// The POST the card sends first, as `from`.
fn first_post(from_eid: &str) -> Vec<u8> {
    AdminRequest {
        uri: ADMIN_PATH.into(),
        host: "127.0.0.1".into(),
        from: admin_from(&eid(from_eid), &Aid::isd_r()),
        script_status: None,
        resume: false,
        body: vec![],
    }
    .to_bytes()
}

/// The next event, or a failure naming what was awaited and what the client said.
fn next_event(rx: &Receiver<ServerEvent>, awaited: &str, stderr: &Collected) -> ServerEvent {
    rx.recv_timeout(WAIT).unwrap_or_else(|e| {
        panic!(
            "no server event ({awaited} awaited): {e}; s_client stderr: {}",
            String::from_utf8_lossy(&stderr.bytes())
        )
    })
}

#[test]
fn openssl_s_client_gets_a_script_over_psk_tls() {
    if !openssl_present("openssl_s_client_gets_a_script_over_psk_tls") {
        return;
    }
    let (server, rx) = server();
    let (_child, mut stdin, stdout, stderr) = s_client(&server, PSK);
    stdin.write_all(&first_post(EID)).unwrap();
    stdin.flush().unwrap();

    match next_event(&rx, "Connected", &stderr) {
        ServerEvent::Connected {
            identity: id,
            cipher,
        } => {
            assert_eq!(id, identity());
            assert_eq!(cipher, SUITE);
        }
        other => panic!("expected Connected, got {other:?}"),
    }
    match next_event(&rx, "Post", &stderr) {
        ServerEvent::Post(request) => {
            assert_eq!(request.uri, ADMIN_PATH);
            assert_eq!(request.host, "127.0.0.1");
            assert_eq!(request.from, admin_from(&eid(EID), &Aid::isd_r()));
            assert_eq!(request.script_status, None);
            assert!(request.body.is_empty());
        }
        other => panic!("expected Post, got {other:?}"),
    }
    let script = hex::decode(SCRIPT).unwrap();
    assert!(server.reply(Reply::Script {
        targeted: None,
        body: script.clone(),
    }));

    // One chunk of 11 (`B`) bytes, then the last chunk: the framing checked byte for byte here,
    // not through our own HTTP reader.
    let mut chunked = b"\r\n\r\nB\r\n".to_vec();
    chunked.extend_from_slice(&script);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let response = stdout.wait_for(|b| b.ends_with(b"0\r\n\r\n"));
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "response: {text:?}; s_client stderr: {}",
        String::from_utf8_lossy(&stderr.bytes())
    );
    for header in [
        format!("\r\nX-Admin-Protocol: {ADMIN_PROTOCOL}\r\n"),
        format!("\r\nX-Admin-Next-URI: {ADMIN_PATH}?step=1\r\n"),
        format!("\r\nContent-Type: {CONTENT_TYPE_COMMANDS}\r\n"),
        "\r\nTransfer-Encoding: chunked\r\n".to_owned(),
    ] {
        assert!(text.contains(&header), "{header:?} missing in {text:?}");
    }
    assert!(
        !text.contains("X-Admin-Targeted-Application"),
        "a script for the ISD-R names no target: {text:?}"
    );
    assert!(
        response.ends_with(&chunked),
        "body not one chunk of the script then the last chunk: {text:?}"
    );
    // Killing the client ends the session the server waits on (its next POST).
}

#[test]
fn openssl_s_client_with_the_wrong_psk_fails_the_handshake() {
    if !openssl_present("openssl_s_client_with_the_wrong_psk_fails_the_handshake") {
        return;
    }
    let (server, rx) = server();
    let (_child, _stdin, _stdout, stderr) = s_client(&server, WRONG_PSK);
    match next_event(&rx, "HandshakeFailed", &stderr) {
        ServerEvent::HandshakeFailed(e) => {
            assert!(e.contains("PSK"), "{e}");
            assert!(e.contains(&identity()), "the identity is named: {e}");
        }
        other => panic!("expected HandshakeFailed, got {other:?}"),
    }
}

#[test]
fn openssl_s_client_posting_as_another_card_is_refused() {
    if !openssl_present("openssl_s_client_posting_as_another_card_is_refused") {
        return;
    }
    let (server, rx) = server();
    let (_child, mut stdin, _stdout, stderr) = s_client(&server, PSK);
    stdin.write_all(&first_post(OTHER_EID)).unwrap();
    stdin.flush().unwrap();
    assert!(
        matches!(
            next_event(&rx, "Connected", &stderr),
            ServerEvent::Connected { .. }
        ),
        "the handshake itself succeeds"
    );
    match next_event(&rx, "Failed", &stderr) {
        ServerEvent::Failed(e) => {
            assert!(e.contains("X-Admin-From"), "{e}");
            assert!(e.contains(OTHER_EID), "the claimed EID is named: {e}");
            assert!(e.contains(EID), "the identity's EID is named: {e}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}
