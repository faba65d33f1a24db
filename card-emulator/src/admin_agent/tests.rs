//! Interop: the agent's PSK-TLS client, driven through a small test terminal (FETCH, TERMINAL
//! RESPONSE, data-available events over a real TCP socket), against OpenSSL's own TLS server
//! (`openssl s_server -nocert -psk`), which prints what the client sends.
//!
//! Without `openssl` on PATH the tests say "skipped" on stderr and return; with
//! `SMSR_REQUIRE_OPENSSL=1` a missing `openssl` is a failure (as `SMSR_REQUIRE_VPCD` in the
//! workspace's `tests/vpcd.rs`).

use super::*;
use smsr_proto::cat::{open_channel_ok, receive_data_ok, send_data_ok, OtherAddress};
use smsr_proto::scp81::{PskIdentity, TriggerSecurity, ADMIN_PROTOCOL};
use smsr_proto::{CommandApdu, ResponseApdu};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// EID of the SGP.02 examples used across the project's tests.
const EID: &str = "89001012012341234012345678901224";
const PSK: &str = "000102030405060708090A0B0C0D0E0F";
const WRONG_PSK: &str = "F0E0D0C0B0A090807060504030201000";
/// The only suite the server takes: the agent's first offer.
const SUITE: &str = "PSK-AES128-GCM-SHA256";
const KVN: u8 = 0x40;
const KID: u8 = 0x01;
const ADMIN_URI: &str = "/smsr/es5";
const WAIT: Duration = Duration::from_secs(10);
/// The channel the test terminal grants.
const CHANNEL: u8 = 1;
/// TLS record content type of an alert (RFC 5246 §6.2.1).
const ALERT: u8 = 0x15;

fn eid() -> [u8; 16] {
    hex::decode(EID).unwrap().try_into().unwrap()
}

fn identity() -> String {
    PskIdentity {
        eid: eid(),
        isd_r: Aid::isd_r(),
        kid: KID,
        kvn: KVN,
    }
    .to_text()
}

/// Whether `openssl` runs; `false` (after saying so) when it is not on PATH, a failure when
/// `SMSR_REQUIRE_OPENSSL=1`.
fn openssl_present(test: &str) -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => true,
        outcome => {
            assert!(
                std::env::var("SMSR_REQUIRE_OPENSSL").as_deref() != Ok("1"),
                "{test}: SMSR_REQUIRE_OPENSSL=1 but `openssl version` did not run: {outcome:?}"
            );
            eprintln!("{test}: skipped: `openssl` is not on PATH (or does not run): {outcome:?}");
            false
        }
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

    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `openssl s_server` with `psk` on a free port, killed and reaped on every path out of the
/// test. Its stdin stays open: on end of input it would stop echoing.
#[derive(Debug)]
struct SServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    stdout: Collected,
    stderr: Collected,
}

impl SServer {
    fn start(psk: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-nocert", "-psk", psk, "-psk_identity"])
            .arg(identity())
            .args(["-tls1_2", "-cipher", SUITE, "-quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdin, stdout, stderr) = (
            child.stdin.take(),
            child.stdout.take().map(Collected::collect),
            child.stderr.take().map(Collected::collect),
        );
        let server = Self {
            child,
            _stdin: stdin.unwrap(),
            port,
            stdout: stdout.unwrap(),
            stderr: stderr.unwrap(),
        };
        // Ready when it accepts; the probe connection's failed handshake does not stop it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s_server does not accept on port {port}: {}",
                server.stderr.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Answers every APDU `9000`; every application exists.
#[derive(Debug)]
struct AnswersOk;

impl ScriptTarget for AnswersOk {
    fn apdu(&mut self, _command: &CommandApdu) -> ResponseApdu {
        ResponseApdu::success(Vec::new())
    }
}

impl AgentTarget for AnswersOk {
    fn address(&mut self, _aid: Option<&Aid>) -> bool {
        true
    }
}

/// A trigger naming the SCP81 key set and, as connection parameters, a TCP client channel to
/// `port` on 127.0.0.1.
fn trigger(port: u16) -> AdminTrigger {
    let open = OpenChannel::tcp_client(1, Ipv4Addr::LOCALHOST, port, DEFAULT_BUFFER);
    let mut connection = Vec::new();
    for tlv in open.to_command().unwrap().tlvs {
        tlv.push_to(&mut connection).unwrap();
    }
    AdminTrigger {
        connection: Some(connection),
        security: Some(TriggerSecurity {
            psk_identity: identity().into_bytes(),
            kvn: KVN,
            kid: KID,
        }),
        retry: None,
        admin_host: Some("127.0.0.1".into()),
        agent_id: None,
        admin_uri: Some(ADMIN_URI.into()),
    }
}

fn agent(port: u16, psk: &str) -> Agent {
    let keysets = [Scp81KeySet {
        kvn: KVN,
        kid: KID,
        psk: Zeroizing::new(hex::decode(psk).unwrap()),
    }];
    Agent::start(&trigger(port), &keysets, &eid()).unwrap()
}

/// A terminal with one BIP channel: a TCP socket, a Tx buffer until SEND DATA flushes and an Rx
/// buffer RECEIVE DATA empties.
#[derive(Debug, Default)]
struct Terminal {
    socket: Option<TcpStream>,
    buffer: usize,
    tx: Vec<u8>,
    rx: VecDeque<u8>,
    /// The server closed its end.
    eof: bool,
    /// The commands fetched, in order.
    log: Vec<Proactive>,
}

impl Terminal {
    /// One FETCH and its TERMINAL RESPONSE or, when the card has nothing to say, one read of the
    /// socket (a data-available event when bytes came, channel status "link dropped" once the
    /// server has closed and every byte was received).
    fn step(&mut self, agent: &mut Agent, target: &mut AnswersOk) {
        let Some(bytes) = agent.fetch() else {
            self.idle(agent);
            return;
        };
        let command = Proactive::parse(&bytes).unwrap();
        let response = match &command {
            Proactive::OpenChannel(open) => {
                let transport = open.transport.unwrap();
                assert_eq!(transport.protocol, 0x02, "TCP, UICC in client mode");
                let ip = open
                    .destination
                    .as_ref()
                    .and_then(OtherAddress::ipv4)
                    .unwrap();
                let socket = TcpStream::connect(SocketAddr::from((ip, transport.port))).unwrap();
                socket.set_nodelay(true).unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                self.socket = Some(socket);
                self.buffer = usize::from(open.buffer_size);
                open_channel_ok(open, CHANNEL, open.buffer_size)
            }
            Proactive::SendData(send) => {
                assert_eq!(send.channel, CHANNEL);
                self.tx.extend_from_slice(&send.data);
                assert!(self.tx.len() <= self.buffer, "Tx buffer overrun");
                if send.flush {
                    let socket = self.socket.as_mut().unwrap();
                    socket.write_all(&self.tx).unwrap();
                    self.tx.clear();
                }
                send_data_ok(send, self.buffer - self.tx.len())
            }
            Proactive::ReceiveData(receive) => {
                assert_eq!(receive.channel, CHANNEL);
                let n = usize::from(receive.length).min(self.rx.len());
                let data: Vec<u8> = self.rx.drain(..n).collect();
                receive_data_ok(receive, &data, self.rx.len())
            }
            Proactive::CloseChannel(close) => {
                assert_eq!(close.channel, CHANNEL);
                self.socket = None;
                TerminalResponse::new(close.details(), cat::result::OK)
            }
            other => panic!("the agent sent {}", other.name()),
        };
        assert!(agent.awaits(&response.details), "{response:?}");
        // Through the bytes, as a card receives it.
        let response = TerminalResponse::parse(&response.to_bytes().unwrap()).unwrap();
        agent.terminal_response(&response, target);
        self.log.push(command);
    }

    fn idle(&mut self, agent: &mut Agent) {
        let Some(socket) = self.socket.as_mut().filter(|_| !self.eof) else {
            std::thread::sleep(Duration::from_millis(5));
            return;
        };
        let mut buf = [0u8; 4096];
        match socket.read(&mut buf) {
            Ok(0) => self.eof = true,
            Ok(n) => {
                self.rx.extend(&buf[..n]);
                agent.event(&Event::data_available(CHANNEL, self.rx.len()));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading from s_server: {e}"),
        }
        if self.eof && self.rx.is_empty() {
            agent.event(&Event::link_dropped(CHANNEL));
            self.socket = None;
        }
    }

    fn names(&self) -> Vec<&'static str> {
        self.log.iter().map(Proactive::name).collect()
    }
}

#[test]
fn agent_posts_to_openssl_s_server_over_psk_tls() {
    if !openssl_present("agent_posts_to_openssl_s_server_over_psk_tls") {
        return;
    }
    let server = SServer::start(PSK);
    let mut agent = agent(server.port, PSK);
    let mut terminal = Terminal::default();
    let deadline = Instant::now() + WAIT;
    // s_server prints what the client sends: the whole head of the first POST.
    let echoed = loop {
        let echoed = server.stdout.text();
        if echoed
            .find("POST /")
            .is_some_and(|at| echoed[at..].contains("\r\n\r\n"))
        {
            break echoed;
        }
        assert!(
            Instant::now() < deadline && agent.ending().is_none(),
            "no POST within {WAIT:?}; agent {agent:?}; commands {:?}; s_server stdout {echoed:?}, \
             stderr {:?}",
            terminal.names(),
            server.stderr.text()
        );
        terminal.step(&mut agent, &mut AnswersOk);
    };
    assert!(
        echoed.starts_with(&format!("POST {ADMIN_URI} HTTP/1.1\r\n")),
        "{echoed:?}"
    );
    for header in [
        format!("\r\nX-Admin-Protocol: {ADMIN_PROTOCOL}\r\n"),
        "\r\nHost: 127.0.0.1\r\n".to_owned(),
        format!(
            "\r\nX-Admin-From: {}\r\n",
            admin_from(&eid(), &Aid::isd_r())
        ),
        "\r\nContent-Length: 0\r\n".to_owned(),
    ] {
        assert!(echoed.contains(&header), "{header:?} missing in {echoed:?}");
    }
    assert_eq!(terminal.names().first(), Some(&"OPEN CHANNEL"));
    assert!(terminal.names().contains(&"RECEIVE DATA"));
    assert!(agent.ending().is_none(), "{agent:?}");
}

#[test]
fn agent_with_the_wrong_psk_ends_on_the_handshake_and_closes_the_channel() {
    if !openssl_present("agent_with_the_wrong_psk_ends_on_the_handshake_and_closes_the_channel") {
        return;
    }
    let server = SServer::start(WRONG_PSK);
    let mut agent = agent(server.port, PSK);
    let mut terminal = Terminal::default();
    let deadline = Instant::now() + WAIT;
    // The command count when the agent's ending was first seen.
    let mut ended_at = None;
    while !agent.finished() {
        assert!(
            Instant::now() < deadline,
            "the session did not end within {WAIT:?}; agent {agent:?}; commands {:?}; \
             s_server stderr {:?}",
            terminal.names(),
            server.stderr.text()
        );
        terminal.step(&mut agent, &mut AnswersOk);
        if agent.ending().is_some() && ended_at.is_none() {
            ended_at = Some(terminal.log.len());
        }
    }
    // s_server finds the wrong key in the client's Finished and says so with a fatal alert
    // (bad_record_mac), which ends the client's handshake.
    match agent.ending() {
        Some(Ending::Handshake(e)) => assert!(e.contains("alert"), "{e}"),
        other => panic!("expected a handshake ending, got {other:?}"),
    }
    assert_eq!(agent.scripts, 0);
    assert!(
        !server.stdout.text().contains("POST"),
        "nothing reaches the server's application layer"
    );
    // After the handshake failed: what TLS still had to say (an alert, if anything: OpenSSL
    // answers a fatal alert with none, so today this is CLOSE CHANNEL alone), then CLOSE
    // CHANNEL, and nothing after it.
    let after = &terminal.log[ended_at.unwrap()..];
    let (last, before) = after.split_last().expect("a command after the failure");
    assert!(
        matches!(last, Proactive::CloseChannel(c) if c.channel == CHANNEL),
        "{:?}",
        terminal.names()
    );
    for command in before {
        match command {
            Proactive::SendData(send) => {
                assert_eq!(send.data.first(), Some(&ALERT), "{send:?}");
            }
            other => panic!("{} after the handshake failed", other.name()),
        }
    }
}

/// What a target without the addressed application answers.
struct NoSuchApplication;

impl ScriptTarget for NoSuchApplication {
    fn apdu(&mut self, _command: &CommandApdu) -> ResponseApdu {
        ResponseApdu::success(Vec::new())
    }
}

impl AgentTarget for NoSuchApplication {
    fn address(&mut self, _aid: Option<&Aid>) -> bool {
        false
    }
}

#[test]
fn triggers_with_bad_security_are_refused_before_any_channel() {
    let keysets = [Scp81KeySet {
        kvn: KVN,
        kid: KID,
        psk: Zeroizing::new(hex::decode(PSK).unwrap()),
    }];
    // A key set the ISD-R does not have (KVN 41, then KID 02).
    for (kvn, kid) in [(0x41, KID), (KVN, 0x02)] {
        let mut t = trigger(443);
        t.security = Some(TriggerSecurity {
            psk_identity: identity().into_bytes(),
            kvn,
            kid,
        });
        assert_eq!(
            Agent::start(&t, &keysets, &eid()).unwrap_err(),
            StatusWord::ReferencedDataNotFound
        );
    }
    // No security parameters at all.
    let mut t = trigger(443);
    t.security = None;
    assert_eq!(
        Agent::start(&t, &keysets, &eid()).unwrap_err(),
        StatusWord::ReferencedDataNotFound
    );
    // An empty PSK identity, or one with a NUL (not a C string).
    for id in [Vec::new(), b"ab\0cd".to_vec()] {
        let mut t = trigger(443);
        t.security = Some(TriggerSecurity {
            psk_identity: id,
            kvn: KVN,
            kid: KID,
        });
        assert_eq!(
            Agent::start(&t, &keysets, &eid()).unwrap_err(),
            StatusWord::IncorrectData
        );
    }
    // Connection parameters that are no OPEN CHANNEL.
    let mut t = trigger(443);
    t.connection = Some(vec![0x35, 0x05, 0x03]);
    assert_eq!(
        Agent::start(&t, &keysets, &eid()).unwrap_err(),
        StatusWord::IncorrectData
    );
}

#[test]
fn a_script_for_an_application_the_card_lacks_is_unknown_application() {
    let mut a = agent(443, PSK);
    let other = Aid::new(&hex::decode("A0000005591010FFFFFFFF8900009900").unwrap()).unwrap();
    let post = a
        .run_script(
            &mut NoSuchApplication,
            Some(&other),
            &hex::decode("AE80220580CA005A000000").unwrap(),
            "/smsr/es5?step=1".into(),
        )
        .unwrap();
    assert_eq!(post.script_status, Some(ScriptStatus::UnknownApplication));
    assert!(post.body.is_empty());
    assert_eq!(post.uri, "/smsr/es5?step=1");
    // The same script for an application it has runs and is answered ok.
    let post = a
        .run_script(
            &mut AnswersOk,
            None,
            &hex::decode("AE80220580CA005A000000").unwrap(),
            "/smsr/es5?step=2".into(),
        )
        .unwrap();
    assert_eq!(post.script_status, Some(ScriptStatus::Ok));
    assert!(!post.body.is_empty());
}
