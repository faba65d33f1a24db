//! Property tests over the whole module: no decoder panics on arbitrary bytes, whatever
//! decodes re-encodes to something that decodes to the same value, and typed commands survive
//! `to_apdu` → `from_apdu`.

use super::get_data::{CurrentSecurityLevel, Eid, Iin, SequenceCounter};
use super::get_status::ResponseFormat;
use super::install::{ForInstall, ForLoad};
use super::install_params::SystemParameter;
use super::manage_channel::ChannelOpened;
use super::put_key::{KeyComponent, KeyDataFormat};
use super::store_data::{DataStructure, Encryption};
use super::*;
use crate::apdu::CommandApdu;
use crate::tlv::{Tag, Tlv};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// BER-TLV made of the tags these decoders know, nested, with short random values: inputs
/// that get past the outer structure far more often than random bytes.
fn tlv_soup() -> impl Strategy<Value = Vec<u8>> {
    const TAGS: [u32; 36] = [
        0x4F, 0x9F70, 0xC5, 0xCF, 0xC4, 0xCE, 0x84, 0xCC, 0xE3, 0x6F, 0xA5, 0x73, 0x06, 0x60, 0x63,
        0x64, 0x9F65, 0x9F6E, 0xC0, 0xE0, 0x80, 0x81, 0x82, 0x83, 0xA0, 0xC9, 0xEF, 0xC7, 0xC8,
        0xEA, 0xB6, 0xE2, 0xC3, 0xD3, 0xD4, 0x66,
    ];
    let leaf = (prop::sample::select(TAGS.to_vec()), bytes(20))
        .prop_map(|(tag, value)| crate::tlv::tlv(tag, &value));
    let tree = leaf.prop_recursive(3, 64, 6, |inner| {
        (
            prop::sample::select(TAGS.to_vec()),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(tag, children)| crate::tlv::tlv(tag, &children.concat()))
    });
    prop::collection::vec(tree, 1..4).prop_map(|v| v.concat())
}

/// `E3` and `6F` templates with a valid AID (and life cycle) and soup inside.
fn templates() -> impl Strategy<Value = Vec<u8>> {
    use crate::tlv::tlv;
    (
        prop::collection::vec(any::<u8>(), 5..=16),
        any::<u8>(),
        tlv_soup(),
        any::<bool>(),
    )
        .prop_map(|(aid, lcs, soup, e3)| {
            if e3 {
                let inner = [tlv(0x4Fu8, &aid), tlv(0x9F70u16, &[lcs]), soup].concat();
                tlv(0xE3u8, &inner)
            } else {
                tlv(0x6Fu8, &[tlv(0x84u8, &aid), tlv(0xA5u8, &soup)].concat())
            }
        })
}

/// Whether decoding `again` (the re-encoding of a decoded value) gives that value back.
macro_rules! stable {
    ($parse:expr, $encode:expr, $input:expr) => {
        if let Ok(v) = $parse(&$input[..]) {
            let again = $encode(&v);
            prop_assert_eq!($parse(&again[..]).unwrap(), v);
        }
    };
}

fn data_object<T: DataObject + PartialEq + std::fmt::Debug>(b: &[u8]) -> Result<(), TestCaseError> {
    stable!(T::parse, T::to_bytes, b);
    // Also behind the right tag, so that the value decoder is reached.
    let wrapped = crate::tlv::tlv(Tag::new(u32::from(T::TAG)), b);
    stable!(T::parse, T::to_bytes, wrapped);
    Ok(())
}

proptest! {
    #[test]
    fn eid_text_round_trips_and_never_panics(raw in any::<[u8; 16]>(), text in ".{0,40}") {
        let eid = Eid(raw);
        prop_assert_eq!(eid.to_string().parse::<Eid>().unwrap(), eid);
        prop_assert_eq!(eid.to_string().to_lowercase().parse::<Eid>().unwrap(), eid);
        if let Ok(e) = Eid::from_hex(&text) {
            prop_assert_eq!(e.to_string(), text.to_uppercase());
        }
    }

    #[test]
    fn response_parsers_never_panic(b in prop_oneof![bytes(300), tlv_soup(), templates()]) {
        data_object::<CardData>(&b)?;
        data_object::<CardCapability>(&b)?;
        data_object::<KeyInformationTemplate>(&b)?;
        data_object::<Cplc>(&b)?;
        data_object::<ExtendedCardResources>(&b)?;
        data_object::<Eid>(&b)?;
        data_object::<Iin>(&b)?;
        data_object::<SequenceCounter>(&b)?;
        data_object::<CurrentSecurityLevel>(&b)?;
        stable!(CardRecognitionData::parse, CardRecognitionData::to_bytes, b);
        stable!(Fci::parse, Fci::to_bytes, b);
        let e3 = |d: &[u8]| RegistryEntry::parse_tlv_list(d);
        let e3_bytes = |l: &Vec<RegistryEntry>| l.iter().flat_map(RegistryEntry::to_tlv).collect::<Vec<_>>();
        stable!(e3, e3_bytes, b);
        for modules in [false, true] {
            let legacy = |d: &[u8]| RegistryEntry::parse_legacy_list(d, modules);
            let legacy_bytes = |l: &Vec<RegistryEntry>| {
                l.iter().flat_map(|e| e.to_legacy(modules)).collect::<Vec<_>>()
            };
            stable!(legacy, legacy_bytes, b);
        }
        stable!(InstallParameters::parse, InstallParameters::to_bytes, b);
        stable!(ConfirmationResponse::parse, ConfirmationResponse::to_bytes, b);
        if let Ok(c) = ConfirmationResponse::parse(&b) {
            let _ = c.decode();
        }
        stable!(LoadFile::parse, LoadFile::to_bytes, b);
        let dgis = |d: &[u8]| Dgi::parse_all(d);
        let dgi_bytes = |l: &Vec<Dgi>| Dgi::encode_all(l).unwrap();
        stable!(dgis, dgi_bytes, b);
        let _ = PutKeyResponse::parse(&b, &[3, 3, 3]);
        let _ = ChannelOpened::parse(&b);
        let _ = get_data::card_recognition::Oid(b.clone()).to_string();
        let _ = GetData::iso(0x5A).value_of(&b);
    }

    #[test]
    fn command_parsers_never_panic(
        ins in prop::sample::select(vec![0xA4u8, 0xCA, 0xCB, 0xF2, 0xE6, 0xE8, 0xE4, 0xE2, 0xF0, 0xD8, 0x70]),
        cla in any::<u8>(),
        p1 in any::<u8>(),
        p2 in any::<u8>(),
        data in bytes(300),
        le in prop::option::of(1usize..=256),
    ) {
        let apdu = CommandApdu { cla, ins, p1, p2, data, le };
        macro_rules! round_trip {
            ($t:ty) => {
                if let Ok(cmd) = <$t>::from_apdu(&apdu) {
                    if let Ok(again) = cmd.to_apdu() {
                        prop_assert_eq!(<$t>::from_apdu(&again).unwrap(), cmd);
                    }
                }
            };
        }
        round_trip!(Select);
        round_trip!(GetData);
        round_trip!(GetStatus);
        round_trip!(Load);
        round_trip!(StoreData);
        round_trip!(SetStatus);
        round_trip!(ManageChannel);
        macro_rules! chain_round_trip {
            ($t:ty) => {
                if let Ok(cmd) = <$t>::from_apdu(&apdu) {
                    let chain = cmd.to_apdus().unwrap();
                    prop_assert_eq!(<$t>::from_apdus(&chain).unwrap(), cmd);
                }
            };
        }
        chain_round_trip!(Install);
        chain_round_trip!(Delete);
        chain_round_trip!(PutKey);
    }

    #[test]
    fn typed_commands_round_trip(
        n in 0x10u16..,
        privileges in any::<[u8; 3]>(),
        one_byte in any::<bool>(),
        params in bytes(40),
        token in bytes(200),
        hash in bytes(64),
        make_selectable in any::<bool>(),
    ) {
        let aid = Aid::isd_p(n).unwrap();
        let privileges = if one_byte {
            Privileges::one_byte(privileges[0])
        } else {
            Privileges::new(privileges)
        };
        let installs = [
            Install::ForInstall {
                data: ForInstall {
                    load_file: Some(Aid::isd_p_load_file()),
                    module: None,
                    application: aid.clone(),
                    privileges,
                    parameters: params.clone(),
                    token: token.clone(),
                },
                make_selectable,
            },
            Install::CombinedStart(ForLoad {
                load_file: aid.clone(),
                security_domain: Some(Aid::isd_r()),
                hash,
                parameters: params,
                token,
            }),
        ];
        for install in installs {
            prop_assert_eq!(Install::from_apdus(&install.to_apdus().unwrap()).unwrap(), install);
        }
        let status = GetStatus::new(StatusScope::Applications).with_aid_prefix(&aid.as_bytes()[..usize::from(n % 17)]);
        prop_assert_eq!(GetStatus::from_apdu(&status.to_apdu().unwrap()).unwrap(), status);
        let entry = RegistryEntry {
            implicit_selection: vec![u8::try_from(n & 0xFF).unwrap()],
            ..RegistryEntry::new(aid, u8::try_from(n >> 8).unwrap(), Some(privileges))
        };
        prop_assert_eq!(RegistryEntry::parse_tlv_list(&entry.to_tlv()).unwrap(), vec![entry]);
    }

    #[test]
    fn store_data_and_load_blocks(
        data in bytes(2000),
        max in 1usize..300,
        encryption in prop::sample::select(vec![Encryption::NoInformation, Encryption::ApplicationDependent, Encryption::Encrypted]),
        structure in prop::sample::select(vec![DataStructure::NoInformation, DataStructure::Dgi, DataStructure::BerTlv]),
        response in any::<bool>(),
    ) {
        let template = StoreData { encryption, structure, response_expected: response, ..StoreData::new(data.clone()) };
        if let Ok(blocks) = template.split(max) {
            let mut card = BlockAssembler::new();
            let mut whole = None;
            for b in blocks {
                let cmd = StoreData::from_apdu(&b.to_apdu().unwrap()).unwrap();
                prop_assert_eq!((cmd.encryption, cmd.structure, cmd.response_expected), (encryption, structure, response));
                whole = card.push(cmd.block, cmd.last, &cmd.data).unwrap();
            }
            prop_assert_eq!(whole, Some(data.clone()));
        } else {
            prop_assert!(data.len().div_ceil(max.min(255)) > 256);
        }
        if let Ok(blocks) = Load::blocks(&data, max) {
            let mut card = BlockAssembler::new();
            let mut whole = None;
            for b in blocks {
                let cmd = Load::from_apdu(&b.to_apdu().unwrap()).unwrap();
                whole = card.push(cmd.block, cmd.last, &cmd.data).unwrap();
            }
            prop_assert_eq!(whole, Some(data));
        }
    }

    #[test]
    fn key_data_and_parameters_round_trip(
        types in prop::collection::vec(0x80u8..0xFF, 1..4),
        block_len in 1usize..200,
        kcv in bytes(8),
        extended in any::<bool>(),
        quota in any::<u32>(),
        cf in any::<u8>(),
    ) {
        let key = KeyData {
            components: types.iter().map(|&t| KeyComponent { key_type: t, block: vec![t; block_len] }).collect(),
            kcv,
            format: if extended {
                KeyDataFormat::Extended { usage: vec![0x14], access: vec![] }
            } else {
                KeyDataFormat::Basic
            },
        };
        let put = PutKey { replace_kvn: 0, first_key_id: 1, new_kvn: 0x30, keys: vec![key.clone(), key] };
        prop_assert_eq!(PutKey::from_apdus(&put.to_apdus().unwrap()).unwrap(), put.clone());
        let rsp = put.expected_response();
        prop_assert_eq!(put.parse_response(&rsp.to_bytes()).unwrap(), rsp);
        let params = InstallParameters {
            application_specific: Some(vec![cf]),
            system: Some(vec![
                SystemParameter::NonVolatileMemory(quota),
                SystemParameter::ImplicitSelection(cf),
                SystemParameter::Other(Tlv::new(0x83u8, vec![cf])),
            ]),
            ..InstallParameters::default()
        };
        prop_assert_eq!(InstallParameters::parse(&params.to_bytes()).unwrap(), params);
    }
}

#[test]
fn response_format_follow_up_is_finite() {
    // Paging never loops on an error status, and the fallback happens once.
    let mut cmd = GetStatus::new(StatusScope::LoadFiles);
    let mut steps = 0;
    while let Some(next) = cmd.follow_up(crate::status::StatusWord::IncorrectP1P2) {
        cmd = next;
        steps += 1;
    }
    assert_eq!((steps, cmd.format), (1, ResponseFormat::Legacy));
}
