//! [`establish`] against a card that reads the open points another way: an ES5 link whose
//! ISD-R runs [`smsr_proto::ecka::card`] with a chosen [`CardConfig`] (the bundled emulator
//! always uses the default reading), and may refuse one `3A01` length coding.

use super::*;
use crate::hexfmt;
use smsr_proto::ecka::messages::decode_certificate_block;
use smsr_proto::ecka::{CardConfig, CertificateAccepted, KeySetCard};
use smsr_proto::gp::store_data::StoreData;
use smsr_proto::pki::test_pki::{TestPki, TestPkiKeys};
use smsr_proto::pki::PrivateKey;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

const EID: &str = "89049032123451234512345678901235";

fn pki() -> TestPki {
    let k = |b: u8| PrivateKey::from_bytes(&[b; 32]).unwrap();
    let eid = hexfmt::parse(EID).unwrap();
    TestPki::from_keys(
        TestPkiKeys {
            ci: k(0x11),
            eum: k(0x22),
            sm_dp: k(0x33),
            sm_sr: k(0x44),
            ecasd: k(0x55),
        },
        &eid,
    )
    .unwrap()
}

fn eis(pki: &TestPki) -> Eis {
    let json = format!(
        r#"{{"version": 1, "eid": "{EID}",
            "eum_certificate": "{}",
            "isd_r": {{"aid": "A0000005591010FFFFFFFF8900000100", "scp80": [],
                       "scp03": [{{"kvn": 48, "enc": "404142434445464748494A4B4C4D4E4F",
                                  "mac": "404142434445464748494A4B4C4D4E4F",
                                  "dek": "404142434445464748494A4B4C4D4E4F"}}]}},
            "ecasd": {{"aid": "A0000005591010FFFFFFFF8900000200", "certificate": "{}"}}}}"#,
        hexfmt::upper(&pki.eum.certificate.to_bytes()),
        hexfmt::upper(&pki.ecasd.certificate.to_bytes()),
    );
    Eis::from_json(&json).unwrap()
}

fn dp(pki: &TestPki) -> SmDp {
    SmDp {
        ci: pki.ci.certificate.clone(),
        sm_dp: pki.sm_dp.clone(),
    }
}

enum Step {
    Idle,
    Certificate(KeySetCard),
    KeyParameters(Box<CertificateAccepted>),
}

/// An ISD-R that creates and deletes ISD-Ps without question and runs key establishment with
/// `config`.
struct Card {
    pki: TestPki,
    config: CardConfig,
    /// The `3A01` length coding this card refuses (with `6A80`).
    refuse: Option<BlockLength>,
    step: Step,
    /// Key sets installed (KVN, ENC key) and ISD-Ps deleted.
    installed: Vec<(u8, Vec<u8>)>,
    created: usize,
    deleted: usize,
}

impl Card {
    fn new(pki: TestPki, config: CardConfig, refuse: Option<BlockLength>) -> Self {
        Self {
            pki,
            config,
            refuse,
            step: Step::Idle,
            installed: Vec::new(),
            created: 0,
            deleted: 0,
        }
    }

    fn answer(&mut self, c: &CommandApdu) -> ResponseApdu {
        match (c.ins, c.p1) {
            (0xE6, 0x20) => {
                self.step = Step::Certificate(KeySetCard::new(
                    *self.pki.ci_public_key(),
                    self.pki.ecasd.key.clone(),
                    self.config.clone(),
                ));
                ResponseApdu::success(vec![0x00])
            }
            (0xE6, _) => {
                self.created += 1;
                ResponseApdu::success(vec![0x00])
            }
            (0xE2, _) => self.store_data(c),
            (0xE4, _) => {
                self.deleted += 1;
                ResponseApdu::success(vec![0x00])
            }
            _ => ResponseApdu::success(Vec::new()),
        }
    }

    fn store_data(&mut self, c: &CommandApdu) -> ResponseApdu {
        let refused = ResponseApdu::status(StatusWord::IncorrectData);
        let Ok(block) = StoreData::from_apdu(c) else {
            return refused;
        };
        match std::mem::replace(&mut self.step, Step::Idle) {
            Step::Certificate(card) => {
                match decode_certificate_block(&block.data) {
                    Ok((_, form)) if Some(form) == self.refuse => return refused,
                    Ok(_) => {}
                    Err(_) => return refused,
                }
                match card.receive_certificate(&block.data) {
                    Ok((next, data)) => {
                        self.step = Step::KeyParameters(Box::new(next));
                        ResponseApdu::success(data)
                    }
                    Err(_) => refused,
                }
            }
            Step::KeyParameters(card) => match card.receive_key_parameters(&block.data) {
                Ok((keys, data)) => {
                    self.installed
                        .push((keys.keys.kvn(), keys.keys.enc().as_bytes().to_vec()));
                    ResponseApdu::success(data)
                }
                Err(_) => refused,
            },
            Step::Idle => ResponseApdu::status(StatusWord::from_u16(0x6985)),
        }
    }
}

impl Es5Link for Card {
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error> {
        let mut out = Vec::new();
        for c in commands {
            let r = self.answer(c);
            let stop = !r.sw.is_success();
            out.push(r);
            if stop {
                break;
            }
        }
        Ok(out)
    }

    fn reset(&mut self) -> Result<(), Es5Error> {
        Ok(())
    }
}

fn registry(eis: &Eis) -> Registry {
    let mut r = Registry::in_memory().unwrap();
    r.register(eis, false).unwrap();
    r
}

fn states(registry: &Registry) -> Vec<(Aid, String, Option<String>)> {
    registry
        .isdps(&EID.parse().unwrap())
        .unwrap()
        .into_iter()
        .map(|r| (r.aid, r.state.to_string(), r.pending))
        .collect()
}

#[test]
fn the_default_reading_establishes_and_is_recorded_as_provision_records_it() {
    let pki = pki();
    let (eis, dp) = (eis(&pki), dp(&pki));
    let mut registry = registry(&eis);
    let mut card = Card::new(pki, CardConfig::default(), None);
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, true).unwrap();
    assert!(report.established);
    assert_eq!(report.kvn, Some(0x30));
    assert_eq!(report.key_id, Some(0x01));
    assert_eq!(report.attempts.len(), 1);
    let matched = report.attempts[0].receipt_matches.as_ref().unwrap();
    assert!(matched.default && matched.keys == "three" && matched.certificate_length == "dgi");
    assert_eq!(card.installed.len(), 1);
    let aid = report.isdp.unwrap();
    assert_eq!(states(&registry), [(aid, "personalized".into(), None)]);
    assert_eq!(card.deleted, 0);
}

#[test]
fn a_receipt_of_another_reading_is_identified_and_its_isd_p_deleted() {
    let pki = pki();
    let (eis, dp) = (eis(&pki), dp(&pki));
    let mut registry = registry(&eis);
    // The card puts the receipt key last and pads the receipt input (the key count follows
    // the `95` the host sends: three).
    let config = CardConfig {
        variant: EckaVariant {
            receipt_input: ReceiptInput::CrtDrPadded,
            receipt_key: ReceiptKeyPosition::Last,
            ..EckaVariant::default()
        },
        ..CardConfig::default()
    };
    let mut card = Card::new(pki, config, None);
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, true).unwrap();
    assert!(!report.established);
    assert_eq!(report.isdp, None);
    let a = &report.attempts[0];
    assert_eq!(a.outcome, "receipt-mismatch");
    let m = a.receipt_matches.as_ref().unwrap();
    assert_eq!(
        (m.keys, m.receipt_input, m.receipt_key, m.default),
        ("three", "crt-dr-padded", "last", false)
    );
    assert!(a.deleted, "{report:?}");
    assert_eq!(card.deleted, 1);
    assert!(states(&registry).is_empty(), "{:?}", states(&registry));
    assert!(
        report.notes[0].contains("crt-dr-padded"),
        "{:?}",
        report.notes
    );

    // Without probe: the mismatch is reported, the reading is not.
    let mut card = Card::new(card.pki, card.config, None);
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, false).unwrap();
    assert!(!report.established);
    assert!(report.attempts[0].receipt_matches.is_none());
    assert!(report.notes[0].contains("--probe"));
}

#[test]
fn a_receipt_no_reading_reproduces_is_reported_as_such() {
    let pki = pki();
    let (eis, dp) = (eis(&pki), dp(&pki));
    let mut registry = registry(&eis);
    // A card whose ECASD key is not the certified one derives another Z: no reading
    // reproduces its receipt.
    let mut other = pki.clone();
    other.ecasd.key = PrivateKey::from_bytes(&[0x77; 32]).unwrap();
    let mut card = Card::new(other, CardConfig::default(), None);
    let existing = es5::create_isdp(&mut registry, &mut card, &EID.parse().unwrap(), None, None)
        .unwrap()
        .aid;
    let report = establish(
        &mut registry,
        &mut card,
        &eis,
        &dp,
        &Target::Existing(existing.clone()),
        true,
    )
    .unwrap();
    let a = &report.attempts[0];
    assert_eq!(a.outcome, "receipt-mismatch");
    assert!(a.receipt_matches.is_none());
    // Named by the user: left alone, its pending mark cleared, and the user told.
    assert!(!a.deleted);
    assert_eq!(card.deleted, 0);
    assert_eq!(states(&registry), [(existing, "created".into(), None)]);
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("none of the readings")));
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("smsr profile delete")));
}

#[test]
fn a_refused_dgi_length_is_retried_with_ber_on_a_fresh_isd_p() {
    let pki = pki();
    let (eis, dp) = (eis(&pki), dp(&pki));
    let mut registry = registry(&eis);
    let mut card = Card::new(pki, CardConfig::default(), Some(BlockLength::Dgi));
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, true).unwrap();
    assert!(report.established, "{report:?}");
    assert_eq!(report.attempts.len(), 2);
    let (first, second) = (&report.attempts[0], &report.attempts[1]);
    assert_eq!(
        (first.outcome, first.certificate_length, first.sw.as_deref()),
        ("certificate-refused", "dgi", Some("6A80"))
    );
    assert!(first.deleted);
    assert_eq!(
        (second.outcome, second.certificate_length),
        ("established", "ber")
    );
    // The refused ISD-P went before the fresh one was made (which may take its AID).
    assert_eq!((card.created, card.deleted), (2, 1));
    assert_eq!(report.variant.as_ref().unwrap().certificate_length, "ber");
    assert!(report.notes[0].contains("retried with the BER coding"));
    assert_eq!(
        states(&registry),
        [(second.isdp.clone(), "personalized".into(), None)]
    );

    // A card refusing both codings: two attempts, nothing left behind.
    let mut card = Card::new(card.pki, CardConfig::default(), None);
    card.config.expected_entity = Some(smsr_proto::pki::EntityType::SmSr);
    let before = states(&registry);
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, true).unwrap();
    assert!(!report.established);
    assert_eq!(report.attempts.len(), 2);
    assert!(report.attempts.iter().all(|a| a.deleted));
    assert_eq!(states(&registry), before);

    // Without probe there is no retry.
    let mut card = Card::new(card.pki, CardConfig::default(), Some(BlockLength::Dgi));
    let report = establish(&mut registry, &mut card, &eis, &dp, &Target::Create, false).unwrap();
    assert_eq!(report.attempts.len(), 1);
    assert!(!report.established);
}
