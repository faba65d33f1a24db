//! SCP03 options and authentication values: the "i" parameter (Amendment D v1.2 §5.1
//! Table 5-1, with b1 = S16 mode), the security level of EXTERNAL AUTHENTICATE (§7.1.2.3
//! Table 7-6), the pseudo-random card challenge (§6.2.2.1) and the card and host cryptograms
//! (§6.2.2.2, §6.2.2.3).

use super::kdf::{kdf, DerivationConstant, KdfOutput};
use super::keys::AesKey;
use super::ScpError;
use std::fmt;

/// S8 (8-byte challenges, cryptograms and MACs) or S16 (16 bytes each, Amendment D v1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ScpMode {
    #[default]
    S8,
    S16,
}

impl ScpMode {
    /// Length of host/card challenges and cryptograms.
    pub fn challenge_len(self) -> usize {
        match self {
            Self::S8 => 8,
            Self::S16 => 16,
        }
    }

    /// Length of the C-MAC and R-MAC on the wire.
    pub fn mac_len(self) -> usize {
        self.challenge_len()
    }

    /// "L" for challenges and cryptograms.
    pub fn kdf_output(self) -> KdfOutput {
        match self {
            Self::S8 => KdfOutput::Bits64,
            Self::S16 => KdfOutput::Bits128,
        }
    }

    /// The mode whose challenges have `n` bytes.
    pub fn from_challenge_len(n: usize) -> Option<Self> {
        match n {
            8 => Some(Self::S8),
            16 => Some(Self::S16),
            _ => None,
        }
    }
}

impl fmt::Display for ScpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::S8 => "S8",
            Self::S16 => "S16",
        })
    }
}

/// The SCP03 implementation options, coded as the one-byte "i" parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ScpOptions {
    /// b6: R-MAC supported.
    pub r_mac: bool,
    /// b7 (with b6): R-ENCRYPTION supported.
    pub r_enc: bool,
    /// b5: pseudo-random card challenge (the response carries the sequence counter).
    pub pseudo_random: bool,
    /// b1: S16 mode.
    pub mode: ScpMode,
}

impl ScpOptions {
    /// Decodes "i". Reserved b8, RFU b4–b2 and R-ENCRYPTION without R-MAC (b7 b6 = 10) are
    /// rejected.
    pub fn from_i(i: u8) -> Result<Self, ScpError> {
        if i & 0x8E != 0 || i & 0x60 == 0x40 {
            return Err(ScpError::InvalidScpOptions(i));
        }
        Ok(Self {
            r_mac: i & 0x20 != 0,
            r_enc: i & 0x40 != 0,
            pseudo_random: i & 0x10 != 0,
            mode: if i & 0x01 != 0 {
                ScpMode::S16
            } else {
                ScpMode::S8
            },
        })
    }

    /// Encodes "i" (R-ENCRYPTION implies R-MAC).
    pub fn to_i(self) -> u8 {
        let mut i = 0;
        if self.r_mac || self.r_enc {
            i |= 0x20;
        }
        if self.r_enc {
            i |= 0x40;
        }
        if self.pseudo_random {
            i |= 0x10;
        }
        if self.mode == ScpMode::S16 {
            i |= 0x01;
        }
        i
    }

    /// Whether a card with these options can run a session at `level`.
    pub fn supports(self, level: SecurityLevel) -> bool {
        (!level.r_mac() || self.r_mac || self.r_enc) && (!level.r_enc() || self.r_enc)
    }
}

/// The security level requested by EXTERNAL AUTHENTICATE P1 (Amendment D Table 7-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityLevel {
    /// '00': authenticated, no secure messaging expected.
    NoSecureMessaging,
    /// '01': C-MAC.
    CMac,
    /// '03': C-DECRYPTION and C-MAC.
    CDecCMac,
    /// '11': C-MAC and R-MAC.
    CMacRMac,
    /// '13': C-DECRYPTION, C-MAC and R-MAC.
    CDecCMacRMac,
    /// '33': C-DECRYPTION, R-ENCRYPTION, C-MAC and R-MAC.
    CDecREncCMacRMac,
}

impl SecurityLevel {
    /// All levels Table 7-6 defines.
    pub const ALL: [Self; 6] = [
        Self::NoSecureMessaging,
        Self::CMac,
        Self::CDecCMac,
        Self::CMacRMac,
        Self::CDecCMacRMac,
        Self::CDecREncCMacRMac,
    ];

    /// Decodes P1; any value outside Table 7-6 (e.g. '31', R-ENCRYPTION without C-DECRYPTION)
    /// is rejected.
    pub fn from_p1(p1: u8) -> Result<Self, ScpError> {
        match p1 {
            0x00 => Ok(Self::NoSecureMessaging),
            0x01 => Ok(Self::CMac),
            0x03 => Ok(Self::CDecCMac),
            0x11 => Ok(Self::CMacRMac),
            0x13 => Ok(Self::CDecCMacRMac),
            0x33 => Ok(Self::CDecREncCMacRMac),
            other => Err(ScpError::InvalidSecurityLevel(other)),
        }
    }

    /// P1 of EXTERNAL AUTHENTICATE.
    pub fn p1(self) -> u8 {
        match self {
            Self::NoSecureMessaging => 0x00,
            Self::CMac => 0x01,
            Self::CDecCMac => 0x03,
            Self::CMacRMac => 0x11,
            Self::CDecCMacRMac => 0x13,
            Self::CDecREncCMacRMac => 0x33,
        }
    }

    /// Commands carry a C-MAC.
    pub fn c_mac(self) -> bool {
        self.p1() & 0x01 != 0
    }

    /// Command data is encrypted.
    pub fn c_dec(self) -> bool {
        self.p1() & 0x02 != 0
    }

    /// Responses carry an R-MAC.
    pub fn r_mac(self) -> bool {
        self.p1() & 0x10 != 0
    }

    /// Response data is encrypted.
    pub fn r_enc(self) -> bool {
        self.p1() & 0x20 != 0
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::NoSecureMessaging => "no secure messaging",
            Self::CMac => "C-MAC",
            Self::CDecCMac => "C-DECRYPTION, C-MAC",
            Self::CMacRMac => "C-MAC, R-MAC",
            Self::CDecCMacRMac => "C-DECRYPTION, C-MAC, R-MAC",
            Self::CDecREncCMacRMac => "C-DECRYPTION, R-ENCRYPTION, C-MAC, R-MAC",
        };
        write!(f, "'{:02X}' ({name})", self.p1())
    }
}

fn authentication_cryptogram(
    s_mac: &AesKey,
    dc: DerivationConstant,
    host_challenge: &[u8],
    card_challenge: &[u8],
    mode: ScpMode,
) -> Vec<u8> {
    let context = [host_challenge, card_challenge].concat();
    kdf(s_mac, dc, mode.kdf_output(), &context).to_vec()
}

/// The card cryptogram: KDF(S-MAC, '00', L = 64/128, host challenge ‖ card challenge).
pub fn card_cryptogram(
    s_mac: &AesKey,
    host_challenge: &[u8],
    card_challenge: &[u8],
    mode: ScpMode,
) -> Vec<u8> {
    authentication_cryptogram(
        s_mac,
        DerivationConstant::CardCryptogram,
        host_challenge,
        card_challenge,
        mode,
    )
}

/// The host cryptogram: KDF(S-MAC, '01', L = 64/128, host challenge ‖ card challenge).
pub fn host_cryptogram(
    s_mac: &AesKey,
    host_challenge: &[u8],
    card_challenge: &[u8],
    mode: ScpMode,
) -> Vec<u8> {
    authentication_cryptogram(
        s_mac,
        DerivationConstant::HostCryptogram,
        host_challenge,
        card_challenge,
        mode,
    )
}

/// Largest value of the 3-byte sequence counter.
pub const SEQUENCE_COUNTER_MAX: u32 = 0x00FF_FFFF;

/// The counter's three big-endian bytes (values above 24 bits are cut to their low 24 bits).
pub fn sequence_counter_bytes(counter: u32) -> [u8; 3] {
    let [_, a, b, c] = counter.to_be_bytes();
    [a, b, c]
}

/// The pseudo-random card challenge (§6.2.2.1): KDF(static Key-ENC, '02', L = 64/128,
/// sequence counter (3 bytes) ‖ AID of the application owning the secure channel).
pub fn pseudo_random_card_challenge(
    key_enc: &AesKey,
    sequence_counter: [u8; 3],
    sd_aid: &[u8],
    mode: ScpMode,
) -> Result<Vec<u8>, ScpError> {
    if !(5..=16).contains(&sd_aid.len()) {
        return Err(ScpError::BadAidLength(sd_aid.len()));
    }
    let context = [&sequence_counter[..], sd_aid].concat();
    Ok(kdf(
        key_enc,
        DerivationConstant::CardChallenge,
        mode.kdf_output(),
        &context,
    )
    .to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::kdf::kdf_input;
    use crate::scp03::keys::{SessionKeys, StaticKeys};
    use crate::scp03::testdata::{hex, scp03_vectors};

    #[test]
    fn i_parameter_values() {
        for (i, r_mac, r_enc, prnd, mode) in [
            (0x00, false, false, false, ScpMode::S8),
            (0x10, false, false, true, ScpMode::S8),
            (0x20, true, false, false, ScpMode::S8),
            (0x30, true, false, true, ScpMode::S8),
            (0x60, true, true, false, ScpMode::S8),
            (0x70, true, true, true, ScpMode::S8),
            (0x71, true, true, true, ScpMode::S16),
            (0x01, false, false, false, ScpMode::S16),
        ] {
            let o = ScpOptions::from_i(i).unwrap();
            assert_eq!(
                (o.r_mac, o.r_enc, o.pseudo_random, o.mode),
                (r_mac, r_enc, prnd, mode)
            );
            assert_eq!(o.to_i(), i);
        }
        for bad in [0x80, 0x02, 0x04, 0x08, 0x40, 0x50, 0xF0] {
            assert_eq!(
                ScpOptions::from_i(bad),
                Err(ScpError::InvalidScpOptions(bad))
            );
        }
        for i in 0..=255u8 {
            if let Ok(o) = ScpOptions::from_i(i) {
                assert_eq!(o.to_i(), i);
            }
        }
    }

    #[test]
    fn security_levels() {
        let valid: Vec<u8> = (0..=255u8)
            .filter(|p| SecurityLevel::from_p1(*p).is_ok())
            .collect();
        assert_eq!(valid, vec![0x00, 0x01, 0x03, 0x11, 0x13, 0x33]);
        assert_eq!(
            SecurityLevel::from_p1(0x31),
            Err(ScpError::InvalidSecurityLevel(0x31))
        );
        for l in SecurityLevel::ALL {
            assert_eq!(SecurityLevel::from_p1(l.p1()).unwrap(), l);
            // R-ENC implies C-DEC and R-MAC; C-DEC and R-MAC imply C-MAC (Amendment D §5.5).
            assert!(!l.r_enc() || (l.c_dec() && l.r_mac()));
            assert!(!(l.c_dec() || l.r_mac()) || l.c_mac());
        }
        let no_rmac = ScpOptions::from_i(0x10).unwrap();
        let rmac = ScpOptions::from_i(0x30).unwrap();
        let renc = ScpOptions::from_i(0x70).unwrap();
        assert!(no_rmac.supports(SecurityLevel::CDecCMac));
        assert!(!no_rmac.supports(SecurityLevel::CMacRMac));
        assert!(rmac.supports(SecurityLevel::CDecCMacRMac));
        assert!(!rmac.supports(SecurityLevel::CDecREncCMacRMac));
        assert!(renc.supports(SecurityLevel::CDecREncCMacRMac));
    }

    #[test]
    fn pseudo_random_challenge_vectors() {
        let Some(v) = scp03_vectors() else { return };
        let cases = v["pseudo_random_card_challenge"]["cases"]
            .as_array()
            .unwrap();
        assert_eq!(cases.len(), 9);
        for c in cases {
            let key = AesKey::from_bytes(&hex(&c["key_enc"])).unwrap();
            let seq: [u8; 3] = hex(&c["seq"]).try_into().unwrap();
            let aid = hex(&c["sd_aid"]);
            let ctx = [&seq[..], &aid].concat();
            assert_eq!(
                kdf_input(
                    DerivationConstant::CardChallenge,
                    KdfOutput::Bits64,
                    1,
                    &ctx
                ),
                hex(&c["kdf_input"])
            );
            let ch = pseudo_random_card_challenge(&key, seq, &aid, ScpMode::S8).unwrap();
            assert_eq!(ch, hex(&c["card_challenge"]), "{}", c["source"]);
        }
    }

    #[test]
    fn cryptograms_of_pysim_and_samsung_sessions() {
        let Some(v) = scp03_vectors() else { return };
        let mut n = 0;
        for group in ["scp03_sessions_pysim", "scp03_sessions_samsung"] {
            for s in v[group]["sessions"].as_array().unwrap() {
                let keys = StaticKeys::new(
                    0,
                    &hex(&s["key_enc"]),
                    &hex(&s["key_mac"]),
                    &hex(&s["key_dek"]),
                )
                .unwrap();
                let host = hex(&s["host_challenge"]);
                let card = hex(&s["parsed_init_update_rsp"]["card_challenge"]);
                let sk = SessionKeys::derive(&keys, &host, &card);
                assert_eq!(sk.s_enc.as_bytes(), hex(&s["S-ENC"]));
                assert_eq!(sk.s_mac.as_bytes(), hex(&s["S-MAC"]));
                assert_eq!(sk.s_rmac.as_bytes(), hex(&s["S-RMAC"]));
                assert_eq!(
                    card_cryptogram(&sk.s_mac, &host, &card, ScpMode::S8),
                    hex(&s["parsed_init_update_rsp"]["card_cryptogram"])
                );
                assert_eq!(
                    host_cryptogram(&sk.s_mac, &host, &card, ScpMode::S8),
                    hex(&s["host_cryptogram"])
                );
                n += 1;
            }
        }
        assert!(n >= 4);
    }

    #[test]
    fn s16_lengths() {
        let k = AesKey::from_bytes(&[7; 32]).unwrap();
        let c = card_cryptogram(&k, &[1; 16], &[2; 16], ScpMode::S16);
        let h = host_cryptogram(&k, &[1; 16], &[2; 16], ScpMode::S16);
        assert_eq!((c.len(), h.len()), (16, 16));
        assert_ne!(c, h);
        let c8 = card_cryptogram(&k, &[1; 16], &[2; 16], ScpMode::S8);
        assert_ne!(&c[..8], &c8[..], "L differs between S8 and S16");
        let ch = pseudo_random_card_challenge(&k, [0, 0, 1], &[0xA0; 8], ScpMode::S16).unwrap();
        assert_eq!(ch.len(), 16);
        assert_eq!(
            pseudo_random_card_challenge(&k, [0, 0, 1], &[0xA0; 4], ScpMode::S8),
            Err(ScpError::BadAidLength(4))
        );
        assert_eq!(sequence_counter_bytes(0x0001_0203), [1, 2, 3]);
    }
}
