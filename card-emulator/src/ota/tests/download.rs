//! ES8 profile download end to end through [`Card::handle`]: CreateISDP and key establishment
//! by SMS to the ISD-R's TAR, then the SCP03t scripts of smsr-proto's `Scp03tHost` to the
//! ISD-P's TAR (`000010`), the `EUICCResponse` checked by the host's `ResponseChecker`, GET
//! STATUS, EnableProfile, reset and the USIM's EF.IMSI. Packages: every TS.48 package of
//! `<shared>/testdata` (via `SMSR_SHARED`; skipped visibly without it) and `saip::minimal`.

use super::*;
use smsr_proto::gp::get_status::{ResponseFormat, StatusScope};
use smsr_proto::gp::GetStatus;
use smsr_proto::ota::response::ResponseTlv;
use smsr_proto::saip::identity::imsi_ef;
use smsr_proto::saip::minimal::MinimalProfile;
use smsr_proto::saip::{PeStatusCode, ProfileElement};
use smsr_proto::scp03::StaticKeys;
use smsr_proto::scp03t::{ProtectedDownload, Scp03tHost};
use smsr_proto::sgp02::Es5Command;
use smsr_proto::tlv::Tlv;
use std::path::PathBuf;

/// The USIM AID of TS.48 (SAIP.md §6) and `saip::minimal`.
const USIM_AID: &str = "A0000000871002FF49FF0589";
/// TS.48's IMSI (SAIP.md §6.2, testdata/README.md).
const TS48_IMSI: &str = "001010123456063";
const MINIMAL_IMSI: &str = "262019876543210";

fn minimal_package(imsi: &str) -> Vec<u8> {
    MinimalProfile::milenage("8949449999999990999", imsi, [0x46; 16], [0xCD; 16])
        .build()
        .unwrap()
        .to_der()
}

/// The TS.48 packages of the shared test data (`saip-ts48/*.der`).
fn ts48_packages() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = std::env::var_os("SMSR_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let entries = std::fs::read_dir(dir.join("testdata").join("saip-ts48")).ok();
    let mut out: Vec<(String, Vec<u8>)> = entries
        .into_iter()
        .flat_map(|e| e.flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "der"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    if out.is_empty() {
        println!("skipped: no ../shared/testdata");
        return None;
    }
    Some(out)
}

/// A card after the EUM, and the SCP80 counter of the next packet.
struct Sms {
    card: Card,
    counter: u64,
}

impl Sms {
    fn new(pki: &TestPki) -> Self {
        Self {
            card: card(pki),
            counter: 1,
        }
    }

    fn send(&mut self, script: &CommandScript, tar: [u8; 3]) -> ResponseScript {
        let (status, answer) = run_to(
            &mut self.card,
            script,
            Spi::SECURE,
            self.counter,
            &keyset(),
            tar,
        );
        self.counter += 1;
        assert_eq!(status, PorStatus::Ok);
        answer.unwrap()
    }

    fn isd_r(&mut self, apdus: Vec<CommandApdu>) -> Vec<ResponseApdu> {
        let answer = self.send(&CommandScript::of_apdus(apdus), [0, 0, 1]);
        answer.response_apdus().cloned().collect()
    }

    /// CreateISDP and ES8 key establishment for ISD-P `n`; the key set it got.
    fn isd_p_with_keys(&mut self, pki: &TestPki, n: u16) -> StaticKeys {
        let create = Install::create_isd_p(isd_p(n), None).to_apdu().unwrap();
        assert_eq!(self.isd_r(vec![create])[0].sw, StatusWord::Success);
        let host = EstablishIsdpKeySet::new(
            HostConfig::default(),
            pki.sm_dp.certificate.clone(),
            pki.sm_dp.key.clone(),
            &pki.ecasd.certificate,
        )
        .unwrap();
        let install = Install::ForPersonalization(isd_p(n)).to_apdu().unwrap();
        let certificate = host.certificate_command().unwrap().to_apdu().unwrap();
        let first = CommandScript::of_apdus([install, certificate])
            .chained(ScriptChaining::FirstDeleteOnReset);
        let answer = self.send(&first, [0, 0, 1]);
        let rc = answer.response_apdus().nth(1).unwrap().data.clone();
        let awaiting = host.receive_challenge(&rc).unwrap();
        let second =
            CommandScript::of_apdus([awaiting.key_parameters_command().to_apdu().unwrap()])
                .chained(ScriptChaining::Last);
        let answer = self.send(&second, [0, 0, 1]);
        let receipt = answer.response_apdus().next().unwrap().clone();
        assert_eq!(receipt.sw, StatusWord::Success);
        awaiting.receive_receipt(&receipt.data).unwrap().keys
    }

    /// Life cycle state of ISD-P `n` by GET STATUS over SMS.
    fn life_cycle(&mut self, n: u16) -> u8 {
        let gs = GetStatus {
            aid_prefix: isd_p(n).as_bytes().to_vec(),
            format: ResponseFormat::Tlv,
            ..GetStatus::new(StatusScope::Applications)
        };
        let r = self.isd_r(vec![gs.to_apdu().unwrap()]).remove(0);
        let entries = gs.parse_response(&r.into_success().unwrap()).unwrap();
        assert_eq!(entries.len(), 1);
        entries[0].life_cycle
    }

    /// Sends every script of `download` to `tar`; the response scripts.
    fn download(&mut self, download: &ProtectedDownload, tar: [u8; 3]) -> Vec<ResponseScript> {
        download
            .scripts()
            .iter()
            .map(|s| self.send(s, tar))
            .collect()
    }
}

fn protect(keys: &StaticKeys, n: u16, stored_counter: u32, der: &[u8]) -> ProtectedDownload {
    Scp03tHost::new(keys.clone(), 0x00, isd_p(n).as_bytes(), stored_counter)
        .unwrap()
        .protect(der)
        .unwrap()
}

fn raw_answers(scripts: &[ResponseScript]) -> Vec<Tlv> {
    scripts
        .iter()
        .flat_map(|s| &s.items)
        .filter_map(|i| match i {
            ResponseTlv::Raw(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn send_plain(card: &mut Card, hex_apdu: &str) -> ResponseApdu {
    card.handle(&CommandApdu::parse(&hex::decode(hex_apdu).unwrap()).unwrap())
}

/// The whole flow for one package; asserts the USIM answers `imsi` at the end.
fn download_enable_and_read(name: &str, der: &[u8], imsi: &str) {
    let pki = pki();
    let mut sms = Sms::new(&pki);
    let keys = sms.isd_p_with_keys(&pki, 0x10);
    assert_eq!(sms.life_cycle(0x10), life_cycle::PERSONALIZED, "{name}");

    let mut download = protect(&keys, 0x10, 0, der);
    let scripts = sms.download(&download, [0x00, 0x00, 0x10]);
    assert!(scripts.len() >= 2, "{name}");
    for s in &scripts {
        download.checker.check_response_script(s).unwrap();
    }
    assert!(download.checker.is_complete(), "{name}");
    let response = download.checker.response().unwrap();
    assert!(response.is_ok(), "{name}: {response:?}");
    assert!(!response.pe_status.is_empty(), "{name}");

    // The ISD-P's sequence counter moved to 1 and is persisted.
    let stored = sms
        .card
        .state()
        .isd_p_scp03(isd_p(0x10).as_bytes())
        .unwrap();
    assert_eq!(stored.sequence_counter(keys.kvn()), Some(1), "{name}");
    assert!(sms.card.take_dirty());
    let reloaded = CardState::from_json(&sms.card.state().to_json()).unwrap();
    let reloaded = reloaded.isd_p_scp03(isd_p(0x10).as_bytes()).unwrap();
    assert_eq!(reloaded.sequence_counter(keys.kvn()), Some(1), "{name}");

    assert_eq!(sms.life_cycle(0x10), life_cycle::ISD_P_DISABLED, "{name}");
    let usim_select = format!("00A4040C0C{USIM_AID}");
    assert_eq!(
        send_plain(&mut sms.card, &usim_select).sw,
        StatusWord::FileNotFound,
        "{name}: DISABLED profiles have no USIM"
    );
    let enable = Es5Command::EnableProfile(isd_p(0x10)).to_apdu().unwrap();
    assert_eq!(sms.isd_r(vec![enable])[0].sw, StatusWord::Success);
    sms.card.reset();
    assert_eq!(sms.life_cycle(0x10), life_cycle::ISD_P_ENABLED, "{name}");

    assert_eq!(
        send_plain(&mut sms.card, &usim_select).sw,
        StatusWord::Success
    );
    assert_eq!(
        send_plain(&mut sms.card, "00A40004026F07").sw,
        StatusWord::Success
    );
    let read = send_plain(&mut sms.card, "00B0000009");
    assert_eq!(read.sw, StatusWord::Success, "{name}");
    assert_eq!(read.data, imsi_ef(imsi).unwrap(), "{name}");
}

#[test]
fn minimal_package_downloads_to_the_isd_p_tar() {
    download_enable_and_read("minimal", &minimal_package(MINIMAL_IMSI), MINIMAL_IMSI);
}

#[test]
fn ts48_packages_download_to_the_isd_p_tar() {
    let Some(packages) = ts48_packages() else {
        return;
    };
    for (name, der) in packages {
        download_enable_and_read(&name, &der, TS48_IMSI);
    }
}

#[test]
fn a_tampered_segment_is_refused_with_9f46_and_nothing_is_installed() {
    let pki = pki();
    let mut sms = Sms::new(&pki);
    let keys = sms.isd_p_with_keys(&pki, 0x10);
    let der = minimal_package(MINIMAL_IMSI);
    let mut download = Scp03tHost::new(keys.clone(), 0x00, isd_p(0x10).as_bytes(), 0)
        .unwrap()
        .with_segment_size(200)
        .unwrap()
        .protect(&der)
        .unwrap();
    assert!(download.commands.len() > 4);
    download.commands[3].value[5] ^= 0x01;
    let scripts = sms.download(&download, [0x00, 0x00, 0x10]);
    let answers = raw_answers(&scripts);
    // 84, 85, the first 86, then the tampered one: 9F46 01 02 (security); the session is over,
    // so the segments after it are out of order (9F46 01 01).
    assert_eq!(answers[3], Tlv::new(0x9F46_u32, vec![0x02]));
    assert!(answers[4..]
        .iter()
        .all(|t| *t == Tlv::new(0x9F46_u32, vec![0x01])));
    assert!(download.checker.check_response_script(&scripts[0]).is_ok());
    let mut failed = false;
    for s in &scripts[1..] {
        failed |= download.checker.check_response_script(s).is_err();
    }
    assert!(failed && download.checker.response().is_none());
    assert_eq!(sms.life_cycle(0x10), life_cycle::PERSONALIZED);
    let record = sms.card.state().registry().isd_p(isd_p(0x10).as_bytes());
    assert!(record.unwrap().1.profile.is_none());

    // The counter went to 1 with that session; a new one at 2 installs.
    let mut download = protect(&keys, 0x10, 1, &der);
    for s in sms.download(&download, [0x00, 0x00, 0x10]) {
        download.checker.check_response_script(&s).unwrap();
    }
    assert!(download.checker.response().unwrap().is_ok());
    assert_eq!(sms.life_cycle(0x10), life_cycle::ISD_P_DISABLED);

    // Replaying the first download's scripts: the card's challenge has moved on, 85 fails.
    let replay = raw_answers(&sms.download(&protect(&keys, 0x10, 0, &der), [0, 0, 0x10]));
    assert_eq!(replay[1], Tlv::new(0x9F45_u32, vec![0x02]));
}

#[test]
fn refusals_unkeyed_isd_p_refused_package_and_apdus_to_an_isd_p() {
    let pki = pki();
    let mut sms = Sms::new(&pki);
    let keys = sms.isd_p_with_keys(&pki, 0x10);
    // ISD-P 11 exists but has no keys: 9F44 01 03 and the script stops there.
    let create = Install::create_isd_p(isd_p(0x11), None).to_apdu().unwrap();
    assert_eq!(sms.isd_r(vec![create])[0].sw, StatusWord::Success);
    let other = protect(&keys, 0x11, 0, &minimal_package(MINIMAL_IMSI));
    let answer = sms.send(&other.scripts()[0], [0x00, 0x00, 0x11]);
    assert_eq!(
        answer.items,
        vec![ResponseTlv::Raw(Tlv::new(0x9F44_u32, vec![0x03]))]
    );

    // A TAR no ISD-P has: the PoR says TAR unknown.
    let (status, _) = run_to(
        &mut sms.card,
        &other.scripts()[0],
        Spi::SECURE,
        sms.counter,
        &keyset(),
        [0x00, 0x00, 0x12],
    );
    assert_eq!(status, PorStatus::TarUnknown);
    sms.counter += 1;

    // C-APDUs to an ISD-P's TAR: 6D00.
    let apdu = CommandApdu::new(0x80, 0xCA, 0x00, 0x66);
    let answer = sms.send(&CommandScript::of_apdus([apdu]), [0x00, 0x00, 0x10]);
    assert_eq!(sws(&answer), vec![StatusWord::InsNotSupported]);

    // A package the installer refuses (profile version 9): the statuses come back, the ISD-P
    // stays PERSONALIZED.
    let mut package =
        MinimalProfile::milenage("8949449999999990999", MINIMAL_IMSI, [1; 16], [2; 16])
            .build()
            .unwrap();
    let ProfileElement::Header(h) = &mut package.elements[0].element else {
        panic!("the header comes first");
    };
    h.major_version = 9;
    let mut download = protect(&keys, 0x10, 0, &package.to_der());
    for s in sms.download(&download, [0x00, 0x00, 0x10]) {
        download.checker.check_response_script(&s).unwrap();
    }
    let response = download.checker.response().unwrap();
    assert!(!response.is_ok());
    assert!(response
        .pe_status
        .iter()
        .any(|s| s.status == PeStatusCode::UnsupportedProfileVersion));
    assert_eq!(sms.life_cycle(0x10), life_cycle::PERSONALIZED);

    // A second package to an ISD-P that already holds one: refused, aborted.
    let mut first = protect(&keys, 0x10, 1, &minimal_package(MINIMAL_IMSI));
    for s in sms.download(&first, [0x00, 0x00, 0x10]) {
        first.checker.check_response_script(&s).unwrap();
    }
    assert!(first.checker.response().unwrap().is_ok());
    let mut second = protect(&keys, 0x10, 2, &minimal_package("001011111111111"));
    for s in sms.download(&second, [0x00, 0x00, 0x10]) {
        second.checker.check_response_script(&s).unwrap();
    }
    let response = second.checker.response().unwrap();
    assert!(response.profile_installation_aborted);
    assert_eq!(
        response.pe_status[0].status,
        crate::isd_p::download::NOT_PERSONALIZED_STATUS
    );
    assert_eq!(sms.life_cycle(0x10), life_cycle::ISD_P_DISABLED);
}

#[test]
fn a_session_does_not_outlive_its_isd_p() {
    let pki = pki();
    let mut sms = Sms::new(&pki);
    let keys = sms.isd_p_with_keys(&pki, 0x10);
    let der = minimal_package(MINIMAL_IMSI);
    let download = Scp03tHost::new(keys, 0x00, isd_p(0x10).as_bytes(), 0)
        .unwrap()
        .with_segment_size(200)
        .unwrap()
        .protect(&der)
        .unwrap();
    let scripts = download.scripts();
    assert!(scripts.len() > 2);
    let opened = raw_answers(&[sms.send(&scripts[0], [0, 0, 0x10])]);
    assert_eq!(opened[1], Tlv::new(0x85_u32, vec![]));

    // ISD-P 10 is deleted, created again and gets other keys before a reset.
    let delete = smsr_proto::gp::Delete::object(isd_p(0x10))
        .to_apdu()
        .unwrap();
    assert_eq!(sms.isd_r(vec![delete])[0].sw, StatusWord::Success);
    sms.isd_p_with_keys(&pki, 0x10);

    // The rest of the old session is out of order; nothing is installed.
    let answers = raw_answers(
        &scripts[1..]
            .iter()
            .map(|s| sms.send(s, [0, 0, 0x10]))
            .collect::<Vec<_>>(),
    );
    assert!(answers
        .iter()
        .all(|t| *t == Tlv::new(0x9F46_u32, vec![0x01])));
    assert_eq!(sms.life_cycle(0x10), life_cycle::PERSONALIZED);
}
