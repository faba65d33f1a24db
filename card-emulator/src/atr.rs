//! The card's Answer To Reset (ISO/IEC 7816-3 §8, ETSI TS 102 221 §6.3).
//!
//! The default is what an eUICC in a device sends: T=0 only (`TD1` = `80`), then the global
//! interface bytes of a UICC (`TD2` = `1F`: T=15 follows, `TA3` = `C7`: clock stop allowed,
//! classes A, B and C), and historical bytes in compact-TLV form (category `80`; card service
//! data `31 E0`; card capabilities `73 FE 21 1B`; pre-issuing data `63 3A 20 4E`; status
//! `83 00 90 00`), closed by TCK (required once T≠0 is indicated: T=15 is). pcscd then
//! negotiates T=0, as a client reading the ATR expects. `--protocols t1` or `both` offers T=1
//! instead or as well (with both, pcscd picks T=1).

/// The historical bytes of the emulator's ATRs.
const HISTORICAL: [u8; 15] = [
    0x80, 0x31, 0xE0, 0x73, 0xFE, 0x21, 0x1B, 0x63, 0x3A, 0x20, 0x4E, 0x83, 0x00, 0x90, 0x00,
];

/// The transmission protocols an ATR offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocols {
    /// T=0 only (the default, as real eUICCs).
    T0,
    /// T=1 only.
    T1,
    /// T=0 and T=1.
    Both,
}

impl Protocols {
    /// From its name: `t0`, `t1` or `both`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "t0" | "t=0" => Some(Self::T0),
            "t1" | "t=1" => Some(Self::T1),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

/// The emulator's ATR offering `protocols`.
pub fn for_protocols(protocols: Protocols) -> Vec<u8> {
    // TD bytes: each says the next TD is present (high nibble 8) and one protocol.
    let tds: &[u8] = match protocols {
        Protocols::T0 => &[0x80, 0x1F],
        Protocols::T1 => &[0x81, 0x1F],
        Protocols::Both => &[0x80, 0x81, 0x1F],
    };
    // T0: TD1 present, K = 15 historical bytes.
    let mut atr = vec![0x3B, 0x8F];
    atr.extend_from_slice(tds);
    // TA of the T=15 group: clock stop, classes A, B and C.
    atr.push(0xC7);
    atr.extend_from_slice(&HISTORICAL);
    let tck = atr[1..].iter().fold(0, |x, b| x ^ b);
    atr.push(tck);
    atr
}

/// The ATR a card sends unless its state names another.
pub fn default_atr() -> Vec<u8> {
    for_protocols(Protocols::T0)
}

pub use smsr_proto::atr::{parse, AtrInfo};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_offers_t0_only_and_is_well_formed() {
        let atr = default_atr();
        assert_eq!(atr, crate::ATR);
        assert_eq!(parse(&atr).unwrap().protocols, [0]);
        assert_eq!(parse(&atr).unwrap().historical, HISTORICAL);
        assert_eq!(parse(&for_protocols(Protocols::T1)).unwrap().protocols, [1]);
        assert_eq!(
            parse(&for_protocols(Protocols::Both)).unwrap().protocols,
            [0, 1]
        );
    }
}
