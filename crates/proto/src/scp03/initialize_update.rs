//! The INITIALIZE UPDATE command and its response (Amendment D v1.2 §7.1.1, Tables 7-2, 7-3).
//!
//! Response data, concatenated without TLV: key diversification data (10) ‖ KVN (1) ‖ SCP
//! identifier '03' (1) ‖ "i" (1) ‖ card challenge (8/16) ‖ card cryptogram (8/16) ‖ sequence
//! counter (3, only with pseudo-random challenges): 29 or 32 bytes in S8, 45 or 48 in S16.

use super::cryptogram::{ScpMode, ScpOptions};
use super::{ScpError, SCP03_ID};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};

/// INS of INITIALIZE UPDATE.
pub const INS_INITIALIZE_UPDATE: u8 = 0x50;

/// An INITIALIZE UPDATE command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitializeUpdate {
    /// Key Version Number ('00' = first available key set).
    pub kvn: u8,
    /// The host challenge: 8 bytes (S8) or 16 (S16).
    pub host_challenge: Vec<u8>,
    /// Logical channel (0–19): CLA '80'–'83' or 'C0'–'CF'.
    pub channel: u8,
}

impl InitializeUpdate {
    /// The mode the challenge length selects.
    pub fn mode(&self) -> Result<ScpMode, ScpError> {
        ScpMode::from_challenge_len(self.host_challenge.len()).ok_or(ScpError::BadCommand {
            command: "INITIALIZE UPDATE",
            reason: "host challenge must be 8 or 16 bytes",
        })
    }

    /// `8x 50 KVN 00 Lc challenge 00`.
    pub fn to_command(&self) -> Result<CommandApdu, ScpError> {
        self.mode()?;
        Ok(
            CommandApdu::new(0x80, INS_INITIALIZE_UPDATE, self.kvn, 0x00)
                .with_data(self.host_challenge.clone())
                .with_le(SHORT_LE_MAX)
                .with_channel(self.channel)?,
        )
    }

    /// Parses the command on the card side: GP class without secure messaging, P2 '00' and a
    /// challenge of 8 or 16 bytes (Le may be absent, as T=0 sends it).
    pub fn parse(cmd: &CommandApdu) -> Result<Self, ScpError> {
        let bad = |reason| ScpError::BadCommand {
            command: "INITIALIZE UPDATE",
            reason,
        };
        if cmd.ins != INS_INITIALIZE_UPDATE {
            return Err(bad("INS is not '50'"));
        }
        if cmd.cla & 0x80 == 0 || has_secure_messaging(cmd.cla) || cmd.is_chained() {
            return Err(bad("CLA must be '80'-'83' or 'C0'-'CF'"));
        }
        if cmd.p2 != 0x00 {
            return Err(bad("P2 must be '00'"));
        }
        let parsed = Self {
            kvn: cmd.p1,
            host_challenge: cmd.data.clone(),
            channel: cmd.channel(),
        };
        parsed.mode()?;
        Ok(parsed)
    }
}

/// Whether a class byte indicates secure messaging (b4 b3 in the first interindustry form,
/// b6 in the further one).
pub(crate) fn has_secure_messaging(cla: u8) -> bool {
    if cla & 0x40 == 0 {
        cla & 0x0C != 0
    } else {
        cla & 0x20 != 0
    }
}

/// The data of a successful INITIALIZE UPDATE response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitializeUpdateResponse {
    /// Key diversification data.
    pub kdd: [u8; 10],
    /// Key Version Number of the key set the card used.
    pub kvn: u8,
    /// Secure Channel Protocol identifier (always '03' once parsed).
    pub scp_id: u8,
    /// The "i" parameter.
    pub options: ScpOptions,
    /// Card challenge (8 or 16 bytes).
    pub card_challenge: Vec<u8>,
    /// Card cryptogram (8 or 16 bytes).
    pub card_cryptogram: Vec<u8>,
    /// Sequence counter, present with pseudo-random challenges.
    pub sequence_counter: Option<[u8; 3]>,
}

impl InitializeUpdateResponse {
    /// Parses response data (without SW). The SCP identifier is checked first (an SCP02 card
    /// answers 28 bytes with '02' there), then the length against "i".
    pub fn parse(data: &[u8]) -> Result<Self, ScpError> {
        if let Some(&scp) = data.get(11) {
            if scp != SCP03_ID {
                return Err(ScpError::ScpIdMismatch(scp));
            }
        }
        if ![29, 32, 45, 48].contains(&data.len()) {
            return Err(ScpError::BadInitializeUpdateResponseLength(data.len()));
        }
        let i = data[12];
        let options = ScpOptions::from_i(i)?;
        let n = options.mode.challenge_len();
        let expected = 13 + 2 * n + if options.pseudo_random { 3 } else { 0 };
        if data.len() != expected {
            return Err(ScpError::InitializeUpdateLengthMismatch { len: data.len(), i });
        }
        let mut kdd = [0u8; 10];
        kdd.copy_from_slice(&data[..10]);
        let sequence_counter = data
            .get(13 + 2 * n..)
            .and_then(|s| <[u8; 3]>::try_from(s).ok());
        Ok(Self {
            kdd,
            kvn: data[10],
            scp_id: data[11],
            options,
            card_challenge: data[13..13 + n].to_vec(),
            card_cryptogram: data[13 + n..13 + 2 * n].to_vec(),
            sequence_counter,
        })
    }

    /// The "i" parameter byte.
    pub fn i(&self) -> u8 {
        self.options.to_i()
    }

    /// The sequence counter as a number.
    pub fn sequence_counter_value(&self) -> Option<u32> {
        self.sequence_counter
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// The response data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(&self.kdd);
        out.extend_from_slice(&[self.kvn, self.scp_id, self.i()]);
        out.extend_from_slice(&self.card_challenge);
        out.extend_from_slice(&self.card_cryptogram);
        if let Some(seq) = self.sequence_counter {
            out.extend_from_slice(&seq);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03::testdata::{h, hex, scp03_vectors};
    use proptest::prelude::*;

    #[test]
    fn pysim_and_samsung_responses() {
        let Some(v) = scp03_vectors() else { return };
        let mut n = 0;
        for (group, field) in [
            ("scp03_sessions_pysim", "init_update_rsp"),
            ("scp03_sessions_samsung", "init_update_rsp_with_sw"),
        ] {
            for s in v[group]["sessions"].as_array().unwrap() {
                let mut data = hex(&s[field]);
                if field.ends_with("with_sw") {
                    assert_eq!(data.split_off(data.len() - 2), h("9000"));
                }
                let r = InitializeUpdateResponse::parse(&data).unwrap();
                let p = &s["parsed_init_update_rsp"];
                assert_eq!(r.kdd.to_vec(), hex(&p["kdd"]));
                assert_eq!(vec![r.kvn], hex(&p["kvn"]));
                assert_eq!(vec![r.scp_id], hex(&p["scp"]));
                assert_eq!(vec![r.i()], hex(&p["i"]));
                assert_eq!(r.card_challenge, hex(&p["card_challenge"]));
                assert_eq!(r.card_cryptogram, hex(&p["card_cryptogram"]));
                assert_eq!(
                    r.sequence_counter.unwrap().to_vec(),
                    hex(&p["sequence_counter"])
                );
                assert_eq!(r.to_bytes(), data);
                let cmd = CommandApdu::parse(&hex(&s["init_update_cmd"])).unwrap();
                let iu = InitializeUpdate::parse(&cmd).unwrap();
                assert_eq!(iu.host_challenge, hex(&s["host_challenge"]));
                assert_eq!(iu.to_command().unwrap(), cmd);
                n += 1;
            }
        }
        assert!(n >= 4);
    }

    #[test]
    fn lengths_and_scp_id() {
        // GPPro issue #114 (Oberthur), a real S8 pseudo-random response.
        let r = InitializeUpdateResponse::parse(&h(concat!(
            "149480576000078C0100",
            "010370",
            "E7881AD1FDAF0067",
            "A20BC81393BE45A3",
            "000015"
        )))
        .unwrap();
        assert_eq!((r.kvn, r.i()), (0x01, 0x70));
        assert_eq!(r.sequence_counter_value(), Some(0x15));
        // An SCP02 answer (28 bytes, SCP '02').
        let scp02 = h("00000000000000000000700200016B4524ABEE7CF32EA3838BC148F3");
        assert_eq!(
            InitializeUpdateResponse::parse(&scp02),
            Err(ScpError::ScpIdMismatch(0x02))
        );
        let mut d = vec![0u8; 29];
        d[11] = 3;
        d[12] = 0x70; // pseudo-random says 32 bytes
        assert_eq!(
            InitializeUpdateResponse::parse(&d),
            Err(ScpError::InitializeUpdateLengthMismatch { len: 29, i: 0x70 })
        );
        d[12] = 0x71;
        d.resize(48, 0);
        assert!(InitializeUpdateResponse::parse(&d).is_ok());
        d.truncate(30);
        assert_eq!(
            InitializeUpdateResponse::parse(&d),
            Err(ScpError::BadInitializeUpdateResponseLength(30))
        );
        assert_eq!(
            InitializeUpdateResponse::parse(&[]),
            Err(ScpError::BadInitializeUpdateResponseLength(0))
        );
    }

    #[test]
    fn command_on_channels_and_s16() {
        let iu = InitializeUpdate {
            kvn: 0x30,
            host_challenge: vec![0xAB; 16],
            channel: 5,
        };
        let c = iu.to_command().unwrap();
        assert_eq!(c.cla, 0xC1);
        assert_eq!(&c.to_bytes().unwrap()[..5], &h("C150300010"));
        assert_eq!(InitializeUpdate::parse(&c).unwrap(), iu);
        let bad = InitializeUpdate {
            host_challenge: vec![0; 9],
            ..iu.clone()
        };
        assert!(bad.to_command().is_err());
        let sm = CommandApdu { cla: 0x84, ..c };
        assert!(InitializeUpdate::parse(&sm).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in prop::collection::vec(any::<u8>(), 0..60)) {
            if let Ok(r) = InitializeUpdateResponse::parse(&data) {
                prop_assert_eq!(r.to_bytes(), data);
            }
        }
    }
}
