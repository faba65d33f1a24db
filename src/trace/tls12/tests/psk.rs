//! Sessions opened with the pre-shared key and no key log (RFC 4279 §2, RFC 7627): every
//! suite with and without the extended master secret, the derived master secret against the
//! one OpenSSL's keylog callback gave, wrong PSKs, the choice among several secrets, and any
//! change to the clear handshake never panicking.

use super::*;
use crate::trace::tls12::psk::Derivation;

/// PSKs to try, whatever the identity; no key log.
struct Psks(Vec<Vec<u8>>);

impl Secrets for Psks {
    fn psks(&self, _identity: &[u8]) -> Vec<Psk> {
        self.0
            .iter()
            .enumerate()
            .map(|(i, k)| Psk {
                source: format!("test key {i}"),
                key: Zeroizing::new(k.clone()),
            })
            .collect()
    }
}

/// A key log (one master secret for every session) and PSKs.
struct Both(Vec<u8>, Psks);

impl Secrets for Both {
    fn master_secret(&self, _client_random: &[u8; 32]) -> Option<Zeroizing<Vec<u8>>> {
        Some(Zeroizing::new(self.0.clone()))
    }

    fn psks(&self, identity: &[u8]) -> Vec<Psk> {
        self.1.psks(identity)
    }
}

fn psk_only(cap: &Capture) -> TlsView {
    decode_with(&cap.c2s, &cap.s2c, &Psks(vec![PSK.to_vec()]))
}

/// The master secret OpenSSL's keylog callback gave for the capture.
fn logged_master(cap: &Capture) -> Vec<u8> {
    let log = KeyMaterial::parse(&cap.keylog.0).unwrap();
    let view = psk_only(cap);
    log.master_secret(&view.client_random.unwrap()).unwrap()
}

/// The master secret derived from `psk` and the capture's clear handshake.
fn derived_master(cap: &Capture, psk: &[u8]) -> Vec<u8> {
    let c_hs = record::clear_handshake(&record::frame(&cap.c2s).0).unwrap();
    let s_hs = record::clear_handshake(&record::frame(&cap.s2c).0).unwrap();
    let ch = record::client_hello(c_hs[0].body()).unwrap();
    let sh = record::server_hello(s_hs[0].body()).unwrap();
    let suite = cipher::find_suite(sh.suite).unwrap();
    Derivation::new(
        suite,
        sh.extended_master_secret,
        &c_hs,
        &s_hs,
        &ch.random,
        &sh.random,
    )
    .unwrap()
    .master_secret(psk)
    .unwrap()
    .to_vec()
}

/// Every suite read, with and without the extended master secret.
fn setups() -> Vec<(Setup, u16)> {
    let suites = [
        (setup("PSK-AES128-GCM-SHA256", true), 0x00A8),
        (setup("PSK-AES128-CBC-SHA256", true), 0x00AE),
        (setup("PSK-AES128-CBC-SHA256", false), 0x00AE),
        (setup("PSK-AES128-CBC-SHA", true), 0x008C),
        (setup("PSK-AES128-CBC-SHA", false), 0x008C),
        (setup("PSK-AES256-GCM-SHA384", true), 0x00A9),
        (setup("PSK-AES256-CBC-SHA384", false), 0x00AF),
        (setup("PSK-AES256-CBC-SHA", true), 0x008D),
        (setup("PSK-NULL-SHA256:@SECLEVEL=0", true), 0x00B0),
    ];
    suites
        .into_iter()
        .flat_map(|(s, id)| [(s, id), (Setup { ems: false, ..s }, id)])
        .collect()
}

#[test]
fn every_suite_opens_with_the_psk_alone() {
    for (s, id) in setups() {
        let cap = run(s);
        let view = psk_only(&cap);
        assert_clean(s, id, &cap, &view);
        assert_eq!(
            view.secret_source,
            Some(SecretSource::Psk("test key 0".into())),
            "{s:?}"
        );
        // The derivation gives exactly the master secret OpenSSL used.
        let logged = logged_master(&cap);
        assert_eq!(logged.len(), 48);
        assert_eq!(derived_master(&cap, &PSK), logged, "{s:?}");
    }
}

/// RFC 7627 changes the master secret: the same PSK and randoms without the session hash give
/// another one, which does not open an extended-master-secret session.
#[test]
fn the_extended_master_secret_uses_the_session_hash() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let c_hs = record::clear_handshake(&record::frame(&cap.c2s).0).unwrap();
    let s_hs = record::clear_handshake(&record::frame(&cap.s2c).0).unwrap();
    let view = psk_only(&cap);
    let (cr, sr) = (view.client_random.unwrap(), view.server_random.unwrap());
    let suite = cipher::find_suite(0x00A8).unwrap();
    let plain = Derivation::new(suite, false, &c_hs, &s_hs, &cr, &sr)
        .unwrap()
        .master_secret(&PSK)
        .unwrap();
    assert_ne!(plain.to_vec(), logged_master(&cap));
    let view = decode(&cap.c2s, &cap.s2c, |_| Some(plain.to_vec()));
    assert!(matches!(
        view.records_in(C2S).nth(3).unwrap().verdict,
        Verdict::Failed(_)
    ));
}

#[test]
fn a_wrong_psk_fails_each_finished() {
    for s in [
        setup("PSK-AES128-GCM-SHA256", true),
        setup("PSK-AES128-CBC-SHA256", false),
        Setup {
            ems: false,
            ..setup("PSK-AES128-CBC-SHA", true)
        },
    ] {
        let cap = run(s);
        let mut wrong = PSK.to_vec();
        wrong[15] ^= 1;
        for key in [wrong, vec![0x42; 32], Vec::new()] {
            let view = decode_with(&cap.c2s, &cap.s2c, &Psks(vec![key]));
            assert_eq!(view.errors, vec![]);
            assert_eq!(view.handshake_verified, None);
            for d in [C2S, S2C] {
                let encrypted: Vec<&TlsRecord> = view
                    .records_in(d)
                    .skip_while(|r| r.verdict == Verdict::Clear)
                    .collect();
                assert!(
                    matches!(encrypted[0].verdict, Verdict::Failed(_)),
                    "{s:?} {d}: {:?}",
                    encrypted[0]
                );
                assert!(encrypted[1..]
                    .iter()
                    .all(|r| matches!(r.verdict, Verdict::NotDecrypted(_))));
            }
            assert!(application_data(&view, C2S).is_empty());
        }
    }
}

#[test]
fn the_key_log_comes_first_and_a_psk_that_opens_is_kept() {
    let cap = run(setup("PSK-AES128-CBC-SHA256", true));
    let logged = logged_master(&cap);
    let right = PSK.to_vec();
    let wrong = vec![0x42; 16];
    // The key log's secret opens: it is used, the PSKs are not needed.
    let view = decode_with(
        &cap.c2s,
        &cap.s2c,
        &Both(logged, Psks(vec![wrong.clone(), right.clone()])),
    );
    assert_eq!(view.secret_source, Some(SecretSource::KeyLog));
    assert_eq!(view.note, None);
    assert_eq!(view.handshake_verified, Some(true));
    // A wrong first PSK: the second, which opens the client's Finished, is kept.
    let view = decode_with(
        &cap.c2s,
        &cap.s2c,
        &Psks(vec![wrong.clone(), right.clone()]),
    );
    assert_eq!(
        view.secret_source,
        Some(SecretSource::Psk("test key 1".into()))
    );
    assert_eq!(view.note, None);
    assert_eq!(view.handshake_verified, Some(true));
    assert_eq!(application_data(&view, S2C), cap.server_sent);
    // A key log secret that does not open the session gives way to the PSK, and says so.
    let view = decode_with(&cap.c2s, &cap.s2c, &Both(vec![7; 48], Psks(vec![right])));
    assert_eq!(
        view.secret_source,
        Some(SecretSource::Psk("test key 0".into()))
    );
    assert!(view.note.unwrap().contains("does not open"));
    assert_eq!(view.handshake_verified, Some(true));
    // Nothing opens: the first is used, its records fail, and the note lists what was tried.
    let view = decode_with(&cap.c2s, &cap.s2c, &Both(vec![7; 48], Psks(vec![wrong])));
    assert_eq!(view.secret_source, Some(SecretSource::KeyLog));
    let note = view.note.unwrap();
    assert!(
        note.contains("no secret tried") && note.contains("test key 0"),
        "{note}"
    );
    assert_eq!(view.handshake_verified, None);
}

#[test]
fn no_psk_for_the_identity_is_no_key_and_names_it() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let view = decode_with(&cap.c2s, &cap.s2c, &Psks(Vec::new()));
    assert!(view
        .records
        .iter()
        .all(|r| matches!(r.verdict, Verdict::Clear | Verdict::NoKey)));
    assert_eq!(view.secret_source, None);
    let note = view.note.unwrap();
    assert!(note.contains("no master secret in the key log"), "{note}");
    assert!(
        note.contains(&format!(
            "no PSK for identity {}",
            str::from_utf8(IDENTITY).unwrap()
        )),
        "{note}"
    );
    // A PSK RFC 4279 cannot carry is refused, not used.
    let view = decode_with(&cap.c2s, &cap.s2c, &Psks(vec![vec![1; 70_000]]));
    assert!(view.note.unwrap().contains("70000"));
    assert!(view
        .records
        .iter()
        .all(|r| matches!(r.verdict, Verdict::Clear | Verdict::NotDecrypted(_))));
}

/// RFC 4279 §2: ClientKeyExchange and ServerKeyExchange are `opaque psk_identity<0..2^16-1>`
/// and nothing else in the plain PSK suites.
#[test]
fn psk_identities_are_read_strictly() {
    assert_eq!(
        record::psk_identity(&[0, 3, b'a', b'b', b'c'], "x").unwrap(),
        b"abc"
    );
    assert_eq!(record::psk_identity(&[0, 0], "x").unwrap(), b"");
    assert!(record::psk_identity(&[0, 3, b'a', b'b'], "x")
        .unwrap_err()
        .contains("needs 3 bytes"));
    assert!(record::psk_identity(&[0, 1, b'a', 0], "ServerKeyExchange")
        .unwrap_err()
        .contains("ServerKeyExchange: 1 trailing bytes"));
    assert!(record::psk_identity(&[0], "x").is_err());
}

/// A ServerKeyExchange with an identity hint (OpenSSL's server sends none unless told; here
/// one is put into the captured server flight): the hint is listed, and as the Finished
/// messages do not cover it, the check fails.
#[test]
fn a_server_hint_is_listed() {
    let cap = run(setup("PSK-AES128-GCM-SHA256", true));
    let first = 5 + usize::from(u16::from_be_bytes([cap.s2c[3], cap.s2c[4]]));
    let hint = b"SM-SR hint";
    let body = [&[0, u8::try_from(hint.len()).unwrap()][..], hint].concat();
    let message = [&[12, 0, 0, u8::try_from(body.len()).unwrap()][..], &body].concat();
    let record = [
        &[22, 3, 3, 0, u8::try_from(message.len()).unwrap()][..],
        &message,
    ]
    .concat();
    let s2c = [&cap.s2c[..first], &record, &cap.s2c[first..]].concat();
    let log = KeyMaterial::parse(&cap.keylog.0).unwrap();
    let view = decode(&cap.c2s, &s2c, |r| log.master_secret(r));
    assert_eq!(view.psk_identity_hint.as_deref(), Some(&hint[..]));
    assert_eq!(view.psk_identity.as_deref(), Some(IDENTITY));
    assert_eq!(view.handshake_verified, Some(false));
    assert!(view
        .records_in(S2C)
        .nth(1)
        .unwrap()
        .describe()
        .contains("server_key_exchange"));
}

#[test]
fn identities_print_as_text_or_hex() {
    assert_eq!(printable(b"Client_identity"), "Client_identity");
    assert_eq!(printable(b"PSK Identity 123"), "PSK Identity 123");
    assert_eq!(printable(&[0xDE, 0xAD, 0x0A]), "0xDEAD0A");
    assert_eq!(printable(b""), "(empty)");
    let p = Psk {
        source: "s".into(),
        key: Zeroizing::new(PSK.to_vec()),
    };
    assert!(!format!("{p:?}").contains("0, 1, 2"), "{p:?}");
}

proptest! {
    /// Any byte of either direction's clear handshake changed: the decoder with a PSK never
    /// panics, and a changed handshake message never passes the Finished check.
    #[test]
    fn a_flip_in_the_clear_handshake_never_panics_with_a_psk(
        in_server in any::<bool>(), at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let cap = sample();
        let d = if in_server { S2C } else { C2S };
        let mut bytes = stream(cap, d).to_vec();
        let clean = psk_only(cap);
        let ccs = clean
            .records_in(d)
            .find(|r| r.content_type == 20)
            .unwrap()
            .offset;
        let at = at.index(ccs);
        bytes[at] ^= 1 << bit;
        let secrets = Psks(vec![PSK.to_vec()]);
        let view = if in_server {
            decode_with(&cap.c2s, &bytes, &secrets)
        } else {
            decode_with(&bytes, &cap.s2c, &secrets)
        };
        for r in &view.records {
            let _ = r.describe();
        }
        // Outside the record headers, every clear byte is in a handshake message the
        // Finished messages cover.
        let in_header = clean
            .records_in(d)
            .any(|r| r.offset <= at && at < r.offset + 5);
        if !in_header {
            prop_assert_ne!(view.handshake_verified, Some(true), "byte {}", at);
        }
    }
}
