//! GlobalPlatform data a card returns and commands a card receives (GP Card Specification
//! v2.3): SELECT FCI, GET DATA objects, GET STATUS registry entries, STORE DATA DGIs, INSTALL
//! parameters, load files, PUT KEY and MANAGE CHANNEL answers, delete confirmations, the
//! SGP.02 ES5 commands and notifications, and every command decoded from an APDU.
//!
//! The first byte selects the parser, the rest is its input. None of them may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::gp::get_data::{Cin, CurrentSecurityLevel, Eid, Iin, SequenceCounter};
use smsr_proto::gp::load::plain_data_block;
use smsr_proto::gp::{
    BlockAssembler, CardCapability, CardData, CardRecognitionData, ChannelOpened,
    ConfirmationResponse, Cplc, DataObject, Delete, Dgi, ExtendedCardResources, Fci, GetData,
    GetStatus, Install, InstallParameters, KeyInformationTemplate, Load, LoadFile, ManageChannel,
    Privileges, PutKey, PutKeyResponse, RegistryEntry, Select, SetStatus, StoreData,
};
use smsr_proto::sgp02::{parse_confirmation_response, Es5Command, Notification};
use smsr_proto::CommandApdu;

fn data_objects(d: &[u8]) {
    let _ = CardRecognitionData::parse(d);
    let _ = CardData::parse(d);
    let _ = CardCapability::parse(d);
    let _ = Cplc::parse(d);
    let _ = KeyInformationTemplate::parse(d);
    let _ = Eid::parse(d);
    let _ = SequenceCounter::parse(d);
    let _ = CurrentSecurityLevel::parse(d);
    let _ = ExtendedCardResources::parse(d);
    let _ = Iin::parse(d);
    let _ = Cin::parse(d);
    let _ = CardRecognitionData::from_value(d, 0);
    let _ = CardCapability::from_value(d, 0);
    let _ = Cplc::from_value(d, 0);
    let _ = KeyInformationTemplate::from_value(d, 0);
    let _ = ExtendedCardResources::from_value(d, 0);
}

fn commands(d: &[u8]) {
    let Ok(apdu) = CommandApdu::parse(d) else {
        return;
    };
    let _ = Select::from_apdu(&apdu);
    let _ = GetData::from_apdu(&apdu);
    let _ = GetStatus::from_apdu(&apdu);
    let _ = PutKey::from_apdu(&apdu);
    let _ = ManageChannel::from_apdu(&apdu);
    let _ = Delete::from_apdu(&apdu);
    let _ = SetStatus::from_apdu(&apdu);
    let _ = StoreData::from_apdu(&apdu);
    let _ = Load::from_apdu(&apdu);
    let _ = Install::from_apdu(&apdu);
    let _ = Es5Command::from_apdu(&apdu);
    if let Ok(g) = GetData::from_apdu(&apdu) {
        let _ = g.value_of(&apdu.data);
    }
    if let Ok(s) = GetStatus::from_apdu(&apdu) {
        let _ = s.parse_response(&apdu.data);
    }
    let apdus = [apdu.clone(), apdu];
    let _ = PutKey::from_apdus(&apdus);
    let _ = Delete::from_apdus(&apdus);
    let _ = Install::from_apdus(&apdus);
}

fn responses(d: &[u8]) {
    let _ = Fci::parse(d);
    let _ = RegistryEntry::parse_tlv_list(d);
    let _ = RegistryEntry::parse_legacy_list(d, false);
    let _ = RegistryEntry::parse_legacy_list(d, true);
    let _ = ChannelOpened::parse(d);
    if let Ok(c) = ConfirmationResponse::parse(d) {
        let _ = c.decode();
    }
    let _ = parse_confirmation_response(d);
    let _ = Notification::parse(d);
    let _ = Privileges::from_bytes(d);
}

fn card_side(d: &[u8]) {
    let _ = Dgi::parse(d);
    let _ = Dgi::parse_all(d);
    let _ = InstallParameters::parse(d);
    let _ = LoadFile::parse(d);
    let _ = plain_data_block(d);
    if let Some((&n, rest)) = d.split_first() {
        let kcv: Vec<usize> = (0..usize::from(n % 4)).map(|i| [0, 3, 5, 16][i]).collect();
        let _ = PutKeyResponse::parse(rest, &kcv);
    }
    // Blocks of a LOAD or STORE DATA sequence: `block last len data…` records.
    let mut blocks = BlockAssembler::new();
    let mut rest = d;
    while let [block, last, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let _ = blocks.push(*block, *last & 1 == 1, &tail[..n]);
        rest = &tail[n..];
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => data_objects(rest),
        1 => commands(rest),
        2 => responses(rest),
        _ => card_side(rest),
    }
});
