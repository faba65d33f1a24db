//! `--es5 scp80`: the script travels as an ETSI TS 102 225 secured packet (SCP80, the EIS's
//! ISD-R KIc/KID key set, the ISD-R's TAR, a counter from the registry) in SMS-PP data download
//! ENVELOPEs (`80 C2`), the way an SM-SR reaches a real eUICC over SMS; the PoR comes back in
//! the last ENVELOPE's response and carries the response script.
//!
//! Counters are taken from the registry and committed there *before* a packet is sent: a link
//! reserves [`COUNTER_BLOCK`] values in one transaction ([`Registry::reserve_counters`]), uses
//! them in order, and gives the unused ones back when dropped ([`Registry::release_counters`]).
//! A crash wastes the rest of a block, never reuses a value: the card accepts any counter higher
//! than the last it saw (SPI counter mode `10`).

use super::{Es5Error, Es5Link};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::registry::RegistryPool;
use crate::transport::Transport;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use smsr_proto::ota::host::{data_envelopes, open_por, SmsParameters};
use smsr_proto::ota::response::ResponseScript;
use smsr_proto::ota::scp80::ResponsePacket;
use smsr_proto::ota::scp80::{CommandHeader, KeySet, PorStatus, Spi};
use smsr_proto::ota::script::CommandScript;
use smsr_proto::ota::sms::{get_response, EnvelopeReply};
use smsr_proto::{CommandApdu, ResponseApdu};
use std::sync::Arc;

/// The SPI of every packet: counter higher than the card's, ciphered, cryptographic checksum,
/// PoR required in the ENVELOPE response, itself ciphered and checksummed (`16 21`... see
/// [`Spi::SECURE`]).
const SPI: Spi = Spi::SECURE;

/// An SCP80 link to the ISD-R of one card.
#[derive(Debug)]
pub struct Scp80Link<T: Transport> {
    transport: T,
    keyset: KeySet,
    tar: [u8; 3],
    eid: Eid,
    /// Registry connections for the counters, taken for each reservation (never held while
    /// waiting for another: a pool of their own).
    counters: Arc<RegistryPool>,
    /// The counter values reserved and not yet used: `next..=last`.
    reserved: Option<Reservation>,
}

/// Counter values reserved at once: one registry commit per block instead of per packet.
pub const COUNTER_BLOCK: u64 = 32;

#[derive(Debug, Clone, Copy)]
struct Reservation {
    next: u64,
    last: u64,
}

impl<T: Transport> Scp80Link<T> {
    /// A link with the EIS's first SCP80 key set (AES KIc/KID); counters in a registry of
    /// `registries`.
    pub fn new(transport: T, eis: &Eis, registries: &Arc<RegistryPool>) -> Result<Self, Es5Error> {
        let k = eis.isd_r.scp80.first().ok_or_else(|| {
            Es5Error::Input(format!(
                "the EIS of {} has no ISD-R SCP80 key set (isd_r.scp80), which --es5 scp80 \
                 needs; add it and register the EIS again with --replace, or use --es5 scp03",
                eis.eid
            ))
        })?;
        let keyset = k
            .keyset()
            .map_err(|e| Es5Error::Input(format!("EIS {e}")))?;
        Ok(Self {
            transport,
            keyset,
            tar: eis.isd_r_tar(),
            eid: eis.eid(),
            counters: Arc::clone(registries),
            reserved: None,
        })
    }

    /// The next counter value: from the current reservation, or a new block.
    fn next_counter(&mut self) -> Result<u64, Es5Error> {
        match self.reserved {
            Some(r) if r.next <= r.last => {
                self.reserved = Some(Reservation {
                    next: r.next + 1,
                    ..r
                });
                Ok(r.next)
            }
            _ => {
                let first = self.counters.get()?.reserve_counters(
                    &self.eid,
                    self.keyset.kvn,
                    COUNTER_BLOCK,
                )?;
                self.reserved = Some(Reservation {
                    next: first + 1,
                    last: first + COUNTER_BLOCK - 1,
                });
                Ok(first)
            }
        }
    }
}

impl<T: Transport> Drop for Scp80Link<T> {
    /// Gives the unused counter values back (best effort: kept, they are only skipped).
    fn drop(&mut self) {
        if let Some(r) = self.reserved.take() {
            if r.next <= r.last {
                let released = self.counters.get().and_then(|mut c| {
                    c.release_counters(&self.eid, self.keyset.kvn, r.next - 1, r.last)
                });
                if let Err(e) = released {
                    tracing::debug!("SCP80 counters {}..={} not given back: {e}", r.next, r.last);
                }
            }
        }
    }
}

/// Sends the ENVELOPEs of one packet and returns the PoR user data.
fn deliver<T: Transport>(
    transport: &mut T,
    envelopes: &[CommandApdu],
) -> Result<Vec<u8>, Es5Error> {
    let last = envelopes.len().saturating_sub(1);
    for (i, e) in envelopes.iter().enumerate() {
        let r = transport.send(e)?;
        let reply = EnvelopeReply::classify(&r);
        match reply {
            EnvelopeReply::Acknowledged if i < last => {}
            EnvelopeReply::Por(ud) | EnvelopeReply::ErrorWithPor(ud, _) if i == last => {
                return Ok(ud)
            }
            EnvelopeReply::GetResponse(n) if i == last => {
                let r = transport.send(&get_response(n))?;
                if !r.sw.is_success() {
                    return Err(Es5Error::BadResponse(format!(
                        "GET RESPONSE of the PoR answered {:04X}",
                        r.sw.to_u16()
                    )));
                }
                return Ok(r.data);
            }
            other => {
                return Err(Es5Error::BadResponse(format!(
                    "SMS-PP download ENVELOPE {} of {}: {other:?} (the card must answer \
                     9000, and the PoR to the last one)",
                    i + 1,
                    envelopes.len()
                )))
            }
        }
    }
    Err(Es5Error::BadResponse("no ENVELOPE to send".into()))
}

/// A PoR whose status is not OK as the error naming it.
fn check_por(status: PorStatus) -> Result<(), Es5Error> {
    if status == PorStatus::Ok {
        return Ok(());
    }
    Err(Es5Error::PorRefused {
        status: status.to_byte(),
        meaning: format!("{status:?}"),
        hint: por_hint(status),
    })
}

/// What a PoR status means for the user.
fn por_hint(status: PorStatus) -> &'static str {
    match status {
        PorStatus::RcCcDsFailed => {
            "the card rejected the packet's checksum: the EIS's KID (or KIc) is not the card's"
        }
        PorStatus::CounterLow => {
            "the card has seen a higher counter: the registry's counter is behind the card's; \
             raise the EIS's \"counter\" and register it again with --replace"
        }
        PorStatus::CounterHigh => "the counter jumped further than the card accepts",
        PorStatus::CounterBlocked => "the card's counter for this key set is exhausted",
        PorStatus::CipheringError => "the card could not decipher the packet: check the KIc",
        PorStatus::UnidentifiedSecurityError => "the card found a security error in the packet",
        PorStatus::TarUnknown => "the card has no application with this TAR: check the EIS's TAR",
        PorStatus::InsufficientSecurityLevel => {
            "the packet's security level is below the ISD-R's minimum"
        }
        _ => "see ETSI TS 102 225 §5.1.2",
    }
}

impl<T: Transport> Scp80Link<T> {
    /// The card transport under the link.
    pub(crate) fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends `data` as the secured data of one packet to the application with `tar`; returns
    /// the PoR's data (status checked to be OK).
    pub(crate) fn push(&mut self, tar: [u8; 3], data: &[u8]) -> Result<Vec<u8>, Es5Error> {
        let (por, header) = self.deliver_packet(tar, data)?;
        let keysets = std::slice::from_ref(&self.keyset);
        let por = ResponsePacket::decode(&por, &header, keysets)
            .map_err(|e| Es5Error::BadResponse(format!("PoR: {e}")))?;
        check_por(por.status)?;
        Ok(por.data)
    }

    /// Sends one packet; the PoR's user data and the packet's header.
    fn deliver_packet(
        &mut self,
        tar: [u8; 3],
        data: &[u8],
    ) -> Result<(Vec<u8>, CommandHeader), Es5Error> {
        let counter = self.next_counter()?;
        let header = CommandHeader {
            spi: SPI,
            kic: self.keyset.kic_indicator(),
            kid: self.keyset.kid_indicator(),
            tar,
            counter,
        };
        crate::keylog::scp80(tar, &self.keyset);
        let keysets = std::slice::from_ref(&self.keyset);
        let envelopes = data_envelopes(data, &header, keysets, &SmsParameters::default())
            .map_err(|e| Es5Error::Input(format!("cannot build the SCP80 packet: {e}")))?;
        Ok((deliver(&mut self.transport, &envelopes)?, header))
    }

    /// Sends `script` in one secured packet to the application with `tar` and opens the PoR.
    fn send_script(
        &mut self,
        tar: [u8; 3],
        script: &CommandScript,
    ) -> Result<ResponseScript, Es5Error> {
        let bytes = script
            .to_bytes()
            .map_err(|e| Es5Error::Input(format!("cannot build the SCP80 packet: {e}")))?;
        let (ud, header) = self.deliver_packet(tar, &bytes)?;
        let keysets = std::slice::from_ref(&self.keyset);
        let (por, answer) = open_por(&ud, &header, keysets)
            .map_err(|e| Es5Error::BadResponse(format!("PoR: {e}")))?;
        check_por(por.status)?;
        answer.ok_or_else(|| {
            Es5Error::BadResponse("the PoR is OK but carries no response script".into())
        })
    }
}

impl<T: Transport> Es5Link for Scp80Link<T> {
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error> {
        let script = CommandScript::of_apdus(commands.iter().cloned());
        let answer = self.send_script(self.tar, &script)?;
        Ok(answer.response_apdus().cloned().collect())
    }

    /// The packet goes to the target's TAR (bytes 13–15 of its AID, ETSI TS 101 220), secured
    /// with the ISD-R's key set: the SM-SR carries the SM-DP's ES8 script (ES3.SendData).
    fn run_script(
        &mut self,
        target: &Aid,
        script: &CommandScript,
    ) -> Result<ResponseScript, Es5Error> {
        let tar = target
            .tar()
            .ok_or_else(|| Es5Error::Input(format!("{target} has no TAR (bytes 13-15)")))?;
        self.send_script(tar, script)
    }

    fn reset(&mut self) -> Result<(), Es5Error> {
        self.transport.reset()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm_sr::registry::Registry;
    use crate::transport::TransportError;
    use smsr_proto::ota::card::OtaCard;
    use smsr_proto::ota::scp80::{MinimumSecurityLevel, ReceivingEntity};
    use smsr_proto::StatusWord;
    use std::path::Path;

    const EID: &str = "89001999000010000000000000000022";

    fn eid() -> Eid {
        EID.parse().unwrap()
    }
    const KIC: &str = "404142434445464748494A4B4C4D4E4F";
    const KID: &str = "505152535455565758595A5B5C5D5E5F";

    /// A card whose only application is an ISD-R behind SCP80 that answers `00 9000` to
    /// everything but DELETE (`6A88`).
    #[derive(Debug)]
    struct OtaOnlyCard {
        card: OtaCard,
        executed: Vec<u8>,
    }

    impl OtaOnlyCard {
        fn new(kid: &str) -> Self {
            Self {
                card: OtaCard::new(ReceivingEntity {
                    keysets: vec![KeySet::aes(
                        1,
                        &hex::decode(KIC).unwrap(),
                        &hex::decode(kid).unwrap(),
                    )],
                    tars: vec![([0, 0, 1], MinimumSecurityLevel::CC_CIPHERED_COUNTER)],
                }),
                executed: Vec::new(),
            }
        }
    }

    impl Transport for OtaOnlyCard {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            let cmd = CommandApdu::parse(command)?;
            let executed = &mut self.executed;
            let mut isd_r = |a: &CommandApdu| {
                executed.push(a.ins);
                if a.ins == 0xE4 {
                    ResponseApdu::status(StatusWord::ReferencedDataNotFound)
                } else {
                    ResponseApdu::success(vec![0x00])
                }
            };
            Ok(self.card.envelope(&cmd, &mut isd_r).response.to_bytes())
        }
        fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0x3B, 0x00])
        }
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn reader_name(&self) -> String {
            "SCP80 test card".into()
        }
    }

    fn setup(dir: &Path) -> (Eis, std::path::PathBuf) {
        let eis = Eis::from_json(&format!(
            r#"{{"version":1,"eid":"{EID}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100",
            "scp80":[{{"kvn":1,"kic":"{KIC}","kid":"{KID}","counter":5}}]}}}}"#
        ))
        .unwrap();
        let db = dir.join("smsr.db");
        Registry::open(&db).unwrap().register(&eis, false).unwrap();
        (eis, db)
    }

    #[test]
    fn script_runs_and_counters_advance() {
        let dir = tempfile::tempdir().unwrap();
        let (eis, db) = setup(dir.path());
        let mut link =
            Scp80Link::new(OtaOnlyCard::new(KID), &eis, &Registry::pool(&db, 2)).unwrap();
        let install = CommandApdu::new(0x80, 0xE6, 0x0C, 0x00).with_data(vec![0x10; 150]);
        let delete = CommandApdu::new(0x80, 0xE4, 0x00, 0x80).with_data(vec![0x4F, 0x00]);
        let r = link
            .run(&[install.clone(), delete, install.clone()])
            .unwrap();
        // The script stops at the failing DELETE.
        let sws: Vec<StatusWord> = r.iter().map(|r| r.sw).collect();
        assert_eq!(
            sws,
            [StatusWord::Success, StatusWord::ReferencedDataNotFound]
        );
        assert_eq!(link.transport.executed, [0xE6, 0xE4]);
        link.run(std::slice::from_ref(&install)).unwrap();
        // The EIS said 5: the link reserved 6..=37 in the registry before the first packet.
        let registry = Registry::open(&db).unwrap();
        assert_eq!(registry.counter(&eid(), 1).unwrap(), 5 + COUNTER_BLOCK);
        // Another link meanwhile takes values after that block.
        let mut other =
            Scp80Link::new(OtaOnlyCard::new(KID), &eis, &Registry::pool(&db, 2)).unwrap();
        other.run(std::slice::from_ref(&install)).unwrap();
        assert_eq!(
            registry.counter(&eid(), 1).unwrap(),
            5 + 2 * COUNTER_BLOCK,
            "the second block follows the first"
        );
        // The first link's unused values cannot be given back (a later block exists); the
        // second link's can: the two packets used 6 and 7, the other link 38.
        drop(link);
        assert_eq!(registry.counter(&eid(), 1).unwrap(), 5 + 2 * COUNTER_BLOCK);
        drop(other);
        assert_eq!(registry.counter(&eid(), 1).unwrap(), 6 + COUNTER_BLOCK);
    }

    #[test]
    fn unused_counters_are_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let (eis, db) = setup(dir.path());
        let mut link =
            Scp80Link::new(OtaOnlyCard::new(KID), &eis, &Registry::pool(&db, 2)).unwrap();
        for _ in 0..COUNTER_BLOCK + 1 {
            link.run(&[CommandApdu::new(0x80, 0xCA, 0x00, 0xE1)])
                .unwrap();
        }
        // 33 packets: a second block was reserved, and the card saw 6..=38.
        assert_eq!(
            link.transport.card.entity.keysets[0].counter,
            6 + COUNTER_BLOCK
        );
        drop(link);
        assert_eq!(
            Registry::open(&db).unwrap().counter(&eid(), 1).unwrap(),
            6 + COUNTER_BLOCK
        );
    }

    #[test]
    fn refusals_name_the_por_status() {
        let dir = tempfile::tempdir().unwrap();
        let (eis, db) = setup(dir.path());
        // The card holds another KID: the checksum fails, nothing runs.
        let mut link = Scp80Link::new(
            OtaOnlyCard::new(&"00".repeat(16)),
            &eis,
            &Registry::pool(&db, 2),
        )
        .unwrap();
        let err = link
            .run(&[CommandApdu::new(0x80, 0xCA, 0x00, 0xE1)])
            .unwrap_err();
        assert!(
            matches!(err, Es5Error::PorRefused { status: 0x01, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("KID"), "{err}");
        assert!(link.transport.executed.is_empty());
        // A counter the card has seen: a second link over the same card, its registry behind.
        let mut card = OtaOnlyCard::new(KID);
        card.card.entity.keysets[0].counter = 100;
        let mut link = Scp80Link::new(card, &eis, &Registry::pool(&db, 2)).unwrap();
        let err = link
            .run(&[CommandApdu::new(0x80, 0xCA, 0x00, 0xE1)])
            .unwrap_err();
        assert!(
            matches!(err, Es5Error::PorRefused { status: 0x02, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--replace"), "{err}");
    }

    #[test]
    fn eis_without_scp80_keys_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let eis = Eis::from_json(&format!(
            r#"{{"version":1,"eid":"{EID}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100"}}}}"#
        ))
        .unwrap();
        let err = Scp80Link::new(
            OtaOnlyCard::new(KID),
            &eis,
            &Registry::pool(&dir.path().join("db"), 2),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--es5 scp03"), "{err}");
    }
}
