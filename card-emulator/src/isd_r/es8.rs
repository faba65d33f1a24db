//! ES8 EstablishISDPKeySet on the card (SGP.02 §4.1.3.x; GP Amendment E scenario #3;
//! `shared/protocol/SGP02.md` §3): the ISD-R forwards the SM-DP's STORE DATA commands to a
//! new ISD-P named by INSTALL [for personalization], and the ISD-P, with the ECASD's keys,
//! runs [`smsr_proto::ecka::card`].
//!
//! ```text
//! 80 E6 20 00 16 0000 10 <ISD-P AID> 000000      → 00 9000
//! 80 E2 09 00 Lc 3A01 L <CERT.DP.ECDSA 7F21…>    → 85 10 <RC> 9000
//! 80 E2 89 01 Lc 3A02 L <A6…> 7F49 L <ePK> 5F37 40 <sig>
//!                                                → 85 10 <DR> 86 10 <receipt> 9000
//! ```
//!
//! The ISD-P must be SELECTABLE (`07`, just created by CreateISDP); afterwards it holds the
//! derived SCP03 key set and is PERSONALIZED (`0F`), selectable and open to SCP03 sessions
//! with those keys ([`crate::isd_p::sd`]). Status words (one table:
//! [`smsr_proto::sgp02::codings`]):
//!
//! - INSTALL naming no ISD-P: `6A88` ([`SW_UNKNOWN_ISD_P`]); an ISD-P that is not SELECTABLE,
//!   or a card whose ECASD has no key agreement key (made without `--pki`, or migrated from
//!   state file version 3): `6985` ([`SW_ES8_STATE`], with a log line saying why);
//! - STORE DATA out of order (`3A01` as block `00`, then `3A02` as the last block `01`), not in
//!   DGI format, or without P1 b1 (response expected): `6985`, or `6A86` for bad P1;
//! - CERT.DP.ECDSA that does not verify with PK.CI.ECDSA, with another key usage or role, or a
//!   `3A02` signature that does not verify with PK.DP.ECDSA: `6982` ([`SW_ES8_VERIFICATION`]);
//! - a data field that does not decode: `6A80` ([`SW_ES8_DATA`]).
//!
//! Any refusal ends the personalization: the SM-DP starts again with INSTALL. Another command
//! than STORE DATA ends it too, as does the end of the secure channel session.
//!
//! The same forwarding carries ES8 profile download on the SCP03 path (where no SCP80 packet
//! can be addressed to the ISD-P's TAR): after INSTALL [for personalization] of an ISD-P that
//! holds a key set, STORE DATA blocks in BER-TLV format (P1 b5b4 `10`) carry a TS 102 226
//! command script, the one an SCP80 packet would carry (`AE 80 … 84/85/86 … 00 00`). The
//! ISD-P runs it when the last block arrives (`ota/download.rs`: the same SCP03t receiver
//! rules) and the response script is the last block's response data; intermediate blocks are
//! answered `9000`. The last block ends the forwarding, as `3A02` does: each script starts
//! with its own INSTALL [for personalization].
//!
//! ```text
//! 80 E6 20 00 16 0000 10 <ISD-P AID> 000000      → 00 9000
//! 80 E2 10 00 Lc <script bytes 1..n>             → 9000
//! 80 E2 91 01 Lc <script bytes n+1..>            → AB 80 80 01 <count> <response TLVs> 00 00 9000
//! ```

use crate::isd_p::download::{run_on_isd_p, Downloads};
use crate::nv::Nv;
use smsr_proto::ecka::{CardConfig, CertificateAccepted, EckaError, KeySetCard};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::store_data::DataStructure;
use smsr_proto::gp::{Aid, BlockAssembler, GpError, Install, StoreData};
use smsr_proto::sgp02::codings::{
    SW_ES8_DATA, SW_ES8_STATE, SW_ES8_VERIFICATION, SW_UNKNOWN_ISD_P,
};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// INSTALL P1 of [for personalization] (GPCS §11.5.2.1).
pub const P1_FOR_PERSONALIZATION: u8 = 0x20;

/// A key establishment in progress for one ISD-P.
#[derive(Debug)]
pub(crate) struct Personalization {
    target: Aid,
    step: Step,
}

#[derive(Debug)]
enum Step {
    /// Waiting for `3A01` (key establishment) or a script's first block. `None` when the
    /// ISD-P takes scripts only (it has a key set already).
    Certificate(Option<KeySetCard>),
    /// Waiting for `3A02`.
    KeyParameters(Box<CertificateAccepted>),
    /// Receiving the blocks of a command script for the ISD-P.
    Script(BlockAssembler),
}

/// INSTALL [for personalization]: names the ISD-P the following STORE DATA go to.
pub(super) fn install(
    slot: &mut Option<Personalization>,
    nv: &Nv,
    cmd: &CommandApdu,
) -> ResponseApdu {
    *slot = None;
    match start(nv, cmd) {
        Ok(p) => {
            *slot = Some(p);
            // GPCS §11.5.3.1: `00` when no confirmation is asked for.
            ResponseApdu::success(vec![0x00])
        }
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn start(nv: &Nv, cmd: &CommandApdu) -> Result<Personalization, StatusWord> {
    let Ok(Install::ForPersonalization(target)) = Install::from_apdu(cmd) else {
        return Err(StatusWord::IncorrectData);
    };
    let state = nv.get();
    let (record, _) = state
        .registry()
        .isd_p(target.as_bytes())
        .ok_or(SW_UNKNOWN_ISD_P)?;
    let keyed = state.isd_p_scp03(target.as_bytes()).is_some();
    if record.life_cycle != life_cycle::SELECTABLE {
        if keyed {
            // Scripts only (profile download): a `3A01` will be refused.
            return Ok(Personalization {
                target,
                step: Step::Certificate(None),
            });
        }
        tracing::info!(
            "ES8: ISD-P {target} is in life cycle {:02X}, not SELECTABLE (07): key establishment refused",
            record.life_cycle
        );
        return Err(SW_ES8_STATE);
    }
    let Some(ecasd) = state.ecasd_keys() else {
        tracing::warn!(
            "ES8: the ECASD holds no key agreement key (card made without --pki, or state \
             file migrated from version 3): key establishment for {target} refused with 6985"
        );
        return Err(SW_ES8_STATE);
    };
    let config = CardConfig {
        variant: state.ecka_reading().variant(),
        ..CardConfig::default()
    };
    let card = KeySetCard::new(ecasd.ci, ecasd.key.clone(), config);
    Ok(Personalization {
        target,
        step: Step::Certificate(Some(card)),
    })
}

/// STORE DATA while a personalization is in progress.
pub(super) fn store_data(
    slot: &mut Option<Personalization>,
    downloads: &mut Downloads,
    nv: &mut Nv,
    cmd: &CommandApdu,
) -> ResponseApdu {
    let Some(p) = slot.take() else {
        return ResponseApdu::status(SW_ES8_STATE);
    };
    match step(p, downloads, nv, cmd) {
        Ok((next, data)) => {
            *slot = next;
            ResponseApdu::success(data)
        }
        Err(sw) => ResponseApdu::status(sw),
    }
}

type Outcome = Result<(Option<Personalization>, Vec<u8>), StatusWord>;

fn step(p: Personalization, downloads: &mut Downloads, nv: &mut Nv, cmd: &CommandApdu) -> Outcome {
    let block = StoreData::from_apdu(cmd).map_err(|_| StatusWord::IncorrectP1P2)?;
    let target = p.target;
    if block.structure == DataStructure::BerTlv {
        let mut blocks = match p.step {
            Step::Certificate(_) => BlockAssembler::new(),
            Step::Script(blocks) => blocks,
            Step::KeyParameters(_) => return Err(SW_ES8_STATE),
        };
        let script = match blocks.push(block.block, block.last, &block.data) {
            Ok(None) => {
                let next = Personalization {
                    target,
                    step: Step::Script(blocks),
                };
                return Ok((Some(next), Vec::new()));
            }
            Ok(Some(script)) => script,
            Err(GpError::BlockSequence { .. }) => return Err(StatusWord::IncorrectP1P2),
            Err(_) => return Err(StatusWord::WrongLength),
        };
        if !block.response_expected {
            return Err(StatusWord::IncorrectP1P2);
        }
        let response =
            run_on_isd_p(downloads, nv, &target, &script).ok_or(StatusWord::IncorrectData)?;
        return Ok((None, response));
    }
    if !block.response_expected {
        return Err(StatusWord::IncorrectP1P2);
    }
    if block.structure != DataStructure::Dgi {
        return Err(SW_ES8_STATE);
    }
    match (p.step, block.block, block.last) {
        (Step::Certificate(None), ..) => {
            tracing::info!(
                "ES8: ISD-P {target} has a key set already (not SELECTABLE): key establishment refused"
            );
            Err(SW_ES8_STATE)
        }
        (Step::Certificate(Some(card)), 0, false) => {
            let (accepted, response) = card
                .receive_certificate(&block.data)
                .map_err(|e| refusal(&target, "3A01", &e))?;
            Ok((
                Some(Personalization {
                    target,
                    step: Step::KeyParameters(Box::new(accepted)),
                }),
                response,
            ))
        }
        (Step::KeyParameters(accepted), 1, true) => {
            let (keys, response) = accepted
                .receive_key_parameters(&block.data)
                .map_err(|e| refusal(&target, "3A02", &e))?;
            nv.get_mut()
                .personalize_isd_p(target.as_bytes(), keys.keys)?;
            tracing::info!("ES8: ISD-P {target} has its key set and is PERSONALIZED (0F)");
            Ok((None, response))
        }
        _ => Err(SW_ES8_STATE),
    }
}

/// The status word of a refused `3A01`/`3A02`.
fn refusal(target: &Aid, dgi: &str, e: &EckaError) -> StatusWord {
    tracing::info!("ES8: {dgi} for ISD-P {target} refused: {e}");
    match e {
        EckaError::CertificateRejected(_)
        | EckaError::WrongEntity { .. }
        | EckaError::SignatureInvalid => SW_ES8_VERIFICATION,
        EckaError::Random => StatusWord::NoPreciseDiagnosis,
        _ => SW_ES8_DATA,
    }
}
