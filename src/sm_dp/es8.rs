//! The SM-DP (SGP.02 ES8), carried to the card by the SM-SR's ES5 link (ES3.SendData):
//! key establishment for a new ISD-P, SCP03t profile download, and the check that the
//! downloaded profile's credentials work.
//!
//! - [`establish_keys`]: GP Amendment E scenario #3 through the ISD-R (INSTALL [for
//!   personalization] of the ISD-P, STORE DATA `3A01` CERT.DP.ECDSA → `85` challenge, STORE DATA
//!   `3A02` → `85` DR, `86` receipt). PK.ECASD.ECKA comes from the registered EIS, verified
//!   against CERT.EUM and PK.CI — never from the card unverified.
//! - [`download`]: the package protected offline with SCP03t (`84`, `85`, `86`…) in chained
//!   command scripts addressed to the ISD-P; every answer's R-MAC checked and the final
//!   `EUICCResponse` decrypted.
//! - [`exchange_keys`], [`probe`]: key establishment with a chosen reading of the open points,
//!   and the calibration of `smsr keys establish --probe`.
//! - [`check_profile`]: SELECT of the USIM, READ BINARY of EF.IMSI, and AUTHENTICATE (3G
//!   context) with a fresh RAND and an AUTN computed from the SM-DP's copy of K/OPc; RES, CK and
//!   IK must match, so a corrupted key on the card is caught.

use crate::hexfmt;
use crate::sm_sr::eis::Eis;
use crate::sm_sr::es5::{Es5Error, Es5Link};
use serde::Serialize;
use smsr_proto::auth::authenticate::{AuthenticateCommand, AuthenticateResponse};
use smsr_proto::auth::AkaAlgorithm;
use smsr_proto::ecka::host::{EstablishIsdpKeySet, EstablishedKeySet, HostConfig};
use smsr_proto::ecka::EckaVariant;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::install::Install;
use smsr_proto::pki::dir::read_issued_party;
use smsr_proto::pki::test_pki::verify_ecasd_certificate;
use smsr_proto::pki::test_pki::Party;
use smsr_proto::pki::Certificate;
use smsr_proto::saip::identity::imsi_from_ef;
use smsr_proto::saip::{EuiccResponse, Package, PeKind};
use smsr_proto::scp03t::host::Scp03tHost;
use smsr_proto::{CommandApdu, ResponseApdu};
use std::path::Path;
use thiserror::Error;

pub mod probe;

pub use probe::variant_text;

/// Why an SM-DP function failed.
#[derive(Debug, Error)]
pub enum Es8Error {
    #[error(transparent)]
    Es5(#[from] Es5Error),
    /// The SM-DP's own material (PKI directory, EIS certificates, package) is not usable.
    #[error("{0}")]
    Input(String),
    /// The card's answer failed a cryptographic check.
    #[error("{0}")]
    Security(String),
    /// Key establishment went through on the card (the ISD-P is PERSONALIZED) but its receipt
    /// does not verify: the ISD-P holds keys the SM-DP does not know.
    #[error("{0}")]
    ReceiptMismatch(String),
    /// The card installed nothing, or not everything.
    #[error("the card refused the profile: {0}")]
    Refused(String),
}

/// The SM-DP: CERT.DP.ECDSA with its key, and the CI's certificate, from a PKI directory
/// (`smsr pki init`). The other parties' keys are not read: an SM-DP holds only its own.
#[derive(Debug)]
pub struct SmDp {
    ci: Certificate,
    sm_dp: Party,
}

impl SmDp {
    pub fn from_pki_dir(dir: &Path) -> Result<Self, Es8Error> {
        let key = smsr_proto::pki::dir::key_path(dir, "sm-dp");
        crate::secret_file::check_private(&key, "the SM-DP's private key")
            .map_err(Es8Error::Input)?;
        read_issued_party(dir, "sm-dp")
            .map(|(ci, sm_dp)| Self { ci, sm_dp })
            .map_err(|e| Es8Error::Input(format!("SM-DP PKI directory {}: {e}", dir.display())))
    }
}

fn certificate(eis: &Eis, field: &str, value: Option<&String>) -> Result<Certificate, Es8Error> {
    let text = value.ok_or_else(|| {
        Es8Error::Input(format!(
            "the EIS of {} has no {field}: the SM-DP needs CERT.ECASD.ECKA and CERT.EUM from \
             the EIS (euicc-emulator init --eis-out writes both)",
            eis.eid
        ))
    })?;
    let bytes = hexfmt::parse(text).map_err(|e| Es8Error::Input(format!("EIS {field}: {e}")))?;
    Certificate::decode(&bytes).map_err(|e| Es8Error::Input(format!("EIS {field}: {e}")))
}

fn run_ok(
    link: &mut dyn Es5Link,
    what: &str,
    commands: &[CommandApdu],
) -> Result<ResponseApdu, Es8Error> {
    let responses = link.run(commands)?;
    match responses.last() {
        Some(r) if responses.len() == commands.len() && r.sw.is_success() => Ok(r.clone()),
        Some(r) => Err(Es5Error::Refused {
            what: what.to_owned(),
            sw: r.sw,
            hint: String::new(),
        }
        .into()),
        None => Err(Es8Error::Refused(format!("{what}: no response"))),
    }
}

/// ES8.EstablishISDPKeySet on `isd_p` with the default reading of the open points: returns the
/// ISD-P's new SCP03 key set after the card's receipt verified.
pub fn establish_keys(
    link: &mut dyn Es5Link,
    eis: &Eis,
    dp: &SmDp,
    isd_p: &Aid,
) -> Result<EstablishedKeySet, Es8Error> {
    match exchange_keys(link, eis, dp, isd_p, EckaVariant::default())? {
        KeyExchange::Established(keys) => Ok(keys),
        KeyExchange::CertificateRefused { sw } => Err(Es5Error::Refused {
            what: CERTIFICATE_STEP.to_owned(),
            sw,
            hint: String::new(),
        }
        .into()),
        KeyExchange::ReceiptMismatch { identified } => Err(Es8Error::ReceiptMismatch(format!(
            "the card's receipt does not verify: the card derived other keys{}; `smsr keys \
             establish --probe` reports the card's reading (see the README's Assumptions)",
            match identified {
                Some(v) => format!(" (its receipt matches the reading {})", variant_text(&v)),
                None => String::new(),
            }
        ))),
    }
}

const CERTIFICATE_STEP: &str = "ES8 STORE DATA 3A01 (CERT.DP.ECDSA)";

/// How one key establishment ended, short of a transport or input failure.
#[derive(Debug)]
pub enum KeyExchange {
    /// The receipt verified with the reading asked for: the key set both sides hold.
    Established(EstablishedKeySet),
    /// The card refused STORE DATA `3A01` (CERT.DP.ECDSA) with this status word; it may read
    /// the block length the other way ([`smsr_proto::ecka::BlockLength`]).
    CertificateRefused { sw: smsr_proto::StatusWord },
    /// The card answered a receipt that the reading asked for does not reproduce; `identified`
    /// is the first of [`EckaVariant::receipt_candidates`] that does, if any. The card holds a
    /// key set the SM-DP did not adopt.
    ReceiptMismatch { identified: Option<EckaVariant> },
}

/// ES8.EstablishISDPKeySet on `isd_p` with the reading `variant` (its `3A01` length coding
/// included). A refused `3A01` and a receipt mismatch are outcomes, not errors, so that a
/// caller can calibrate ([`probe`]).
pub fn exchange_keys(
    link: &mut dyn Es5Link,
    eis: &Eis,
    dp: &SmDp,
    isd_p: &Aid,
    variant: EckaVariant,
) -> Result<KeyExchange, Es8Error> {
    let ecasd = certificate(eis, "ecasd.certificate", eis.ecasd.certificate.as_ref())?;
    let eum = certificate(eis, "eum_certificate", eis.eum_certificate.as_ref())?;
    verify_ecasd_certificate(&ecasd, &eum, dp.ci.public_key()).map_err(|e| {
        Es8Error::Security(format!(
            "the EIS's ECASD certificate does not chain to the CI through CERT.EUM: {e}"
        ))
    })?;
    let bad = |e: smsr_proto::ecka::EckaError| Es8Error::Input(e.to_string());
    let start = EstablishIsdpKeySet::new(
        HostConfig {
            variant,
            ..HostConfig::default()
        },
        dp.sm_dp.certificate.clone(),
        dp.sm_dp.key.clone(),
        &ecasd,
    )
    .map_err(bad)?;
    let mut first = Install::ForPersonalization(isd_p.clone())
        .to_apdus()
        .map_err(|e| Es8Error::Input(e.to_string()))?;
    first.push(
        start
            .certificate_command()
            .map_err(bad)?
            .to_apdu()
            .map_err(|e| Es8Error::Input(e.to_string()))?,
    );
    let responses = link.run(&first)?;
    let rc = match responses.last() {
        Some(r) if responses.len() == first.len() && r.sw.is_success() => r.clone(),
        // The INSTALL went through and the STORE DATA was refused.
        Some(r) if responses.len() == first.len() => {
            return Ok(KeyExchange::CertificateRefused { sw: r.sw })
        }
        Some(r) => {
            return Err(Es5Error::Refused {
                what: "ES8 INSTALL [for personalization] of the ISD-P".to_owned(),
                sw: r.sw,
                hint: String::new(),
            }
            .into())
        }
        None => {
            return Err(Es8Error::Refused(format!(
                "{CERTIFICATE_STEP}: no response"
            )))
        }
    };
    let awaiting = start
        .receive_challenge(&rc.data)
        .map_err(|e| Es8Error::Security(format!("the card's challenge (85) to 3A01: {e}")))?;
    let second = awaiting
        .key_parameters_command()
        .to_apdu()
        .map_err(|e| Es8Error::Input(e.to_string()))?;
    let receipt = run_ok(link, "ES8 STORE DATA 3A02 (key parameters)", &[second])?;
    let identified = awaiting
        .identify_variant(&receipt.data)
        .map_err(|e| Es8Error::Security(format!("the card's receipt (85 DR, 86): {e}")))?;
    match awaiting.receive_receipt(&receipt.data) {
        Ok(keys) => Ok(KeyExchange::Established(keys)),
        Err(smsr_proto::ecka::EckaError::ReceiptMismatch) => {
            Ok(KeyExchange::ReceiptMismatch { identified })
        }
        Err(e) => Err(Es8Error::Security(format!("the card's receipt: {e}"))),
    }
}

/// The outcome of a download.
#[derive(Debug, Serialize)]
pub struct Downloaded {
    /// `86` segments sent.
    pub segments: usize,
    /// Per-PE status, as the card reported it: (identification, status name).
    pub pe_status: Vec<(Option<u16>, String)>,
}

/// SCP03t download of `package` into `isd_p` with the key set from [`establish_keys`] (its
/// sequence counter is 0 after key establishment).
pub fn download(
    link: &mut dyn Es5Link,
    isd_p: &Aid,
    keys: &EstablishedKeySet,
    package: &[u8],
) -> Result<Downloaded, Es8Error> {
    let host = Scp03tHost::new(keys.keys.clone(), keys.key_id, isd_p.as_bytes(), 0)
        .map_err(|e| Es8Error::Input(e.to_string()))?;
    let mut protected = host
        .protect(package)
        .map_err(|e| Es8Error::Input(format!("profile package: {e}")))?;
    if let Some((host_challenge, card_challenge, session)) = protected.session_secrets() {
        crate::keylog::scp03t(host_challenge, card_challenge, session);
    }
    let scripts = protected.scripts_of(link.script_limit());
    for script in &scripts {
        let answer = link.run_script(isd_p, script)?;
        protected
            .checker
            .check_response_script(&answer)
            .map_err(scp03t_error)?;
    }
    let response: EuiccResponse = protected.checker.response().cloned().ok_or_else(|| {
        Es8Error::Refused("the last segment's answer carries no EUICCResponse".into())
    })?;
    let pe_status = response
        .pe_status
        .iter()
        .map(|s| (s.identification, s.status.name()))
        .collect();
    if !response.is_ok() {
        return Err(Es8Error::Refused(format!(
            "EUICCResponse {}{}",
            hexfmt::upper(&response.to_der()),
            response
                .status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )));
    }
    Ok(Downloaded {
        segments: protected.commands.len().saturating_sub(2),
        pe_status,
    })
}

/// An SCP03t failure as an SM-DP error: the card refusing the data's structure (reason `01`)
/// or the script's format is a refusal of the profile; a failed cryptogram or MAC on either
/// side, or keys the card does not have, is a security failure.
fn scp03t_error(e: smsr_proto::scp03t::Scp03tError) -> Es8Error {
    use smsr_proto::scp03t::{ErrorReason, Scp03tError};
    match e {
        Scp03tError::CardError {
            reason: ErrorReason::Structure,
            ..
        }
        | Scp03tError::BadScript(_) => Es8Error::Refused(format!(
            "SCP03t: {e}: the package or its segments are malformed"
        )),
        e => Es8Error::Security(format!("SCP03t: {e}")),
    }
}

/// What [`check_profile`] found.
#[derive(Debug, Serialize)]
pub struct ProfileCheck {
    pub imsi: String,
    /// Whether RES, CK and IK matched the SM-DP's computation.
    pub authenticated: bool,
    /// Whether a re-synchronisation (AUTS) was needed first.
    pub resynchronised: bool,
}

/// The USIM application of TS 31.102 (RID `A000000087`, application code `1002`): the prefix
/// SELECT by DF name uses, partial AID (TS 102 221 §11.1.1.2).
const USIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

fn send(
    card: &mut dyn FnMut(&CommandApdu) -> Result<ResponseApdu, Es8Error>,
    hex: &str,
    what: &str,
) -> Result<ResponseApdu, Es8Error> {
    let bytes = hexfmt::parse(hex).map_err(|e| Es8Error::Input(e.to_string()))?;
    let cmd = CommandApdu::parse(&bytes).map_err(|e| Es8Error::Input(e.to_string()))?;
    let r = card(&cmd)?;
    if !r.sw.is_success() {
        return Err(Es8Error::Refused(format!(
            "{what}: the card answered {:04X} ({})",
            r.sw.to_u16(),
            r.sw.meaning()
        )));
    }
    Ok(r)
}

/// Proves the enabled profile works: its USIM answers SELECT, READ BINARY of EF.IMSI (which
/// must be the package's IMSI) and AUTHENTICATE computed from the package's K/OPc. `card`
/// sends one APDU in clear on the basic channel.
pub fn check_profile(
    card: &mut dyn FnMut(&CommandApdu) -> Result<ResponseApdu, Es8Error>,
    package: &Package,
) -> Result<ProfileCheck, Es8Error> {
    let expected_imsi = package
        .file_system(PeKind::Usim)
        .and_then(|u| u.file("ef-imsi"))
        .and_then(|f| imsi_from_ef(&f.content(0xFF)).ok())
        .ok_or_else(|| Es8Error::Input("the package has no USIM EF.IMSI".into()))?;
    let algorithm = package
        .aka_parameters()
        .next()
        .and_then(|a| a.algo_parameter())
        .ok_or_else(|| {
            Es8Error::Input("the package has no akaParameter with algoParameter".into())
        })?
        .algorithm()
        .map_err(|e| Es8Error::Input(format!("akaParameter: {e}")))?;
    let select = format!(
        "00A40404{:02X}{}",
        USIM_AID_PREFIX.len(),
        hexfmt::upper(&USIM_AID_PREFIX)
    );
    send(card, &select, "SELECT of the USIM")?;
    send(card, "00A40004026F07", "SELECT EF.IMSI")?;
    let imsi_ef = send(card, "00B0000009", "READ BINARY EF.IMSI")?;
    let imsi = imsi_from_ef(&imsi_ef.data)
        .map_err(|e| Es8Error::Refused(format!("EF.IMSI {}: {e}", hexfmt::upper(&imsi_ef.data))))?;
    if imsi != expected_imsi {
        return Err(Es8Error::Refused(format!(
            "EF.IMSI on the card is {imsi}, the profile has {expected_imsi}"
        )));
    }
    let mut rand = [0u8; 16];
    getrandom::getrandom(&mut rand).map_err(|e| Es8Error::Input(format!("no randomness: {e}")))?;
    // SEQ 1, IND 0 (TS 33.102 Annex C): right for a new profile; a card that has seen more
    // answers AUTS, and the next try starts after its SQN_MS.
    let mut sqn: u64 = 1 << 5;
    let mut resynchronised = false;
    for _ in 0..2 {
        let s = sqn.to_be_bytes();
        let sqn_bytes = [s[2], s[3], s[4], s[5], s[6], s[7]];
        let v = algorithm.generate_vector(&rand, &sqn_bytes, &[0x80, 0x00]);
        let cmd = AuthenticateCommand { rand, autn: v.autn }.to_apdu();
        let r = card(&cmd)?;
        if r.sw.to_u16() == 0x9862 {
            return Err(Es8Error::Security(
                "the USIM rejected the network's AUTN (MAC failure, 9862): the card's K/OPc \
                 differ from the SM-DP's"
                    .into(),
            ));
        }
        match AuthenticateResponse::from_response_apdu(&r) {
            Ok(AuthenticateResponse::Success { res, ck, ik, .. }) => {
                let authenticated = res == v.xres && ck == v.ck && ik == v.ik;
                if !authenticated {
                    return Err(Es8Error::Security(
                        "AUTHENTICATE answered RES/CK/IK that differ from the SM-DP's: the \
                         card's K/OPc (or algorithm) differ from the profile's"
                            .into(),
                    ));
                }
                return Ok(ProfileCheck {
                    imsi,
                    authenticated,
                    resynchronised,
                });
            }
            Ok(AuthenticateResponse::SyncFailure { auts }) => {
                let sqn_ms = algorithm.check_auts(&rand, &auts).map_err(|e| {
                    Es8Error::Security(format!("AUTS from the card does not verify: {e}"))
                })?;
                let mut b = [0u8; 8];
                b[2..].copy_from_slice(&sqn_ms);
                sqn = (u64::from_be_bytes(b) | 0x1F) + 1;
                resynchronised = true;
            }
            Err(e) => {
                return Err(Es8Error::Refused(format!(
                    "AUTHENTICATE answered {:04X}: {e}",
                    r.sw.to_u16()
                )))
            }
        }
    }
    Err(Es8Error::Security(
        "the USIM asked for re-synchronisation twice".into(),
    ))
}

#[cfg(test)]
mod scp03t_error_tests {
    use super::*;
    use smsr_proto::scp03t::{ErrorReason, ErrorTag, Scp03tError};

    #[test]
    fn a_malformed_package_is_a_refusal_and_a_bad_mac_a_security_failure() {
        let refused = scp03t_error(Scp03tError::CardError {
            tag: ErrorTag::from_tag(0x9F46).unwrap_or_else(|| unreachable!()),
            reason: ErrorReason::Structure,
        });
        assert!(matches!(refused, Es8Error::Refused(_)), "{refused}");
        assert!(matches!(
            scp03t_error(Scp03tError::BadScript(1)),
            Es8Error::Refused(_)
        ));
        assert!(matches!(
            scp03t_error(Scp03tError::RMacMismatch),
            Es8Error::Security(_)
        ));
        let keys = scp03t_error(Scp03tError::CardError {
            tag: ErrorTag::from_tag(0x9F45).unwrap_or_else(|| unreachable!()),
            reason: ErrorReason::Security,
        });
        assert!(matches!(keys, Es8Error::Security(_)), "{keys}");
    }
}
