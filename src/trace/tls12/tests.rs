//! The decoder against OpenSSL's own TLS 1.2 PSK client and server, run in process over
//! in-memory pipes (both directions captured byte for byte, the key log from OpenSSL's
//! keylog callback); tamper, truncation and wrong-key cases; the PRF against published
//! vectors; any bytes never panic. One optional test runs `openssl s_client` (a second
//! program writing the key log, and a resumed session: the abbreviated handshake).

use super::*;
use crate::keylog::KeyMaterial;
use crate::test_support::openssl_present;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion,
};
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

mod psk;

const PSK: [u8; 16] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
];
const IDENTITY: &[u8] =
    b"8001028110890010120123412340123456789012244F10A0000005591010FFFFFFFF8900000100820101830140";
/// `SSL_OP_NO_ENCRYPT_THEN_MAC` (OpenSSL `ssl.h`: bit 19); the openssl crate names no constant.
const NO_ENCRYPT_THEN_MAC: u64 = 1 << 19;
/// `SSL_OP_NO_EXTENDED_MASTER_SECRET` (OpenSSL 3 `ssl.h`: bit 0).
const NO_EXTENDED_MASTER_SECRET: u64 = 1;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// One end of an in-memory connection: reads what the peer wrote, records what it writes.
#[derive(Debug)]
struct End {
    inbox: Rc<RefCell<VecDeque<u8>>>,
    outbox: Rc<RefCell<VecDeque<u8>>>,
    wire: Rc<RefCell<Vec<u8>>>,
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut inbox = self.inbox.borrow_mut();
        if inbox.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(inbox.len());
        for (dst, src) in buf.iter_mut().zip(inbox.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.outbox.borrow_mut().extend(buf);
        self.wire.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    cipher: &'static str,
    etm: bool,
    ems: bool,
}

const fn setup(cipher: &'static str, etm: bool) -> Setup {
    Setup {
        cipher,
        etm,
        ems: true,
    }
}

/// What a session left: the two streams, the key log, what each end sent.
#[derive(Debug, Clone)]
struct Capture {
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    keylog: KeyLogText,
    client_sent: Vec<u8>,
    server_sent: Vec<u8>,
    cipher: String,
}

#[derive(Debug, Clone)]
struct KeyLogText(String);

impl Capture {
    fn decode(&self) -> TlsView {
        let log = KeyMaterial::parse(&self.keylog.0).unwrap();
        assert_eq!(log.tls.len(), 1, "{:?}", self.keylog);
        decode(&self.c2s, &self.s2c, |r| log.master_secret(r))
    }
}

fn contexts(s: Setup, keylog: Arc<Mutex<Vec<String>>>) -> (SslContext, SslContext) {
    let mut c = SslContext::builder(SslMethod::tls_client()).unwrap();
    let mut v = SslContext::builder(SslMethod::tls_server()).unwrap();
    for b in [&mut c, &mut v] {
        b.set_min_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        b.set_cipher_list(s.cipher).unwrap();
        b.set_verify(SslVerifyMode::NONE);
    }
    if !s.etm {
        c.set_options(SslOptions::from_bits_retain(NO_ENCRYPT_THEN_MAC));
    }
    if !s.ems {
        c.set_options(SslOptions::from_bits_retain(NO_EXTENDED_MASTER_SECRET));
    }
    c.set_psk_client_callback(|_, _, id, psk| {
        id[..IDENTITY.len()].copy_from_slice(IDENTITY);
        id[IDENTITY.len()] = 0;
        psk[..PSK.len()].copy_from_slice(&PSK);
        Ok(PSK.len())
    });
    v.set_psk_server_callback(|_, id, psk| {
        assert_eq!(id, Some(IDENTITY));
        psk[..PSK.len()].copy_from_slice(&PSK);
        Ok(PSK.len())
    });
    // The SM-SR (the server) writes the key log, as in production.
    v.set_keylog_callback(move |_, line| keylog.lock().unwrap().push(line.to_owned()));
    (c.build(), v.build())
}

/// Runs a session: handshake, client request, a server answer over 16 KiB, a client message
/// over 16 KiB, a short answer, close_notify both ways.
fn run(s: Setup) -> Capture {
    let keylog = Arc::new(Mutex::new(Vec::new()));
    let (cctx, sctx) = contexts(s, Arc::clone(&keylog));
    let (a, b) = (Rc::default(), Rc::default());
    let (c2s, s2c) = (Rc::default(), Rc::default());
    let client_end = End {
        inbox: Rc::clone(&b),
        outbox: Rc::clone(&a),
        wire: Rc::clone(&c2s),
    };
    let server_end = End {
        inbox: a,
        outbox: b,
        wire: Rc::clone(&s2c),
    };
    let mut cssl = Ssl::new(&cctx).unwrap();
    cssl.set_connect_state();
    let mut sssl = Ssl::new(&sctx).unwrap();
    sssl.set_accept_state();
    let mut client = SslStream::new(cssl, client_end).unwrap();
    let mut server = SslStream::new(sssl, server_end).unwrap();
    let mut done = false;
    for _ in 0..20 {
        let (c, v) = (client.do_handshake(), server.do_handshake());
        if c.is_ok() && v.is_ok() {
            done = true;
            break;
        }
        for e in [c.err(), v.err()].into_iter().flatten() {
            assert_eq!(e.code(), ErrorCode::WANT_READ, "{e}");
        }
    }
    assert!(done, "handshake did not finish");

    let request = b"POST /admin HTTP/1.1\r\nHost: smsr\r\nContent-Length: 0\r\n\r\n".to_vec();
    let answer: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let upload: Vec<u8> = (0..17_000u32).map(|i| (i % 241) as u8 ^ 0x5A).collect();
    let last = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
    transfer(&mut client, &mut server, &request);
    transfer(&mut server, &mut client, &answer);
    transfer(&mut client, &mut server, &upload);
    transfer(&mut server, &mut client, &last);
    client.shutdown().unwrap();
    let mut buf = [0u8; 16];
    let e = server.ssl_read(&mut buf).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ZERO_RETURN, "{e}");
    server.shutdown().unwrap();

    let cipher = client.ssl().current_cipher().unwrap().name().to_owned();
    let keylog = KeyLogText(keylog.lock().unwrap().join("\n"));
    let (c2s, s2c) = (c2s.borrow().clone(), s2c.borrow().clone());
    Capture {
        c2s,
        s2c,
        keylog,
        client_sent: [request, upload].concat(),
        server_sent: [answer, last].concat(),
        cipher,
    }
}

fn transfer(from: &mut SslStream<End>, to: &mut SslStream<End>, data: &[u8]) {
    from.write_all(data).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    while got.len() < data.len() {
        let n = to.ssl_read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, data);
}

/// Everything of a clean session decodes with the key log: see [`assert_clean`].
fn decodes(s: Setup, id: u16) -> (Capture, TlsView) {
    let cap = run(s);
    let view = cap.decode();
    assert_clean(s, id, &cap, &view);
    assert_eq!(view.secret_source, Some(SecretSource::KeyLog));
    (cap, view)
}

/// Everything of a clean session decoded: the suite, both hellos, every encrypted record
/// authenticated, both Finished matching, the application data of both ways, close_notify.
fn assert_clean(s: Setup, id: u16, cap: &Capture, view: &TlsView) {
    assert_eq!(view.errors, vec![], "{view:#?}");
    assert_eq!(view.note, None);
    assert_eq!(view.suite, Some(id));
    assert_eq!(view.suite_name(), Some(cap.cipher.as_str()));
    assert_eq!(view.extended_master_secret, s.ems);
    // OpenSSL echoes encrypt_then_mac for every non-AEAD suite, NULL included (where it
    // changes nothing: no IV, the MAC over the content either way).
    let aead = s.cipher.contains("GCM");
    assert_eq!(view.encrypt_then_mac, s.etm && !aead, "{}", s.cipher);
    assert_eq!(view.handshake_verified, Some(true));
    for d in [C2S, S2C] {
        let records: Vec<&TlsRecord> = view.records_in(d).collect();
        let ccs = records
            .iter()
            .position(|r| r.content_type == 20)
            .expect("a ChangeCipherSpec");
        assert!(records[..=ccs].iter().all(|r| r.verdict == Verdict::Clear));
        assert!(
            records[ccs + 1..].iter().all(|r| r.verdict == Verdict::Ok),
            "{d}: {records:#?}"
        );
        assert_eq!(records[ccs + 1].describe(), "handshake finished");
        assert_eq!(
            records.last().unwrap().describe(),
            "alert warning close_notify"
        );
        assert_eq!(records.last().unwrap().offset_end, stream(cap, d).len());
    }
    assert_eq!(view.psk_identity.as_deref(), Some(IDENTITY));
    assert_eq!(view.psk_identity_hint, None);
    assert_eq!(application_data(view, C2S), cap.client_sent);
    assert_eq!(application_data(view, S2C), cap.server_sent);
    // The 20 000-byte answer went in more than one record.
    let big = view
        .records_in(S2C)
        .filter(|r| r.content_type == 23 && r.plaintext.as_ref().unwrap().len() > 3000)
        .count();
    assert!(big >= 2, "{big}");
}

fn stream(cap: &Capture, d: Direction) -> &[u8] {
    match d {
        Direction::ClientToServer => &cap.c2s,
        Direction::ServerToClient => &cap.s2c,
    }
}

#[test]
fn gcm_sha256_session_decodes() {
    decodes(setup("PSK-AES128-GCM-SHA256", true), 0x00A8);
}

#[test]
fn cbc_sha256_encrypt_then_mac_session_decodes() {
    decodes(setup("PSK-AES128-CBC-SHA256", true), 0x00AE);
}

#[test]
fn cbc_sha256_mac_then_encrypt_session_decodes() {
    decodes(setup("PSK-AES128-CBC-SHA256", false), 0x00AE);
}

#[test]
fn cbc_sha_encrypt_then_mac_session_decodes() {
    decodes(setup("PSK-AES128-CBC-SHA", true), 0x008C);
}

#[test]
fn cbc_sha_mac_then_encrypt_session_decodes() {
    decodes(setup("PSK-AES128-CBC-SHA", false), 0x008C);
}

#[test]
fn aes256_suites_decode() {
    decodes(setup("PSK-AES256-GCM-SHA384", true), 0x00A9);
    decodes(setup("PSK-AES256-CBC-SHA384", true), 0x00AF);
    decodes(setup("PSK-AES256-CBC-SHA384", false), 0x00AF);
    decodes(setup("PSK-AES256-CBC-SHA", false), 0x008D);
}

#[test]
fn null_sha256_debug_suite_decodes() {
    decodes(setup("PSK-NULL-SHA256:@SECLEVEL=0", true), 0x00B0);
}

#[test]
fn sessions_without_extended_master_secret_decode() {
    for cipher in ["PSK-AES128-GCM-SHA256", "PSK-AES128-CBC-SHA256"] {
        decodes(
            Setup {
                cipher,
                etm: true,
                ems: false,
            },
            cipher::find_suite(if cipher.contains("GCM") {
                0x00A8
            } else {
                0x00AE
            })
            .unwrap()
            .id,
        );
    }
}

/// The offset of the `n`th record (from 0) of `d` whose type is 23, and that record's end.
fn app_record(view: &TlsView, d: Direction, n: usize) -> (usize, usize) {
    let r = view
        .records_in(d)
        .filter(|r| r.content_type == 23)
        .nth(n)
        .unwrap();
    (r.offset, r.offset_end)
}

#[test]
fn a_flipped_byte_fails_its_record_and_stops_the_direction() {
    for s in [
        setup("PSK-AES128-GCM-SHA256", true),
        setup("PSK-AES128-CBC-SHA256", true),
        setup("PSK-AES128-CBC-SHA256", false),
        setup("PSK-AES128-CBC-SHA", false),
    ] {
        let cap = run(s);
        let clean = cap.decode();
        for d in [C2S, S2C] {
            // In the fragment of the second application record, and in its header's type.
            let (start, end) = app_record(&clean, d, 1);
            for at in [start + 5 + 3, end - 1, start + 2] {
                let mut bad = cap.clone();
                let bytes = match d {
                    Direction::ClientToServer => &mut bad.c2s,
                    Direction::ServerToClient => &mut bad.s2c,
                };
                bytes[at] ^= 0x01;
                let view = bad.decode();
                let hit = view.record_at(d, at).unwrap();
                assert_eq!(hit.offset, start);
                assert!(
                    matches!(hit.verdict, Verdict::Failed(_)),
                    "{} {d} byte {at}: {:?}",
                    s.cipher,
                    hit.verdict
                );
                assert_eq!(hit.plaintext, None);
                let later: Vec<&TlsRecord> =
                    view.records_in(d).filter(|r| r.offset > start).collect();
                assert!(!later.is_empty());
                assert!(later
                    .iter()
                    .all(|r| matches!(r.verdict, Verdict::NotDecrypted(_))));
                // The other direction is untouched.
                let other = if d == C2S { S2C } else { C2S };
                assert_eq!(
                    application_data(&view, other),
                    application_data(&clean, other)
                );
                assert_eq!(view.handshake_verified, Some(true));
            }
        }
    }
}

#[test]
fn a_wrong_master_secret_fails_each_finished() {
    let cap = run(setup("PSK-AES128-CBC-SHA256", true));
    let view = decode(&cap.c2s, &cap.s2c, |_| Some(vec![0x42; 48]));
    for d in [C2S, S2C] {
        let encrypted: Vec<&TlsRecord> = view
            .records_in(d)
            .skip_while(|r| r.verdict == Verdict::Clear)
            .collect();
        assert!(matches!(encrypted[0].verdict, Verdict::Failed(ref e) if e.contains("MAC")));
        assert!(encrypted[1..]
            .iter()
            .all(|r| matches!(r.verdict, Verdict::NotDecrypted(_))));
    }
    assert_eq!(view.handshake_verified, None);
    assert!(application_data(&view, C2S).is_empty());
}

#[test]
fn no_key_in_the_log_is_no_key() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let view = decode(&cap.c2s, &cap.s2c, |_| None);
    assert_eq!(view.suite, Some(0x00A8));
    assert!(view.client_random.is_some() && view.server_random.is_some());
    let verdicts: Vec<&Verdict> = view.records.iter().map(|r| &r.verdict).collect();
    assert!(verdicts
        .iter()
        .all(|v| matches!(v, Verdict::Clear | Verdict::NoKey)));
    assert!(verdicts.iter().any(|v| **v == Verdict::NoKey));
    assert!(view.note.unwrap().contains("no master secret"));
    // A secret of the wrong length is refused, not used.
    let view = decode(&cap.c2s, &cap.s2c, |_| Some(vec![1; 47]));
    assert!(view.note.unwrap().contains("47 bytes"));
}

#[test]
fn a_cut_stream_ends_in_a_truncated_record() {
    let cap = run(setup("PSK-AES128-CBC-SHA256", false));
    let clean = cap.decode();
    let (start, end) = app_record(&clean, S2C, 1);
    for cut in [start + 2, start + 5, end - 1] {
        let view = decode(&cap.c2s, &cap.s2c[..cut], |r| {
            KeyMaterial::parse(&cap.keylog.0).unwrap().master_secret(r)
        });
        let last = view.records_in(S2C).last().unwrap();
        assert_eq!(last.verdict, Verdict::Truncated);
        assert_eq!((last.offset, last.offset_end), (start, cut));
        assert_eq!(view.record_at(S2C, cut - 1), Some(last));
        assert!(view
            .records_in(S2C)
            .filter(|r| r.offset < start)
            .all(|r| { matches!(r.verdict, Verdict::Clear | Verdict::Ok) }));
        assert_eq!(view.errors, vec![]);
    }
}

#[test]
fn a_non_tls_header_is_an_error_naming_the_offset() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let clean = cap.decode();
    let (start, _) = app_record(&clean, C2S, 0);
    for (patch, word) in [
        (&[0x47u8][..], "content type 71"),
        (&[0x17, 0x02, 0x03], "version"),
        (&[0x17, 0x03, 0x03, 0xFF, 0xFF], "length 65535"),
    ] {
        let mut bad = cap.c2s.clone();
        bad[start..start + patch.len()].copy_from_slice(patch);
        let view = decode(&bad, &cap.s2c, |_| None);
        assert_eq!(view.errors.len(), 1, "{:?}", view.errors);
        let e = &view.errors[0];
        assert_eq!((e.direction, e.offset), (C2S, start));
        assert!(e.to_string().contains(word), "{e}");
        assert!(view.records_in(C2S).all(|r| r.offset_end <= start));
    }
    assert!(decode(b"GET / HTTP/1.1\r\n", b"", |_| None).errors[0]
        .to_string()
        .contains("is this stream TLS"));
}

#[test]
fn an_altered_clear_handshake_fails_the_finished_check() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    // The last byte of the ClientHello's cipher-suite list: record header 5, message header
    // 4, version 2, random 32, session id (length byte and bytes), list length 2.
    let sid = usize::from(cap.c2s[5 + 4 + 2 + 32]);
    let list = 5 + 4 + 2 + 32 + 1 + sid;
    let len = usize::from(u16::from_be_bytes([cap.c2s[list], cap.c2s[list + 1]]));
    let mut bad = cap.clone();
    bad.c2s[list + 2 + len - 1] ^= 0x01;
    let view = bad.decode();
    assert_eq!(view.handshake_verified, Some(false));
    let finished = view
        .records_in(C2S)
        .find(|r| r.offset > 0 && r.verdict != Verdict::Clear)
        .unwrap();
    assert!(matches!(&finished.verdict, Verdict::Failed(e) if e.contains("verify_data")));
    // Keys do not depend on the suite list: the data still authenticates.
    assert_eq!(application_data(&view, C2S), cap.client_sent);
}

#[test]
fn records_describe_themselves() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let view = cap.decode();
    let first: Vec<String> = view.records_in(C2S).take(3).map(|r| r.describe()).collect();
    assert_eq!(first[0], "handshake client_hello");
    assert_eq!(first[1], "handshake client_key_exchange");
    assert_eq!(first[2], "change_cipher_spec 1 bytes");
    let server = view.records_in(S2C).next().unwrap().describe();
    assert!(server.starts_with("handshake server_hello"), "{server}");
    let hidden = decode(&cap.c2s, &cap.s2c, |_| None);
    assert!(hidden
        .records
        .last()
        .unwrap()
        .describe()
        .starts_with("alert (31 bytes"));
    assert_eq!(alert_name(115), "unknown_psk_identity");
}

#[test]
fn the_key_log_reads_client_random_lines_only() {
    let random = "AB".repeat(32);
    let secret = "cd".repeat(48);
    let text = format!(
        "# comment\n\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {secret}\r\nCLIENT_RANDOM {random} {secret}\n"
    );
    let log = KeyMaterial::parse(&text).unwrap();
    assert_eq!(log.tls.len(), 1);
    assert_eq!(log.master_secret(&[0xAB; 32]), Some(vec![0xCD; 48]));
    assert_eq!(log.master_secret(&[0; 32]), None);
    assert!(!format!("{log:?}").contains("cd"));
    for bad in [
        format!("CLIENT_RANDOM {random}"),
        format!("CLIENT_RANDOM {random} {secret} extra"),
        format!("CLIENT_RANDOM {} {secret}", "AB".repeat(31)),
        format!("CLIENT_RANDOM {random} {}", "cd".repeat(47)),
        format!("CLIENT_RANDOM {random} {}x", "c".repeat(95)),
    ] {
        let e = KeyMaterial::parse(&format!("# x\n{bad}")).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}

/// RFC 5246 P_SHA256 and P_SHA384 vectors posted to the IETF TLS list (msg03416, "TLS 1.2
/// PRF test vectors"), also reproduced here with `openssl kdf ... TLS1-PRF` (OpenSSL 3.0.19).
#[test]
fn prf_matches_the_published_vectors() {
    let out = cipher::prf(
        cipher::Hash::Sha256,
        &hex::decode("9bbe436ba940f017b17652849a71db35").unwrap(),
        b"test label",
        &hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap(),
        100,
    )
    .unwrap();
    assert_eq!(
        hex::encode(&*out),
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9\
         c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789ba\
         a48082d122ee42c5a72e5a5110fff70187347b66"
    );
    let out = cipher::prf(
        cipher::Hash::Sha384,
        &hex::decode("b80b733d6ceefcdc71566ea48e5567df").unwrap(),
        b"test label",
        &hex::decode("cd665cf6a8447dd6ff8b27555edb7465").unwrap(),
        148,
    )
    .unwrap();
    assert_eq!(
        hex::encode(&*out),
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe3\
         4f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3\
         d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236\
         a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f"
    );
}

/// One clean CBC (MAC-then-encrypt) session, captured once for the property tests.
fn sample() -> &'static Capture {
    static SAMPLE: OnceLock<Capture> = OnceLock::new();
    SAMPLE.get_or_init(|| run(setup("PSK-AES128-CBC-SHA256", false)))
}

/// Records with valid headers and arbitrary fragments, to get past the framing.
fn records() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            20u8..=23,
            1u8..=3,
            prop::collection::vec(any::<u8>(), 0..80),
        ),
        0..12,
    )
    .prop_map(|rs| {
        rs.into_iter()
            .flat_map(|(t, minor, body)| {
                let len = u16::try_from(body.len()).unwrap().to_be_bytes();
                [vec![t, 3, minor, len[0], len[1]], body].concat()
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn any_bytes_never_panic(
        c in prop::collection::vec(any::<u8>(), 0..600),
        s in prop::collection::vec(any::<u8>(), 0..600),
        key in prop::option::of(prop::collection::vec(any::<u8>(), 0..60)),
    ) {
        let view = decode(&c, &s, |_| key.clone());
        for r in &view.records {
            let _ = r.describe();
            let len = if r.direction == C2S { c.len() } else { s.len() };
            prop_assert!(r.offset_end <= len);
        }
    }

    #[test]
    fn any_records_never_panic(c in records(), s in records(), key in any::<[u8; 48]>()) {
        let view = decode(&c, &s, |_| Some(key.to_vec()));
        prop_assert!(view.records.iter().all(|r| r.verdict != Verdict::Ok));
    }

    #[test]
    fn a_flip_after_change_cipher_spec_is_never_ok(
        in_server in any::<bool>(), at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let cap = sample();
        let log = KeyMaterial::parse(&cap.keylog.0).unwrap();
        let d = if in_server { S2C } else { C2S };
        let mut bytes = stream(cap, d).to_vec();
        let clean = cap.decode();
        let first_encrypted = clean
            .records_in(d)
            .find(|r| r.verdict == Verdict::Ok)
            .unwrap()
            .offset;
        let at = first_encrypted + at.index(bytes.len() - first_encrypted);
        bytes[at] ^= 1 << bit;
        let view = if in_server {
            decode(&cap.c2s, &bytes, |r| log.master_secret(r))
        } else {
            decode(&bytes, &cap.s2c, |r| log.master_secret(r))
        };
        if let Some(r) = view.record_at(d, at) {
            prop_assert!(r.verdict != Verdict::Ok, "byte {at}: {r:?}");
        }
        prop_assert!(view.records_in(d).filter(|r| r.offset > at).all(|r| r.verdict != Verdict::Ok));
    }

    #[test]
    fn any_cut_never_panics(c_cut in any::<prop::sample::Index>(), s_cut in any::<prop::sample::Index>()) {
        let cap = sample();
        let log = KeyMaterial::parse(&cap.keylog.0).unwrap();
        let c = &cap.c2s[..c_cut.index(cap.c2s.len() + 1)];
        let s = &cap.s2c[..s_cut.index(cap.s2c.len() + 1)];
        let view = decode(c, s, |r| log.master_secret(r));
        prop_assert!(view.errors.is_empty());
        prop_assert!(view.records.iter().all(|r| !matches!(r.verdict, Verdict::Failed(_))));
    }
}

/// A TCP stream that keeps what it read and what it wrote.
#[derive(Debug)]
struct Recorded {
    tcp: std::net::TcpStream,
    read: Vec<u8>,
    written: Vec<u8>,
}

impl Read for Recorded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.read.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recorded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// `openssl s_client` (its own key log file, `-sess_out` then `-sess_in`) against an
/// in-process OpenSSL server whose socket is recorded: the first session is a full handshake,
/// the second an abbreviated one (ticket resumption); both decode.
#[test]
fn openssl_s_client_sessions_decode_with_its_key_log_file() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    const TEST: &str = "openssl_s_client_sessions_decode_with_its_key_log_file";
    if !openssl_present(TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keylog = dir.path().join("keylog.txt");
    let session = dir.path().join("session.pem");
    let mut b = SslContext::builder(SslMethod::tls_server()).unwrap();
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_cipher_list("PSK-AES128-CBC-SHA256").unwrap();
    b.set_psk_server_callback(|_, _, psk| {
        psk[..PSK.len()].copy_from_slice(&PSK);
        Ok(PSK.len())
    });
    let ctx = b.build();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();

    let mut captures = Vec::new();
    for sess in ["-sess_out", "-sess_in"] {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-tls1_2",
            ])
            .args([
                "-cipher",
                "PSK-AES128-CBC-SHA256",
                "-psk",
                &hex::encode(PSK),
            ])
            .arg("-keylogfile")
            .arg(&keylog)
            .arg(sess)
            .arg(&session)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let tcp = loop {
            match listener.accept() {
                Ok((tcp, _)) => break tcp,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "s_client did not connect");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        tcp.set_nonblocking(false).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let recorded = Recorded {
            tcp,
            read: Vec::new(),
            written: Vec::new(),
        };
        let mut server = Ssl::new(&ctx).unwrap().accept(recorded).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello over BIP\n").unwrap();
        drop(stdin);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = server.ssl_read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        let _ = server.shutdown();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(got, b"hello over BIP\n");
        let r = server.get_ref();
        captures.push((
            r.read.clone(),
            r.written.clone(),
            server.ssl().session_reused(),
        ));
    }

    let log = KeyMaterial::parse(&std::fs::read_to_string(&keylog).unwrap()).unwrap();
    for (i, (c2s, s2c, reused)) in captures.iter().enumerate() {
        let view = decode(c2s, s2c, |r| log.master_secret(r));
        assert_eq!(view.errors, vec![], "session {i}");
        assert_eq!(view.note, None, "session {i}");
        assert_eq!(view.handshake_verified, Some(true), "session {i}");
        assert!(view.encrypt_then_mac);
        assert_eq!(application_data(&view, C2S), b"hello over BIP\n");
        assert!(view
            .records
            .iter()
            .all(|r| matches!(r.verdict, Verdict::Clear | Verdict::Ok)));
        let done = view
            .records_in(S2C)
            .any(|r| r.describe().contains("server_hello_done"));
        assert_eq!(*reused, !done, "session {i}");
        assert_eq!(*reused, i == 1, "session {i}: resumed?");
        // With the PSK and no key log: the full handshake opens (s_client's default identity);
        // the resumed one has no ClientKeyExchange and keeps the first session's secret.
        let psk = KeyMaterial {
            psks: vec![crate::keylog::TlsPsk {
                identity: Some(b"Client_identity".to_vec()),
                psk: zeroize::Zeroizing::new(PSK.to_vec()),
                source: "s_client's -psk".into(),
            }],
            ..KeyMaterial::default()
        };
        let view = decode_with(c2s, s2c, &psk);
        if *reused {
            assert_eq!(view.psk_identity, None);
            assert_eq!(view.secret_source, None);
            assert!(view.note.unwrap().contains("no readable ClientKeyExchange"));
            assert!(view
                .records
                .iter()
                .all(|r| matches!(r.verdict, Verdict::Clear | Verdict::NoKey)));
        } else {
            assert_eq!(view.psk_identity.as_deref(), Some(&b"Client_identity"[..]));
            assert_eq!(
                view.secret_source,
                Some(SecretSource::Psk("s_client's -psk".into()))
            );
            assert_eq!(view.handshake_verified, Some(true));
            assert_eq!(application_data(&view, C2S), b"hello over BIP\n");
        }
    }
}
