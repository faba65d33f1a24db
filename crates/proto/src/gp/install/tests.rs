use super::*;
use crate::gp::confirmation::ConfirmationResponse;
use crate::gp::install_params::SystemParameter;
use crate::gp::testdata::h;
use crate::gp::Privilege;

fn aid(s: &str) -> Aid {
    s.parse().unwrap()
}

#[test]
fn create_isd_p_matches_whty() {
    // whty SM-SR unit test (SGP.02 CreateISDP), sent without Le.
    let expected = h(
        "80E60C003F 10A0000005591010FFFFFFFF8900000D00 10A0000005591010FFFFFFFF8900000E00 \
         10A0000005591010FFFFFFFF8900001300 0380C000 06C90481020370 00",
    );
    let install = Install::create_isd_p(Aid::isd_p(0x13).unwrap(), None);
    let apdu = install.to_apdu().unwrap();
    assert_eq!(apdu.clone().without_le().to_bytes().unwrap(), expected);
    assert_eq!(apdu.le, Some(256));
    // The card side decodes it with or without Le.
    let received = CommandApdu::parse(&expected).unwrap();
    let decoded = Install::from_apdu(&received).unwrap();
    assert_eq!(decoded, install);
    let Install::ForInstall {
        data,
        make_selectable: true,
    } = &decoded
    else {
        panic!("not for install and make selectable: {decoded:?}");
    };
    assert_eq!(data.application.isd_p_number(), Some(0x13));
    assert_eq!(
        data.privileges.list(),
        vec![
            Privilege::SecurityDomain,
            Privilege::TrustedPath,
            Privilege::AuthorizedManagement
        ]
    );
    assert_eq!(
        decoded.parameters().unwrap().scp_parameter().unwrap(),
        Some((0x03, 0x70))
    );
    // With a quota: EF { C8 }.
    let with_quota = Install::create_isd_p(Aid::isd_p(0x10).unwrap(), Some(0x8000));
    assert_eq!(
        with_quota.parameters().unwrap().system,
        Some(vec![SystemParameter::NonVolatileMemory(0x8000)])
    );
    assert_eq!(
        Install::from_apdu(&with_quota.to_apdu().unwrap()).unwrap(),
        with_quota
    );
}

fn every_role() -> Vec<Install> {
    let lf = aid("A0000000620001");
    let app = aid("A000000062000101");
    let sd = Aid::gp_isd();
    vec![
        Install::ForLoad(ForLoad {
            load_file: lf.clone(),
            security_domain: Some(sd.clone()),
            hash: vec![0x11; 32],
            parameters: h("EF04C6020400"),
            token: vec![],
        }),
        Install::ForLoad(ForLoad {
            load_file: lf.clone(),
            security_domain: None,
            hash: vec![],
            parameters: vec![],
            token: vec![],
        }),
        Install::ForInstall {
            data: ForInstall {
                load_file: Some(lf.clone()),
                module: Some(aid("A000000062000102")),
                application: app.clone(),
                privileges: Privileges::one_byte(0x00),
                parameters: h("C900"),
                token: vec![0x5A; 130],
            },
            make_selectable: false,
        },
        Install::ForMakeSelectable(ForMakeSelectable {
            application: app.clone(),
            privileges: Privileges::new([0x04, 0, 0]),
            parameters: h("EF03CF0140"),
            token: vec![],
        }),
        Install::CombinedStart(ForLoad {
            load_file: lf.clone(),
            security_domain: None,
            hash: vec![0x22; 20],
            parameters: vec![],
            token: vec![],
        }),
        Install::CombinedEnd(ForInstall {
            load_file: None,
            module: Some(aid("A000000062000102")),
            application: app.clone(),
            privileges: Privileges::NONE,
            parameters: h("C900"),
            token: vec![],
        }),
        Install::ForExtradition(ForExtradition {
            security_domain: Aid::isd_r(),
            application: app.clone(),
            parameters: vec![],
            token: vec![],
        }),
        Install::ForPersonalization(app.clone()),
        Install::ForRegistryUpdate(ForRegistryUpdate {
            security_domain: None,
            application: Some(app),
            privileges: None,
            parameters: h("EF03D90101"),
            token: vec![],
        }),
        Install::ForRegistryUpdate(ForRegistryUpdate {
            security_domain: Some(sd),
            application: None,
            privileges: Some(Privileges::ISD_P),
            parameters: vec![],
            token: vec![],
        }),
    ]
}

#[test]
fn every_role_round_trips() {
    let expected_p1_p2 = [
        (0x02, 0x00),
        (0x02, 0x00),
        (0x04, 0x00),
        (0x08, 0x00),
        (0x0E, 0x01),
        (0x0E, 0x03),
        (0x10, 0x00),
        (0x20, 0x00),
        (0x40, 0x00),
        (0x40, 0x00),
    ];
    for (install, (p1, p2)) in every_role().into_iter().zip(expected_p1_p2) {
        let apdu = install.to_apdu().unwrap();
        assert_eq!((apdu.cla, apdu.ins, apdu.p1, apdu.p2), (0x80, 0xE6, p1, p2));
        let bytes = apdu.to_bytes().unwrap();
        let back = Install::from_apdu(&CommandApdu::parse(&bytes).unwrap()).unwrap();
        assert_eq!(back, install);
        install.parameters().unwrap();
    }
}

#[test]
fn known_layouts() {
    // Table 11-47: INSTALL [for personalization].
    let p = Install::ForPersonalization(Aid::isd_r());
    assert_eq!(
        p.to_apdu().unwrap().to_bytes().unwrap(),
        h("80E6200016 0000 10A0000005591010FFFFFFFF8900000100 000000 00")
    );
    // Table 11-42 with a 130-byte token: BER length 81 82.
    let Install::ForInstall { data, .. } = &every_role()[2] else {
        unreachable!()
    };
    let encoded = every_role()[2].data();
    let token_at = encoded.len() - 130 - 2;
    assert_eq!(&encoded[token_at..token_at + 2], &[0x81, 0x82]);
    assert_eq!(data.token.len(), 130);
    // A length of 128 coded on one byte ('80') is accepted (GPCS §11.5.2.3.2).
    let mut legacy = Vec::new();
    legacy.extend(h("07A0000000620001 00 08A000000062000101 0100 02C900 80"));
    legacy.extend([0x77; 128]);
    let apdu = CommandApdu::new(0x80, 0xE6, 0x04, 0x00).with_data(legacy);
    let Install::ForInstall { data, .. } = Install::from_apdu(&apdu).unwrap() else {
        panic!("for install expected")
    };
    assert_eq!(data.module, None);
    assert_eq!(data.token, vec![0x77; 128]);
    assert!(data.privileges.is_one_byte());
}

#[test]
fn chaining() {
    let big = Install::ForInstall {
        data: ForInstall {
            load_file: Some(Aid::isd_p_load_file()),
            module: Some(Aid::isd_p_module()),
            application: Aid::isd_p(0x10).unwrap(),
            privileges: Privileges::ISD_P,
            parameters: InstallParameters::application_specific(&[0x42; 300]).to_bytes(),
            token: vec![],
        },
        make_selectable: true,
    };
    assert!(matches!(big.to_apdu(), Err(GpError::TooLong { .. })));
    let chain = big.to_apdus().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!((chain[0].p1, chain[1].p1), (0x8C, 0x0C));
    assert_eq!(chain[0].data.len(), 255);
    assert!(matches!(
        Install::from_apdu(&chain[0]),
        Err(GpError::WrongParameters { .. })
    ));
    assert_eq!(Install::from_apdus(&chain).unwrap(), big);
    // Out-of-order or inconsistent chains are refused.
    assert!(Install::from_apdus(&[chain[1].clone(), chain[0].clone()]).is_err());
    let mut other_p2 = chain.clone();
    other_p2[0].p2 = 0x01;
    assert!(Install::from_apdus(&other_p2).is_err());
    assert!(Install::from_apdus(&[]).is_err());
    // A short command is a chain of one.
    let one = every_role()[0].to_apdus().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(Install::from_apdus(&one).unwrap(), every_role()[0]);
}

#[test]
fn response() {
    // INSTALL answers '00' (SGP.02 CreateISDP: 9000 with data 00).
    assert_eq!(ConfirmationResponse::none().to_bytes(), h("00"));
    assert_eq!(
        ConfirmationResponse::parse(&h("00")).unwrap().confirmation,
        Vec::<u8>::new()
    );
}

#[test]
fn strictness() {
    let cases: [(&str, u8, u8, &str); 9] = [
        // Unknown role / P2.
        ("", 0x06, 0x00, "params"),
        ("", 0x0C, 0x01, "params"),
        // for install without the load file AID.
        ("00 00 05A000000062 0100 02C900 00", 0x04, 0x00, "invalid"),
        // Application AID of 4 bytes.
        (
            "05A000000062 00 04A0000000 0100 02C900 00",
            0x04,
            0x00,
            "invalid",
        ),
        // Privileges of 2 bytes.
        (
            "05A000000062 00 05A000000062 020000 02C900 00",
            0x04,
            0x00,
            "invalid",
        ),
        // Missing token length.
        (
            "05A000000062 00 05A000000062 0100 02C900",
            0x04,
            0x00,
            "truncated",
        ),
        // Trailing byte.
        (
            "05A000000062 00 05A000000062 0100 02C900 00 00",
            0x04,
            0x00,
            "trailing",
        ),
        // Make selectable whose first lengths are not 00.
        ("01AA 00 05A000000062 0100 00 00", 0x08, 0x00, "invalid"),
        // Non-minimal '81' length of the parameters.
        (
            "05A000000062 00 05A000000062 0100 8102C900 00",
            0x04,
            0x00,
            "invalid",
        ),
    ];
    for (data, p1, p2, kind) in cases {
        let apdu = CommandApdu::new(0x80, 0xE6, p1, p2).with_data(h(data));
        let err = Install::from_apdu(&apdu).unwrap_err();
        let ok = match kind {
            "params" => matches!(err, GpError::WrongParameters { .. }),
            "invalid" => matches!(err, GpError::Invalid { .. }),
            "truncated" => matches!(err, GpError::Truncated { .. }),
            "trailing" => matches!(
                err,
                GpError::TrailingBytes {
                    offset: 19,
                    count: 1
                }
            ),
            _ => false,
        };
        assert!(ok, "{data} P1 {p1:02X}: {err}");
    }
}
