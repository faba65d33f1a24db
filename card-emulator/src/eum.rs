//! The EUM's part in making an eUICC (SGP.02 §2.3.2, §5.1.1 ES1.RegisterEIS): it generates
//! the ECASD key agreement key pair, signs CERT.ECASD.ECKA with SK.EUM.ECDSA, puts PK.CI.ECDSA
//! into the ECASD, gives the ISD-R its SCP80 key sets, and describes the card to the SM-SR in
//! the eUICC Information Set.
//!
//! The EIS written by [`eis_json`] is the JSON format `smsr eis register` reads (the `smsr`
//! crate's `eis` module documents it); `eum_certificate` carries CERT.EUM.ECDSA so that an
//! SM-DP can check the ECASD certificate's chain up to the CI.
//!
//! SCP80 key sets: one AES-128 set, KVN [`SCP80_KVN`], counter 0 (ETSI TS 102 225 §5.1.1;
//! the ISD-R's KVN range `01`–`0F`, shared/protocol/SGP02.md §6.3). The ISD-R's TAR is bytes
//! 13–15 of its AID (`000001`, SGP.02 Annex H).

use crate::ecasd::{EcasdKeys, ECASD_AID};
use crate::eid::eid_to_string;
use crate::isd_r::ISD_R_AID;
use crate::keyset::KeyGenerationError;
use crate::state::NON_VOLATILE_MEMORY;
use crate::CardState;
use smsr_proto::gp::aid::{ISD_P_LOAD_FILE, ISD_P_MODULE};
use smsr_proto::ota::scp80::KeySet as Scp80KeySet;
use smsr_proto::pki::{Issuers, PkiError, PrivateKey};
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// The Key Version Number of the ISD-R's SCP80 key set a new card gets.
pub const SCP80_KVN: u8 = 0x01;
/// The KVN of the ISD-R's SCP81 (PSK-TLS) key set: the first of SGP.02's `40`–`4F`.
pub const SCP81_KVN: u8 = 0x40;
/// The key identifier of the SCP81 PSK within its version.
pub const SCP81_KID: u8 = 0x01;

/// A fresh 16-byte SCP81 pre-shared key (AES-128 PSK suites).
pub fn random_scp81_keyset() -> Result<crate::state::Scp81KeySet, KeyGenerationError> {
    let mut psk = Zeroizing::new(vec![0u8; 16]);
    getrandom::getrandom(psk.as_mut_slice()).map_err(|e| KeyGenerationError(e.to_string()))?;
    Ok(crate::state::Scp81KeySet {
        kvn: SCP81_KVN,
        kid: SCP81_KID,
        psk,
    })
}

/// The EIS `platform_type` of the emulator.
pub const PLATFORM_TYPE: &str = "smsr euicc-emulator";

/// Why the EUM could not personalize the card.
#[derive(Debug, thiserror::Error)]
pub enum EumError {
    #[error(transparent)]
    Random(#[from] KeyGenerationError),
    #[error("ECASD certificate: {0}")]
    Pki(#[from] PkiError),
}

/// The ISD-R's TAR: bytes 13–15 of its AID.
pub fn isd_r_tar() -> [u8; 3] {
    smsr_proto::gp::aid::Aid::isd_r().tar().unwrap_or([0, 0, 1])
}

/// A fresh AES-128 SCP80 key set (KIc, KID) with counter 0.
pub fn random_scp80_keyset(kvn: u8) -> Result<Scp80KeySet, KeyGenerationError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(bytes.as_mut_slice()).map_err(|e| KeyGenerationError(e.to_string()))?;
    Ok(Scp80KeySet::aes(kvn, &bytes[..16], &bytes[16..]))
}

/// Personalizes `card` as the EUM of `issuers`: a new ECASD key pair and certificate, PK.CI,
/// and one SCP80 key set (replacing any earlier ones).
pub fn personalize(card: &mut CardState, issuers: &Issuers) -> Result<(), EumError> {
    let key = PrivateKey::generate()?;
    personalize_with_key(card, issuers, key)?;
    card.scp80_keysets_mut().clear();
    card.scp80_keysets_mut()
        .push(random_scp80_keyset(SCP80_KVN)?);
    card.scp81_keysets_mut().clear();
    card.scp81_keysets_mut().push(random_scp81_keyset()?);
    Ok(())
}

/// The ECASD part of [`personalize`] with a given key (tests).
pub fn personalize_with_key(
    card: &mut CardState,
    issuers: &Issuers,
    key: PrivateKey,
) -> Result<(), EumError> {
    let certificate = issuers.issue_ecasd(&card.eid(), &key.public_key())?;
    card.set_ecasd_keys(EcasdKeys {
        key,
        certificate,
        ci: *issuers.ci.public_key(),
    });
    Ok(())
}

/// Today's date as `YYYY-MM-DD` (UTC), from the system clock.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, public domain algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The eUICC Information Set of `card` (it holds the ISD-R keys: write it with mode 0600).
/// `issuers` gives CERT.EUM.ECDSA and the EUM identifier.
pub fn eis_json(card: &CardState, issuers: &Issuers) -> Zeroizing<String> {
    fn hex(bytes: impl AsRef<[u8]>) -> String {
        hex::encode_upper(bytes)
    }
    let eum_id = &issuers.eum.certificate.body.subject_id;
    let eum_id = match std::str::from_utf8(eum_id) {
        Ok(text) if text.chars().all(|c| c.is_ascii_graphic()) => text.to_owned(),
        _ => hex(eum_id),
    };
    let scp80: Vec<serde_json::Value> = card
        .scp80_keysets()
        .iter()
        .map(|k| {
            serde_json::json!({
                "kvn": k.kvn,
                "kic": hex(k.kic.as_bytes()),
                "kid": hex(k.kid.as_bytes()),
                "counter": k.counter,
            })
        })
        .collect();
    let scp81: Vec<serde_json::Value> = card
        .scp81_keysets()
        .iter()
        .map(|k| {
            serde_json::json!({
                "kvn": k.kvn,
                "kid": k.kid,
                "psk": hex(k.psk.as_slice()),
            })
        })
        .collect();
    let scp03: Vec<serde_json::Value> = card
        .scp03()
        .keysets()
        .iter()
        .map(|s| {
            serde_json::json!({
                "kvn": s.keys.kvn(),
                "enc": hex(s.keys.enc().as_bytes()),
                "mac": hex(s.keys.mac().as_bytes()),
                "dek": hex(s.keys.dek().as_bytes()),
            })
        })
        .collect();
    let profiles: Vec<serde_json::Value> = card
        .registry()
        .isd_ps()
        .filter_map(|r| {
            let p = r.isd_p.as_ref()?.profile.as_ref()?;
            Some(serde_json::json!({
                "isd_p_aid": hex(r.aid.as_bytes()),
                "iccid": crate::isd_p::iccid_to_string(&p.iccid),
                "state": if r.life_cycle == smsr_proto::gp::life_cycle::ISD_P_ENABLED {
                    "enabled"
                } else {
                    "disabled"
                },
                "fallback": p.fallback,
            }))
        })
        .collect();
    let mut ecasd = serde_json::json!({ "aid": hex(ECASD_AID) });
    if let Some(keys) = card.ecasd_keys() {
        ecasd["certificate"] = hex(keys.certificate.to_bytes()).into();
    }
    let eis = serde_json::json!({
        "version": 1,
        "eid": eid_to_string(&card.eid()),
        "eum_id": eum_id,
        "eum_certificate": hex(issuers.eum.certificate.to_bytes()),
        "production_date": today(),
        "platform_type": PLATFORM_TYPE,
        "platform_version": env!("CARGO_PKG_VERSION"),
        "isd_p_load_file_aid": hex(ISD_P_LOAD_FILE),
        "isd_p_module_aid": hex(ISD_P_MODULE),
        "isd_r": {
            "aid": hex(ISD_R_AID),
            "tar": hex(isd_r_tar()),
            "scp80": scp80,
            "scp81": scp81,
            "scp03": scp03,
        },
        "ecasd": ecasd,
        "capabilities": {
            "http_support": !card.scp81_keysets().is_empty(),
            "secure_packet_version": "1.0",
            "remote_provisioning_version": "2.0",
        },
        "available_memory": NON_VOLATILE_MEMORY,
    });
    let mut eis = eis;
    if !profiles.is_empty() {
        eis["profiles"] = profiles.into();
    }
    let mut out = Zeroizing::new(serde_json::to_string_pretty(&eis).unwrap_or_default());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
    }

    #[test]
    fn personalization_gives_a_chain_to_the_ci_and_scp80_keys() {
        let issuers = Issuers::generate().unwrap();
        let mut card = CardState::new(None);
        personalize(&mut card, &issuers).unwrap();
        let ecasd = card.ecasd_keys().unwrap();
        smsr_proto::pki::test_pki::verify_ecasd_certificate(
            &ecasd.certificate,
            &issuers.eum.certificate,
            issuers.ci.public_key(),
        )
        .unwrap();
        assert_eq!(ecasd.certificate.body.subject_id, card.eid().to_vec());
        assert_eq!(ecasd.ci, *issuers.ci.public_key());
        let sets = card.scp80_keysets();
        assert_eq!((sets.len(), sets[0].kvn, sets[0].counter), (1, 1, 0));
        assert_eq!(sets[0].kic.as_bytes().len(), 16);
        assert_ne!(sets[0].kic.as_bytes(), sets[0].kid.as_bytes());
        let eis: serde_json::Value = serde_json::from_str(&eis_json(&card, &issuers)).unwrap();
        assert_eq!(eis["isd_r"]["tar"], "000001");
        assert_eq!(eis["eum_id"], "TEST-EUM");
        assert_eq!(
            eis["ecasd"]["certificate"],
            hex::encode_upper(ecasd.certificate.to_bytes())
        );
        // The state file keeps all of it.
        let back = CardState::from_json(&card.to_json()).unwrap();
        assert_eq!(back, card);
        assert!(back.to_json().contains("\"version\": 5"));
    }
}
