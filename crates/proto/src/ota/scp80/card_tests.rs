use super::*;
use crate::ota::scp80::packet::CommandHeader;
use proptest::prelude::*;

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

const ISD_R: Tar = [0, 0, 1];
const OPEN: Tar = [0, 0, 2];

fn keys() -> KeySet {
    let mut k = KeySet::aes(
        1,
        &hx("000102030405060708090A0B0C0D0E0F"),
        &hx("101112131415161718191A1B1C1D1E1F"),
    );
    k.counter = 5;
    k
}

fn card() -> ReceivingEntity {
    ReceivingEntity {
        keysets: vec![keys()],
        tars: vec![
            (ISD_R, MinimumSecurityLevel::CC_CIPHERED_COUNTER),
            (OPEN, MinimumSecurityLevel::NONE),
        ],
    }
}

fn hdr(spi: [u8; 2], tar: Tar, counter: u64) -> CommandHeader {
    let k = keys();
    CommandHeader {
        spi: Spi::parse(spi).unwrap(),
        kic: k.kic_indicator(),
        kid: k.kid_indicator(),
        tar,
        counter,
    }
}

fn send(card: &mut ReceivingEntity, h: &CommandHeader) -> Reception {
    let p = CommandPacket::encode(h, &[keys()], b"script").unwrap();
    card.receive(&p)
}

/// The status the host reads from a rejection's PoR.
fn por_status(r: &Reception, h: &CommandHeader) -> Option<PorStatus> {
    match r {
        Reception::Rejected { por: Some(ud), .. } => {
            Some(ResponsePacket::decode(ud, h, &[keys()]).unwrap().status)
        }
        _ => None,
    }
}

#[test]
fn accepted_then_por_round_trip() {
    let mut c = card();
    let h = hdr([0x16, 0x19], ISD_R, 6);
    let Reception::Accepted(cmd) = send(&mut c, &h) else {
        panic!("not accepted")
    };
    assert_eq!(cmd.data, b"script");
    assert_eq!(cmd.header, h);
    assert_eq!(c.keysets[0].counter, 6);
    let por = c
        .por(&cmd.header, PorStatus::Ok, &hx("AB07 800101 23029000"))
        .unwrap()
        .unwrap();
    let back = ResponsePacket::decode(&por, &h, &[keys()]).unwrap();
    assert_eq!(back.status, PorStatus::Ok);
    assert_eq!(back.counter, 6);
    assert_eq!(back.tar, ISD_R);
    assert_eq!(back.data, hx("AB07 800101 23029000"));
}

#[test]
fn counter_rules() {
    use CounterMode::*;
    assert_eq!(check_counter(None, 0, 9), Ok(Option::None));
    assert_eq!(check_counter(Available, 3, 9), Ok(Option::None));
    assert_eq!(check_counter(Higher, 10, 9), Ok(Some(10)));
    assert_eq!(check_counter(Higher, 100, 9), Ok(Some(100)));
    assert_eq!(check_counter(Higher, 9, 9), Err(PorStatus::CounterLow));
    assert_eq!(check_counter(OneHigher, 10, 9), Ok(Some(10)));
    assert_eq!(check_counter(OneHigher, 9, 9), Err(PorStatus::CounterLow));
    assert_eq!(check_counter(OneHigher, 11, 9), Err(PorStatus::CounterHigh));
    assert_eq!(
        check_counter(Higher, COUNTER_MAX, COUNTER_MAX),
        Err(PorStatus::CounterBlocked)
    );
    assert_eq!(
        check_counter(OneHigher, 0, COUNTER_MAX),
        Err(PorStatus::CounterBlocked)
    );
    assert_eq!(check_counter(Available, 0, COUNTER_MAX), Ok(Option::None));
}

#[test]
fn counter_statuses_come_back_secured() {
    let mut c = card();
    // Replay of the RE's own value: low.
    let h = hdr([0x16, 0x19], ISD_R, 5);
    let r = send(&mut c, &h);
    assert!(matches!(
        r,
        Reception::Rejected {
            status: PorStatus::CounterLow,
            ..
        }
    ));
    assert_eq!(por_status(&r, &h), Some(PorStatus::CounterLow));
    // The PoR is secured: RHL 0A + 8.
    let Reception::Rejected { por: Some(ud), .. } = &r else {
        panic!()
    };
    assert_eq!(ud[5], 0x12);

    // One higher: 7 is too high while the RE is at 5, 6 is right, then 6 is low.
    let h7 = hdr([0x1E, 0x19], ISD_R, 7);
    assert_eq!(
        por_status(&send(&mut c, &h7), &h7),
        Some(PorStatus::CounterHigh)
    );
    let h6 = hdr([0x1E, 0x19], ISD_R, 6);
    assert!(matches!(send(&mut c, &h6), Reception::Accepted(_)));
    assert_eq!(
        por_status(&send(&mut c, &h6), &h6),
        Some(PorStatus::CounterLow)
    );
    assert_eq!(c.keysets[0].counter, 6);

    // Blocked once the counter reached its maximum.
    let hmax = hdr([0x16, 0x19], ISD_R, COUNTER_MAX);
    assert!(matches!(send(&mut c, &hmax), Reception::Accepted(_)));
    let r = send(&mut c, &hmax);
    assert_eq!(por_status(&r, &hmax), Some(PorStatus::CounterBlocked));
}

#[test]
fn security_failures_come_back_unsecured() {
    let mut c = card();
    // TAR unknown.
    let h = hdr([0x16, 0x19], [9, 9, 9], 6);
    let r = send(&mut c, &h);
    assert_eq!(por_status(&r, &h), Some(PorStatus::TarUnknown));
    let Reception::Rejected { por: Some(ud), .. } = &r else {
        panic!()
    };
    assert_eq!(ud[5], 0x0A, "RHL of an unsecured PoR");
    assert_eq!(
        ResponsePacket::decode_unsecured(ud).unwrap().status,
        PorStatus::TarUnknown
    );

    // Below the ISD-R's minimum security level (no counter).
    let h = hdr([0x06, 0x19], ISD_R, 6);
    assert_eq!(
        por_status(&send(&mut c, &h), &h),
        Some(PorStatus::InsufficientSecurityLevel)
    );

    // Tampered last byte: the CC fails.
    let h = hdr([0x16, 0x19], ISD_R, 6);
    let mut p = CommandPacket::encode(&h, &[keys()], b"script").unwrap();
    *p.last_mut().unwrap() ^= 1;
    let r = c.receive(&p);
    assert!(matches!(
        r,
        Reception::Rejected {
            status: PorStatus::RcCcDsFailed,
            error: Some(Scp80Error::ChecksumMismatch),
            ..
        }
    ));
    assert_eq!(por_status(&r, &h), Some(PorStatus::RcCcDsFailed));
    assert_eq!(
        c.keysets[0].counter, 5,
        "a failed packet does not move the counter"
    );

    // Ciphertext not block aligned (CPL fixed up): ciphering error.
    let mut p = CommandPacket::encode(&h, &[keys()], b"script").unwrap();
    p.pop();
    let cpl = u16::try_from(p.len() - 2).unwrap().to_be_bytes();
    p[..2].copy_from_slice(&cpl);
    assert_eq!(
        por_status(&c.receive(&p), &h),
        Some(PorStatus::CipheringError)
    );

    // A key version the card does not have.
    let mut other = hdr([0x16, 0x19], ISD_R, 6);
    other.kic = KeyIndicator::kic(3, CipherAlgorithm::AesCbc);
    let p =
        CommandPacket::encode(&other, &[keys(), KeySet::aes(3, &[1; 16], &[2; 16])], b"x").unwrap();
    assert!(matches!(
        c.receive(&p),
        Reception::Rejected {
            status: PorStatus::UnidentifiedSecurityError,
            por: Some(_),
            ..
        }
    ));

    // Reserved SPI bits: unidentified security error, and no PoR since SPI2 cannot be trusted.
    let mut p = CommandPacket::encode(&h, &[keys()], b"script").unwrap();
    p[3] |= 0x80;
    assert!(matches!(
        c.receive(&p),
        Reception::Rejected {
            status: PorStatus::UnidentifiedSecurityError,
            por: None,
            ..
        }
    ));

    // Wrong CPL: nothing can be answered.
    let mut p = CommandPacket::encode(&h, &[keys()], b"script").unwrap();
    p[1] ^= 1;
    assert!(matches!(c.receive(&p), Reception::Dropped(_)));
    assert!(matches!(c.receive(&[0; 5]), Reception::Dropped(_)));
}

#[test]
fn por_request_policy() {
    let mut c = card();
    // No PoR requested: a rejection carries none.
    let h = hdr([0x16, 0x00], [9, 9, 9], 6);
    assert!(matches!(
        send(&mut c, &h),
        Reception::Rejected {
            status: PorStatus::TarUnknown,
            por: None,
            ..
        }
    ));
    // PoR on error only.
    let h = hdr([0x16, 0x1A], ISD_R, 6);
    let Reception::Accepted(cmd) = send(&mut c, &h) else {
        panic!()
    };
    assert_eq!(c.por(&cmd.header, PorStatus::Ok, b"").unwrap(), None);
    let ud = c
        .por(&cmd.header, PorStatus::MoreTime, b"")
        .unwrap()
        .unwrap();
    assert_eq!(
        ResponsePacket::decode(&ud, &h, &[keys()]).unwrap().status,
        PorStatus::MoreTime
    );
    // No counter on an open TAR: accepted, counter untouched.
    let h = hdr([0x06, 0x01], OPEN, 0);
    assert!(matches!(send(&mut c, &h), Reception::Accepted(_)));
    assert_eq!(c.keysets[0].counter, 6);
    // Unciphered, no CC, no counter to the open TAR.
    let h = hdr([0x00, 0x01], OPEN, 0);
    let Reception::Accepted(cmd) = send(&mut c, &h) else {
        panic!()
    };
    let ud = c.por(&cmd.header, PorStatus::Ok, b"r").unwrap().unwrap();
    assert_eq!(ud[..6], hx("027100000C0A")[..]);
}

#[test]
fn status_codes_round_trip() {
    for b in 0..=255u8 {
        assert_eq!(PorStatus::from_byte(b).to_byte(), b);
    }
    assert_eq!(
        PorStatus::from_byte(0x0A),
        PorStatus::InsufficientSecurityLevel
    );
    assert_eq!(PorStatus::from_byte(0x0B), PorStatus::ResponseBySmsSubmit);
}

#[test]
fn minimum_security_level() {
    let spi = |b| Spi::parse([b, 0]).unwrap();
    let msl = MinimumSecurityLevel::CC_CIPHERED_COUNTER;
    assert!(msl.is_met_by(&spi(0x16)));
    assert!(msl.is_met_by(&spi(0x1E)));
    assert!(!msl.is_met_by(&spi(0x12)));
    assert!(!msl.is_met_by(&spi(0x15)));
    assert!(!msl.is_met_by(&spi(0x0E)));
    assert!(MinimumSecurityLevel::NONE.is_met_by(&spi(0x00)));
}

proptest! {
    #[test]
    fn receive_never_panics(b in prop::collection::vec(any::<u8>(), 0..120)) {
        let mut c = card();
        let _ = c.receive(&b);
        let mut framed = u16::try_from(b.len()).unwrap().to_be_bytes().to_vec();
        framed.extend_from_slice(&b);
        let _ = c.receive(&framed);
        let h = hdr([0x16, 0x19], ISD_R, 1);
        let _ = ResponsePacket::decode(&b, &h, &[keys()]);
        let mut ud = vec![2, 0x71, 0, 0, 0];
        ud.extend_from_slice(&b);
        let n = u16::try_from(b.len()).unwrap().to_be_bytes();
        ud[3..5].copy_from_slice(&n);
        let _ = ResponsePacket::decode(&ud, &h, &[keys()]);
        let _ = ResponsePacket::decode_unsecured(&ud);
    }

    #[test]
    fn encode_decode_round_trip(data in prop::collection::vec(any::<u8>(), 0..200),
                                spi1 in prop::sample::select(vec![0x00u8, 0x02, 0x04, 0x06, 0x0E, 0x16, 0x1E, 0x01, 0x05, 0x15]),
                                spi2 in prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x05, 0x09, 0x11, 0x19, 0x39]),
                                aes: bool, counter in 0u64..=COUNTER_MAX) {
        let ks = if aes { keys() } else { KeySet::triple_des(1, &[0x11; 16], &[0x22; 24]) };
        let spi = Spi::parse([spi1, spi2]).unwrap();
        // One KID byte serves both directions: an RC and a CC cannot share it.
        let uses = |i| spi.integrity == i || spi.por_integrity == i;
        prop_assume!(!(uses(Integrity::Rc) && uses(Integrity::Cc)));
        let kid = if spi.integrity == Integrity::Rc || spi.por_integrity == Integrity::Rc {
            KeyIndicator::kid(1, ChecksumAlgorithm::Crc32)
        } else {
            ks.kid_indicator()
        };
        let h = CommandHeader { spi, kic: ks.kic_indicator(), kid, tar: ISD_R, counter };
        let p = CommandPacket::encode(&h, std::slice::from_ref(&ks), &data).unwrap();
        let back = CommandPacket::decode(&p, std::slice::from_ref(&ks)).unwrap();
        prop_assert_eq!(back.header, h);
        prop_assert_eq!(&back.data, &data);
        let por = ResponsePacket { tar: ISD_R, counter, status: PorStatus::Ok, data: data.clone() };
        let ud = por.encode(&h, std::slice::from_ref(&ks)).unwrap();
        prop_assert_eq!(ResponsePacket::decode(&ud, &h, std::slice::from_ref(&ks)).unwrap(), por);
    }
}
