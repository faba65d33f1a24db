use super::*;
use crate::gp::Aid;
use crate::tlv::Tag;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// EID of the SGP.02 examples used across the project's tests.
const EID: &str = "89001012012341234012345678901224";

fn eid() -> [u8; 16] {
    h(EID).try_into().unwrap()
}

// ---- trigger -------------------------------------------------------------------------------

/// pySim `pySim/global_platform/http.py` `_test_de_encode` vectors (SCP81-BIP.md §2.6), put
/// together in one `81 { 83 { 85, 89 { 8A, 8C } } }` trigger. Lengths by hand: `85` TLV 10
/// bytes, `8A` 12, `8C` 24, so `89 24` (36) → 38 bytes, `83 30` (48) → 50 bytes, `81 32`.
const PYSIM_85: &str = "850804deadbeef020040";
const PYSIM_8A: &str = "8a0a61646d696e2e686f7374";
const PYSIM_8C: &str = "8c1668747470733a2f2f61646d696e2e686f73742f757269";

#[test]
fn pysim_vectors_in_a_full_trigger() {
    let bytes = h(&format!("8132 8330 {PYSIM_85} 8924 {PYSIM_8A} {PYSIM_8C}"));
    let t = AdminTrigger::parse(&bytes).unwrap();
    assert_eq!(
        t,
        AdminTrigger {
            security: Some(TriggerSecurity {
                psk_identity: h("deadbeef"),
                kvn: 0x00,
                kid: 0x40,
            }),
            admin_host: Some("admin.host".into()),
            admin_uri: Some("https://admin.host/uri".into()),
            ..AdminTrigger::default()
        }
    );
    assert!(!t.uses_stored_defaults());
    assert_eq!(t.to_bytes().unwrap(), bytes);
}

#[test]
fn pysim_security_value_reading() {
    // `85 08 | 04 DEADBEEF | 02 00 40`: identity LV, then the key identification LV (KVN, KID).
    let s = TriggerSecurity::parse_value(&h("04deadbeef020040")).unwrap();
    assert_eq!((s.kvn, s.kid), (0x00, 0x40));
    assert_eq!(s.to_value().unwrap(), h("04deadbeef020040"));
    // The live UICC's stored `02 40 01` = KVN 40, KID 01 (SCP81-BIP.md §2.6).
    let s = TriggerSecurity::parse_value(&h("00 024001")).unwrap();
    assert_eq!((s.kvn, s.kid, s.psk_identity.len()), (0x40, 0x01, 0));
    // An optional hash-type byte is accepted and not kept.
    let s = TriggerSecurity::parse_value(&h("04deadbeef02004001")).unwrap();
    assert_eq!(s.to_value().unwrap(), h("04deadbeef020040"));
    for bad in [
        "",
        "05deadbeef020040",
        "04deadbeef",
        "04deadbeef0200",
        "04deadbeef030040",
    ] {
        assert!(
            matches!(
                TriggerSecurity::parse_value(&h(bad)),
                Err(Scp81Error::Invalid {
                    field: "security parameters (85)",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert!(TriggerSecurity::parse_value(&h("04deadbeef0200400102")).is_err());
}

#[test]
fn stored_defaults_form() {
    let t = AdminTrigger::parse(&h("8100")).unwrap();
    assert_eq!(t, AdminTrigger::default());
    assert!(t.uses_stored_defaults());
    assert_eq!(AdminTrigger::default().to_bytes().unwrap(), h("8100"));
    // An empty 83 says the same.
    assert!(AdminTrigger::parse(&h("81028300"))
        .unwrap()
        .uses_stored_defaults());
    assert_eq!(TAG_TRIGGER, 0x81);
}

#[test]
fn connection_parameters_over_127_bytes_use_the_81_length_form() {
    // njiwa's `84` contents (SCP81-BIP.md §2.6): default bearer, buffer 0578, TCP 8080 to
    // 127.0.0.1, and an alpha identifier making the value 130 bytes.
    let mut connection = h("350103 39020578 3C03021F90 3E05217F000001");
    connection.extend(h("056D"));
    connection.extend(std::iter::repeat_n(b'A', 0x6D));
    assert_eq!(connection.len(), 130);
    let t = AdminTrigger {
        connection: Some(connection.clone()),
        retry: Some(h("00012503001000")),
        agent_id: Some(admin_from(&eid(), &Aid::isd_r())),
        ..AdminTrigger::default()
    };
    let bytes = t.to_bytes().unwrap();
    // 84: 3 + 130 = 133; 86: 2 + 7 = 9; the agent id is 90 characters, so 8B takes 92 and
    // 89 94; 83 value 133 + 9 + 94 = 236 = 0xEC; 81 value 3 + 236 = 239 = 0xEF.
    assert_eq!(bytes[..9], h("8181EF 8381EC 848182")[..]);
    assert_eq!(bytes.len(), 3 + 239);
    assert_eq!(AdminTrigger::parse(&bytes).unwrap(), t);
}

#[test]
fn trigger_skips_unmodelled_tags_and_rejects_bad_ones() {
    // A5 (extended security) inside 83 and B3 { D6, FA } beside it are skipped.
    // Lengths: 83 value 10 + 4 + 4 = 18; B3 value 4 + 2 = 6; 81 value 20 + 8 = 28.
    let bytes = h(&format!(
        "811C 8312 {PYSIM_85} A5020102 8602 0001 B306 D6026162 FA00"
    ));
    let t = AdminTrigger::parse(&bytes).unwrap();
    assert_eq!(t.retry, Some(h("0001")));
    assert_eq!(t.security.as_ref().unwrap().kid, 0x40);
    assert_eq!(
        t.to_bytes().unwrap(),
        h(&format!("8110 830E {PYSIM_85} 86020001"))
    );

    let err = |s: &str| AdminTrigger::parse(&h(s)).unwrap_err();
    assert!(matches!(
        err("810000"),
        Scp81Error::Tlv {
            what: "trigger (81)",
            source: crate::tlv::TlvError::TrailingBytes { .. }
        }
    ));
    assert_eq!(
        err("8200"),
        Scp81Error::UnexpectedTag {
            what: "administration session triggering parameters",
            expected: Tag::new(0x81),
            found: Tag::new(0x82),
        }
    );
    assert_eq!(
        err("8106 8302 8600 8300"),
        Scp81Error::DuplicateTag {
            within: "trigger (81)",
            tag: Tag::new(0x83),
        }
    );
    assert_eq!(
        err("8106 8304 8600 8600"),
        Scp81Error::DuplicateTag {
            within: "admin session parameters (83)",
            tag: Tag::new(0x86),
        }
    );
    assert!(matches!(err("8103 8301 84"), Scp81Error::Tlv { .. }));
    // 8A with a CR LF would split the Host header; 8C not UTF-8.
    assert!(matches!(
        err("8108 8306 8904 8A02 0D0A"),
        Scp81Error::Invalid {
            field: "admin host (8A)",
            ..
        }
    ));
    assert_eq!(
        err("8107 8305 8903 8C01 FF"),
        Scp81Error::NotUtf8 {
            field: "admin URI (8C)"
        }
    );
    // Writing refuses what reading refuses.
    let t = AdminTrigger {
        admin_uri: Some("/a\nb".into()),
        ..AdminTrigger::default()
    };
    assert!(t.to_bytes().is_err());
    let t = AdminTrigger {
        security: Some(TriggerSecurity {
            psk_identity: vec![0; 256],
            kvn: 0x40,
            kid: 1,
        }),
        ..AdminTrigger::default()
    };
    assert!(matches!(t.to_bytes(), Err(Scp81Error::TooLong { .. })));
    let t = AdminTrigger {
        connection: Some(vec![0; 0x1_0000]),
        ..AdminTrigger::default()
    };
    assert!(matches!(t.to_bytes(), Err(Scp81Error::TooLong { .. })));
}

// ---- PSK identity --------------------------------------------------------------------------

#[test]
fn psk_identity_text_by_hand() {
    let id = PskIdentity {
        eid: eid(),
        isd_r: Aid::isd_r(),
        kid: 0x01,
        kvn: 0x40,
    };
    // 80 01 02 | 81 10 <EID> | 4F 10 <ISD-R AID> | 82 01 01 | 83 01 40, upper-case hex.
    let expected = "800102\
                    811089001012012341234012345678901224\
                    4F10A0000005591010FFFFFFFF8900000100\
                    820101\
                    830140";
    assert_eq!(id.to_text(), expected);
    assert_eq!(id.to_bytes(), expected.as_bytes());
    assert_eq!(PskIdentity::parse(expected.as_bytes()).unwrap(), id);
    assert_eq!(
        PskIdentity::parse(expected.to_lowercase().as_bytes()).unwrap(),
        id
    );
    // A 5-byte AID works too.
    let short = PskIdentity {
        isd_r: Aid::new(&h("A000000559")).unwrap(),
        ..id.clone()
    };
    assert_eq!(PskIdentity::parse(&short.to_bytes()).unwrap(), short);
}

#[test]
fn psk_identity_errors_name_the_part() {
    let good = PskIdentity {
        eid: eid(),
        isd_r: Aid::isd_r(),
        kid: 0x01,
        kvn: 0x40,
    }
    .to_text();
    let parse = |s: &str| PskIdentity::parse(s.as_bytes()).unwrap_err();
    assert_eq!(
        parse("80010G"),
        Scp81Error::NotHex {
            field: "PSK identity",
            offset: 5
        }
    );
    assert!(matches!(parse("80010"), Scp81Error::Invalid { .. }));
    assert!(matches!(
        parse(&good.replacen("800102", "800101", 1)),
        Scp81Error::Invalid {
            field: "PSK identity format (80)",
            ..
        }
    ));
    assert!(matches!(
        parse("800102 810F".replace(' ', "").as_str()),
        Scp81Error::Tlv { .. }
    ));
    assert_eq!(
        parse(&format!("800102810F{}", &EID[..30])),
        Scp81Error::BadLength {
            field: "PSK identity EID (81)",
            len: 15,
            expected: "16"
        }
    );
    assert_eq!(
        parse(good.trim_end_matches("830140")),
        Scp81Error::MissingTag {
            what: "PSK identity KVN (83)",
            tag: Tag::new(0x83)
        }
    );
    assert!(matches!(
        parse(&good.replace("820101830140", "830140820101")),
        Scp81Error::UnexpectedTag { .. }
    ));
    assert!(matches!(
        parse(&format!("{good}8400")),
        Scp81Error::Invalid { .. }
    ));
    assert!(matches!(
        parse(&good.replace("820101", "82020101")),
        Scp81Error::BadLength {
            field: "PSK identity KID (82)",
            ..
        }
    ));
}

// ---- X-Admin-From / X-Admin-Targeted-Application -------------------------------------------

#[test]
fn admin_from_and_targeted_round_trip() {
    let from = admin_from(&eid(), &Aid::isd_r());
    assert_eq!(
        from,
        "//se-id/eid/89001012012341234012345678901224;//aa-id/aid/A000000559/1010FFFFFFFF8900000100"
    );
    assert_eq!(parse_admin_from(&from).unwrap(), (eid(), Aid::isd_r()));
    assert!(matches!(
        parse_admin_from(&from.replace("//se-id/eid/", "//SE-ID/EID/")),
        Err(Scp81Error::BadForm {
            field: "X-Admin-From",
            form: "//se-id/eid/<EID>;//aa-id/aid/<RID>/<PIX>",
            ..
        })
    ));
    let lower_hex = format!(
        "//se-id/eid/{};//aa-id/aid/a000000559/1010ffffffff8900000100",
        EID.to_lowercase()
    );
    assert_eq!(parse_admin_from(&lower_hex).unwrap().1, Aid::isd_r());

    // SGP02.md §6.2 example value.
    let target = targeted_application(&Aid::isd_r());
    assert_eq!(target, "//aid/A000000559/1010FFFFFFFF8900000100");
    assert_eq!(parse_targeted_application(&target).unwrap(), Aid::isd_r());
    let isd_p = Aid::isd_p(0x10).unwrap();
    assert_eq!(
        parse_targeted_application(&targeted_application(&isd_p)).unwrap(),
        isd_p
    );
    // A RID-only AID: empty PIX, written with the slash, read with or without it.
    let rid = Aid::new(&h("A000000559")).unwrap();
    assert_eq!(targeted_application(&rid), "//aid/A000000559/");
    assert_eq!(parse_targeted_application("//aid/A000000559").unwrap(), rid);

    assert!(matches!(
        parse_targeted_application("/aid/A000000559/10"),
        Err(Scp81Error::BadForm { .. })
    ));
    assert!(matches!(
        parse_targeted_application("//aid/A0000005/5910"),
        Err(Scp81Error::BadLength { len: 4, .. })
    ));
    assert!(matches!(
        parse_targeted_application("//aid/A000000559/00112233445566778899AABB"),
        Err(Scp81Error::TooLong { len: 12, .. })
    ));
    assert!(matches!(
        parse_admin_from("//se-id/eid/8900;//aa-id/aid/A000000559/10"),
        Err(Scp81Error::BadLength { len: 2, .. })
    ));
    assert!(matches!(
        parse_admin_from(&from.replace("1010FF", "1010XF")),
        Err(Scp81Error::NotHex { .. })
    ));
}

// ---- HTTP: exact bytes ----------------------------------------------------------------------

const FROM: &str =
    "//se-id/eid/89001012012341234012345678901224;//aa-id/aid/A000000559/1010FFFFFFFF8900000100";

fn first_post() -> AdminRequest {
    AdminRequest {
        uri: "/gsma/adminagent".into(),
        host: "smsr.example".into(),
        from: FROM.into(),
        script_status: None,
        resume: false,
        body: Vec::new(),
    }
}

/// The traced exchange of SCP81-BIP.md §2.4: GET DATA `00 85` answered `6A 88`.
fn script_response() -> AdminResponse {
    AdminResponse::Script {
        next_uri: "/gsma/adminagent?cmd=2".into(),
        targeted: Some(Aid::isd_r()),
        body: h("ae80 2205 80ca008500 0000"),
    }
}

fn result_post() -> AdminRequest {
    AdminRequest {
        uri: "/gsma/adminagent?cmd=2".into(),
        script_status: Some(ScriptStatus::Ok),
        body: h("af80 2302 6a88 0000"),
        ..first_post()
    }
}

#[test]
fn request_bytes() {
    let expected = format!(
        "POST /gsma/adminagent HTTP/1.1\r\n\
         Host: smsr.example\r\n\
         X-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
         X-Admin-From: {FROM}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    assert_eq!(
        String::from_utf8(first_post().to_bytes()).unwrap(),
        expected
    );

    let mut expected = format!(
        "POST /gsma/adminagent?cmd=2 HTTP/1.1\r\n\
         Host: smsr.example\r\n\
         X-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
         X-Admin-From: {FROM}\r\n\
         Content-Type: application/vnd.globalplatform.card-content-mgt-response;version=1.0\r\n\
         X-Admin-Script-Status: ok\r\n\
         Content-Length: 8\r\n\r\n"
    )
    .into_bytes();
    expected.extend(h("af80 2302 6a88 0000"));
    assert_eq!(result_post().to_bytes(), expected);

    let resumed = AdminRequest {
        resume: true,
        script_status: Some(ScriptStatus::SecurityError),
        from: String::new(),
        ..first_post()
    };
    let text = String::from_utf8(resumed.to_bytes()).unwrap();
    assert!(text.contains("X-Admin-Script-Status: security-error\r\nX-Admin-Resume: true\r\n"));
    assert!(!text.contains("X-Admin-From"));
}

#[test]
fn response_bytes() {
    let mut expected = b"HTTP/1.1 200 OK\r\n\
        X-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
        X-Admin-Next-URI: /gsma/adminagent?cmd=2\r\n\
        X-Admin-Targeted-Application: //aid/A000000559/1010FFFFFFFF8900000100\r\n\
        Content-Type: application/vnd.globalplatform.card-content-mgt;version=1.0\r\n\
        Transfer-Encoding: chunked\r\n\r\n\
        B\r\n"
        .to_vec();
    expected.extend(h("ae80 2205 80ca008500 0000"));
    expected.extend(b"\r\n0\r\n\r\n");
    assert_eq!(script_response().to_bytes(), expected);
    assert_eq!(
        AdminResponse::End.to_bytes(),
        b"HTTP/1.1 204 No Content\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\r\n"
    );
    // No Next-URI, no body: the header is left out and the body is the last chunk alone.
    let last = AdminResponse::Script {
        next_uri: String::new(),
        targeted: None,
        body: Vec::new(),
    };
    let text = String::from_utf8(last.to_bytes()).unwrap();
    assert!(!text.contains("Next-URI"));
    assert!(text.ends_with("chunked\r\n\r\n0\r\n\r\n"));
    assert_eq!(read_response(&last.to_bytes(), 7), last);
}

#[test]
fn script_status_text() {
    for s in [
        ScriptStatus::Ok,
        ScriptStatus::UnknownApplication,
        ScriptStatus::NotASecurityDomain,
        ScriptStatus::SecurityError,
    ] {
        assert_eq!(ScriptStatus::parse(s.as_str()).unwrap(), s);
    }
    assert_eq!(
        ScriptStatus::parse("not-a-security-domain").unwrap(),
        ScriptStatus::NotASecurityDomain
    );
    assert!(matches!(
        ScriptStatus::parse("fine"),
        Err(Scp81Error::BadHeaderValue {
            name: "X-Admin-Script-Status",
            ..
        })
    ));
}

#[test]
fn header_values_cannot_break_the_framing() {
    let r = AdminRequest {
        uri: "/a b\r\nX: y".into(),
        host: "h\r\nEvil: 1".into(),
        ..first_post()
    };
    let m = read_request(&r.to_bytes(), 1000);
    assert_eq!(m.uri, "/a%20b%0D%0AX:%20y");
    assert_eq!(m.host, "h  Evil: 1");
    assert_eq!(
        read_request(
            &AdminRequest {
                uri: String::new(),
                ..first_post()
            }
            .to_bytes(),
            1000
        )
        .uri,
        "/"
    );
}

// ---- HTTP: reading in pieces -----------------------------------------------------------------

fn read_all(bytes: &[u8], piece: usize, response: bool) -> HttpMessage {
    let mut r = MessageReader::new();
    let mut got = None;
    for (i, part) in bytes.chunks(piece).enumerate() {
        assert!(got.is_none(), "message complete before piece {i}");
        r.push(part);
        got = if response {
            r.next_response().unwrap()
        } else {
            r.next_request().unwrap()
        };
    }
    assert_eq!(r.buffered(), 0);
    got.expect("a whole message")
}

fn read_request(bytes: &[u8], piece: usize) -> AdminRequest {
    AdminRequest::from_message(&read_all(bytes, piece, false)).unwrap()
}

fn read_response(bytes: &[u8], piece: usize) -> AdminResponse {
    AdminResponse::from_message(&read_all(bytes, piece, true)).unwrap()
}

#[test]
fn messages_read_back_byte_by_byte_and_in_bip_pieces() {
    let big_body: Vec<u8> = (0..1500u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let requests = [
        first_post(),
        result_post(),
        AdminRequest {
            body: big_body.clone(),
            ..result_post()
        },
    ];
    let responses = [
        script_response(),
        AdminResponse::End,
        AdminResponse::Script {
            next_uri: "/n?x=1".into(),
            targeted: Some(Aid::isd_p(0x10).unwrap()),
            body: big_body,
        },
    ];
    for piece in [1, 237] {
        for q in &requests {
            assert_eq!(&read_request(&q.to_bytes(), piece), q);
        }
        for a in &responses {
            assert_eq!(&read_response(&a.to_bytes(), piece), a);
        }
    }
    let m = read_all(&first_post().to_bytes(), 1, false);
    assert_eq!(
        m.start_line,
        (
            "POST".to_owned(),
            "/gsma/adminagent".to_owned(),
            "HTTP/1.1".to_owned()
        )
    );
    assert_eq!(m.header("x-admin-from"), Some(FROM));
    assert_eq!(m.status(), None);
    let m = read_all(&AdminResponse::End.to_bytes(), 237, true);
    assert_eq!(m.status(), Some(204));
}

#[test]
fn pipelined_messages_in_one_push() {
    let first = first_post().to_bytes();
    let second = result_post().to_bytes();
    let mut r = MessageReader::new();
    r.push(&[first.clone(), second.clone()].concat());
    let a = r.next_request().unwrap().unwrap();
    assert_eq!(AdminRequest::from_message(&a).unwrap(), first_post());
    assert_eq!(r.buffered(), second.len());
    let b = r.next_request().unwrap().unwrap();
    assert_eq!(AdminRequest::from_message(&b).unwrap(), result_post());
    assert_eq!(r.buffered(), 0);
    assert_eq!(r.next_request().unwrap(), None);

    // Responses too, with an interim 100 Continue skipped and a 204's Content-Length ignored.
    let mut r = MessageReader::new();
    r.push(b"HTTP/1.1 100 Continue\r\n\r\n");
    r.push(&script_response().to_bytes());
    r.push(
        b"HTTP/1.1 204 No Content\r\n\
        X-Admin-Protocol: globalplatform-remote-admin/1.0\r\nContent-Length: 5\r\n\r\n",
    );
    let m = r.next_response().unwrap().unwrap();
    assert_eq!(AdminResponse::from_message(&m).unwrap(), script_response());
    let m = r.next_response().unwrap().unwrap();
    assert_eq!(AdminResponse::from_message(&m).unwrap(), AdminResponse::End);
    assert_eq!(r.next_response().unwrap(), None);
}

#[test]
fn chunked_body_with_extensions_trailers_and_bare_lf() {
    // A leading empty line, lower-case names, chunk extensions (one quoted with a `;`), a
    // chunk ended by a bare LF, two trailer fields.
    let wire = b"\r\nHTTP/1.1 200 OK\r\n\
        x-admin-protocol: globalplatform-remote-admin/1.0\r\n\
        x-admin-next-uri: /next\r\n\
        transfer-encoding: Chunked\r\n\r\n\
        4;name=value\r\nAE80\r\n\
        a ; quoted=\"x;y\"\r\n2205\n80CA0\n\
        6\r\n085000\r\n\
        0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n";
    for piece in [1, 5, 237] {
        let m = read_all(wire, piece, true);
        assert_eq!(m.body, b"AE802205\n80CA0085000");
        assert_eq!(
            AdminResponse::from_message(&m).unwrap(),
            AdminResponse::Script {
                next_uri: "/next".into(),
                targeted: None,
                body: m.body.clone(),
            }
        );
    }
    // A card that chunks its result POST (the 2019 trace of SCP81-BIP.md §2.2).
    let mut wire = b"POST /next HTTP/1.1\r\nHost: h\r\n\
        X-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
        Content-Type: application/vnd.globalplatform.card-content-mgt-response;version=1.0\r\n\
        X-Admin-Script-Status: ok\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n"
        .to_vec();
    wire.extend(h("af80 2302 6a88 0000"));
    wire.extend(b"\r\n0\r\n\r\n");
    let q = read_request(&wire, 1);
    assert_eq!(q.script_status, Some(ScriptStatus::Ok));
    assert_eq!(q.body, h("af80 2302 6a88 0000"));
    let mut r = MessageReader::new();
    r.push(&wire[..wire.len() - 3]);
    assert_eq!(r.next_request().unwrap(), None);
    let debug = format!("{r:?}");
    assert!(debug.contains("request body (8 bytes"), "{debug}");
    assert!(!debug.contains("af80"), "{debug}");
    // Bare LF throughout, Content-Length framing.
    let m = read_all(
        b"POST /x HTTP/1.1\nHost: h\n\
          X-Admin-Protocol: globalplatform-remote-admin/1.0\nContent-Length: 3\n\nabc",
        2,
        false,
    );
    assert_eq!(m.body, b"abc");
    assert_eq!(m.header("HOST"), Some("h"));
}

// ---- HTTP: errors ----------------------------------------------------------------------------

fn request_error(wire: &[u8]) -> Scp81Error {
    let mut r = MessageReader::new();
    r.push(wire);
    let e = r.next_request().unwrap_err();
    // Errors are final.
    r.push(b"POST / HTTP/1.1\r\n\r\n");
    assert_eq!(r.next_request().unwrap_err(), e);
    assert_eq!(r.buffered(), 0);
    e
}

#[test]
fn body_over_the_limit_fails_from_the_declared_length() {
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY_BYTES + 1
    );
    let mut r = MessageReader::new();
    r.push(head.as_bytes());
    r.push(b"abc");
    assert_eq!(
        r.next_request().unwrap_err(),
        Scp81Error::BodyTooLarge {
            declared: MAX_BODY_BYTES as u64 + 1,
            max: MAX_BODY_BYTES
        }
    );
    assert_eq!(r.buffered(), 0);
    // Exactly the limit is fine to announce.
    let mut r = MessageReader::new();
    r.push(format!("POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n").as_bytes());
    assert_eq!(r.next_request().unwrap(), None);
    // A chunk that would take the body over the limit, before its data arrives.
    let e = request_error(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n");
    assert!(matches!(e, Scp81Error::BodyTooLarge { declared, .. } if declared == 0x10_0001));
    let e = request_error(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    assert!(matches!(e, Scp81Error::BodyTooLarge { .. }));
}

#[test]
fn bodies_of_exactly_the_limit_read_in_bip_pieces() {
    let body: Vec<u8> = (0..MAX_BODY_BYTES)
        .map(|i| u8::try_from(i % 253).unwrap())
        .collect();
    let q = AdminRequest {
        body: body.clone(),
        ..result_post()
    };
    assert_eq!(read_request(&q.to_bytes(), 237), q);
    let a = AdminResponse::Script {
        next_uri: "/n".into(),
        targeted: None,
        body,
    };
    assert_eq!(read_response(&a.to_bytes(), 237), a);
}

#[test]
fn header_block_over_the_limit() {
    let mut r = MessageReader::new();
    r.push(b"POST / HTTP/1.1\r\n");
    let filler = format!("X-Filler: {}\r\n", "a".repeat(100));
    while r.buffered() <= MAX_HEADER_BYTES {
        assert_eq!(r.next_request().unwrap(), None);
        r.push(filler.as_bytes());
    }
    assert_eq!(
        r.next_request().unwrap_err(),
        Scp81Error::HeaderTooLarge {
            what: "start line and headers",
            max: MAX_HEADER_BYTES
        }
    );
    // Also when the block ends but is too long, and for one endless line.
    let long = format!(
        "POST / HTTP/1.1\r\nX: {}\r\n\r\n",
        "b".repeat(MAX_HEADER_BYTES)
    );
    assert!(matches!(
        request_error(long.as_bytes()),
        Scp81Error::HeaderTooLarge { .. }
    ));
    assert!(matches!(
        request_error(&vec![b'P'; MAX_HEADER_BYTES + 1]),
        Scp81Error::HeaderTooLarge { .. }
    ));
}

#[test]
fn framing_errors() {
    let te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert!(matches!(
        request_error(format!("{te}zz\r\n").as_bytes()),
        Scp81Error::BadChunk {
            fault: "chunk size is not hex digits",
            ..
        }
    ));
    assert!(matches!(
        request_error(format!("{te}+5\r\nabcde\r\n").as_bytes()),
        Scp81Error::BadChunk { .. }
    ));
    assert!(matches!(
        request_error(format!("{te}\r\n").as_bytes()),
        Scp81Error::BadChunk { .. }
    ));
    assert!(matches!(
        request_error(format!("{te}2\r\nabc\r\n").as_bytes()),
        Scp81Error::BadChunk {
            fault: "chunk data not followed by CRLF",
            ..
        }
    ));
    assert_eq!(
        request_error(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        ),
        Scp81Error::LengthConflict
    );
    assert!(matches!(
        request_error(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        Scp81Error::UnsupportedTransferEncoding { .. }
    ));
    for cl in ["abc", "-1", "", "1 2", "3, 4"] {
        assert!(
            matches!(
                request_error(
                    format!("POST / HTTP/1.1\r\nContent-Length: {cl}\r\n\r\n").as_bytes()
                ),
                Scp81Error::BadContentLength { .. }
            ),
            "{cl}"
        );
    }
    // Equal repeated values are one length.
    let mut r = MessageReader::new();
    r.push(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-length: 2, 2\r\n\r\nokPOST");
    assert_eq!(r.next_request().unwrap().unwrap().body, b"ok");
    assert_eq!(r.buffered(), 4);

    for (wire, what) in [
        (&b"POST /x\r\n\r\n"[..], "start line"),
        (b"POST /x HTTP/2.0\r\n\r\n", "start line"),
        (b"PO ST /x HTTP/1.1\r\n\r\n", "start line"),
        (b"POST /x HTTP/1.1\r\n folded\r\n\r\n", "header"),
        (b"POST /x HTTP/1.1\r\nNo colon\r\n\r\n", "header"),
        (b"POST /x HTTP/1.1\r\nBad name: v\r\n\r\n", "header"),
        (b"POST /x HTTP/1.1\r\nA: b\rc\r\n\r\n", "header"),
        (b"POST /x HTTP/1.1\r\nA: \xFF\r\n\r\n", "header"),
    ] {
        let e = request_error(wire);
        let ok = match what {
            "start line" => matches!(e, Scp81Error::BadStartLine { .. }),
            _ => matches!(e, Scp81Error::BadHeader { .. }),
        };
        assert!(ok, "{e} for {:?}", String::from_utf8_lossy(wire));
    }
    let mut r = MessageReader::new();
    r.push(b"HTTP/1.1 2000 OK\r\n\r\n");
    assert!(matches!(
        r.next_response(),
        Err(Scp81Error::BadStartLine { .. })
    ));
    // Asking for a response while a request is half read.
    let mut r = MessageReader::new();
    r.push(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
    assert_eq!(r.next_request().unwrap(), None);
    assert_eq!(
        r.next_response().unwrap_err(),
        Scp81Error::WrongKind {
            partial: "request",
            asked: "response"
        }
    );
}

#[test]
fn buffer_is_bounded_even_without_reads() {
    let mut r = MessageReader::new();
    let piece = vec![b'a'; 64 * 1024];
    while r.buffered() + piece.len() <= MAX_BUFFERED_BYTES {
        r.push(&piece);
    }
    r.push(&piece);
    assert_eq!(r.buffered(), 0);
    assert_eq!(
        r.next_request().unwrap_err(),
        Scp81Error::BufferFull {
            max: MAX_BUFFERED_BYTES
        }
    );
}

#[test]
fn admin_protocol_checks() {
    let message = |wire: &[u8], response: bool| read_all(wire, 1000, response);
    let wrong = message(
        b"POST / HTTP/1.1\r\nX-Admin-Protocol: globalplatform-remote-admin/1.1.1\r\n\r\n",
        false,
    );
    assert_eq!(
        AdminRequest::from_message(&wrong).unwrap_err(),
        Scp81Error::BadHeaderValue {
            name: "X-Admin-Protocol",
            value: "globalplatform-remote-admin/1.1.1".into(),
            expected: ADMIN_PROTOCOL,
        }
    );
    let missing = message(b"POST / HTTP/1.1\r\nHost: h\r\n\r\n", false);
    assert_eq!(
        AdminRequest::from_message(&missing).unwrap_err(),
        Scp81Error::MissingHeader {
            name: "X-Admin-Protocol"
        }
    );
    let get = message(
        b"GET / HTTP/1.1\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\r\n",
        false,
    );
    assert_eq!(
        AdminRequest::from_message(&get).unwrap_err(),
        Scp81Error::NotPost {
            method: "GET".into()
        }
    );
    let resume = message(
        b"POST / HTTP/1.1\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
          X-Admin-Resume: yes\r\n\r\n",
        false,
    );
    assert!(matches!(
        AdminRequest::from_message(&resume),
        Err(Scp81Error::BadHeaderValue {
            name: "X-Admin-Resume",
            ..
        })
    ));
    let no_protocol_200 = message(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true);
    assert!(matches!(
        AdminResponse::from_message(&no_protocol_200),
        Err(Scp81Error::MissingHeader { .. })
    ));
    let bare_204 = message(b"HTTP/1.1 204 No Content\r\n\r\n", true);
    assert_eq!(
        AdminResponse::from_message(&bare_204).unwrap(),
        AdminResponse::End
    );
    let error = message(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        true,
    );
    assert_eq!(
        AdminResponse::from_message(&error).unwrap_err(),
        Scp81Error::UnexpectedStatus {
            code: 500,
            reason: "Internal Server Error".into()
        }
    );
    assert!(matches!(
        AdminResponse::from_message(&get),
        Err(Scp81Error::NotAResponse { .. })
    ));
    let bad_target = message(
        b"HTTP/1.1 200 OK\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\
          X-Admin-Targeted-Application: A0000005591010\r\nContent-Length: 0\r\n\r\n",
        true,
    );
    assert!(matches!(
        AdminResponse::from_message(&bad_target),
        Err(Scp81Error::BadForm { .. })
    ));
}

// ---- properties ------------------------------------------------------------------------------

fn any_text() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

fn any_trigger() -> impl Strategy<Value = AdminTrigger> {
    (
        prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        prop::option::of((
            prop::collection::vec(any::<u8>(), 0..40),
            any::<u8>(),
            any::<u8>(),
        )),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
    )
        .prop_map(
            |(connection, security, retry, admin_host, agent_id, admin_uri)| AdminTrigger {
                connection,
                security: security.map(|(psk_identity, kvn, kid)| TriggerSecurity {
                    psk_identity,
                    kvn,
                    kid,
                }),
                retry,
                admin_host,
                agent_id,
                admin_uri,
            },
        )
}

proptest! {
    #[test]
    fn reader_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(1usize..64, 1..20),
        responses in any::<bool>(),
    ) {
        let mut r = MessageReader::new();
        let mut rest = bytes.as_slice();
        for cut in cuts.iter().cycle() {
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            r.push(piece);
            rest = tail;
            for _ in 0..3 {
                let got = if responses { r.next_response() } else { r.next_request() };
                if let Ok(Some(m)) = &got {
                    let _ = AdminRequest::from_message(m);
                    let _ = AdminResponse::from_message(m);
                } else {
                    break;
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        prop_assert!(r.buffered() <= bytes.len());
    }

    #[test]
    fn reader_never_panics_on_http_like_input(
        parts in prop::collection::vec(prop::sample::select(vec![
            "POST / HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n",
            "Transfer-Encoding: chunked\r\n", "Content-Length: 3\r\n", "\r\n", "\n", "\r",
            "3\r\nabc\r\n", "0\r\n", "ff;x\r\n",
            "X-Admin-Protocol: globalplatform-remote-admin/1.0\r\n",
            "abc", ":", " ",
        ]), 0..40),
        piece in 1usize..50,
    ) {
        let wire: Vec<u8> = parts.concat().into_bytes();
        for responses in [false, true] {
            let mut r = MessageReader::new();
            for p in wire.chunks(piece) {
                r.push(p);
                loop {
                    let got = if responses { r.next_response() } else { r.next_request() };
                    if !matches!(got, Ok(Some(_))) {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn trigger_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(t) = AdminTrigger::parse(&bytes) {
            let again = t.to_bytes().unwrap();
            prop_assert_eq!(AdminTrigger::parse(&again).unwrap(), t);
        }
        let mut framed = vec![0x81, 0x81, 0xFF];
        framed.extend_from_slice(&bytes);
        let _ = AdminTrigger::parse(&framed);
        let _ = PskIdentity::parse(&bytes);
    }

    #[test]
    fn trigger_round_trip(t in any_trigger()) {
        let bytes = t.to_bytes().unwrap();
        prop_assert_eq!(AdminTrigger::parse(&bytes).unwrap(), t);
    }

    #[test]
    fn messages_round_trip_in_any_pieces(
        body in prop::collection::vec(any::<u8>(), 0..700),
        uri in "/[!-~]{0,30}",
        next in "(/[!-~]{0,30})?",
        piece in 1usize..300,
        resume in any::<bool>(),
        isd_p in prop::option::of(0x10u16..),
    ) {
        let request = AdminRequest {
            uri,
            body: body.clone(),
            resume,
            ..result_post()
        };
        prop_assert_eq!(read_request(&request.to_bytes(), piece), request);
        let response = AdminResponse::Script {
            next_uri: next,
            targeted: isd_p.map(|n| Aid::isd_p(n).unwrap()),
            body,
        };
        prop_assert_eq!(read_response(&response.to_bytes(), piece), response);
    }
}
