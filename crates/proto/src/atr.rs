//! Reading an Answer To Reset (ISO/IEC 7816-3 §8.2): the protocols it offers and its
//! historical bytes, with every structural fault named.

/// What an ATR offers, read from its bytes; an ATR that is not well formed is an error naming
/// the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtrInfo {
    /// Protocols offered (T=0 when no TD byte names one).
    pub protocols: Vec<u8>,
    /// The historical bytes.
    pub historical: Vec<u8>,
}

/// Checks `atr` (ISO/IEC 7816-3 §8.2): TS `3B` or `3F`, the interface bytes T0 and each TDi
/// announce, K historical bytes, and TCK (present, and the XOR of T0..TCK zero, when a
/// protocol other than T=0 is indicated).
pub fn parse(atr: &[u8]) -> Result<AtrInfo, String> {
    let mut at = 0;
    let mut take = |what: &str| -> Result<u8, String> {
        let b = atr
            .get(at)
            .copied()
            .ok_or_else(|| format!("ends before {what} (byte {at})"))?;
        at += 1;
        Ok(b)
    };
    let ts = take("TS")?;
    if ts != 0x3B && ts != 0x3F {
        return Err(format!(
            "TS is {ts:02X}: only 3B (direct) or 3F (inverse) are ATRs"
        ));
    }
    let t0 = take("T0")?;
    let k = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut protocols = Vec::new();
    let mut i = 1;
    loop {
        for (bit, name) in [(1, "TA"), (2, "TB"), (4, "TC")] {
            if y & bit != 0 {
                take(&format!("{name}{i}"))?;
            }
        }
        if y & 8 == 0 {
            break;
        }
        let td = take(&format!("TD{i}"))?;
        protocols.push(td & 0x0F);
        y = td >> 4;
        i += 1;
    }
    let historical = atr
        .get(at..at + k)
        .ok_or_else(|| format!("T0 announces {k} historical bytes; fewer follow"))?
        .to_vec();
    at += k;
    let needs_tck = protocols.iter().any(|&t| t != 0);
    match (needs_tck, atr.len() - at) {
        (false, 0) => {}
        (true, 1) => {
            if atr[1..].iter().fold(0, |x, b| x ^ b) != 0 {
                return Err(format!(
                    "TCK {:02X} is wrong: the XOR of T0 to TCK must be 00",
                    atr[at]
                ));
            }
        }
        (true, 0) => return Err("TCK is missing (required when T≠0 is indicated)".into()),
        (_, extra) => return Err(format!("{extra} byte(s) after the ATR's end")),
    }
    let mut offered: Vec<u8> = protocols.into_iter().filter(|&t| t != 15).collect();
    if offered.is_empty() {
        offered.push(0);
    }
    offered.dedup();
    Ok(AtrInfo {
        protocols: offered,
        historical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_follow_the_td_chain() {
        // TD1 = 80 (T=0, TD2 follows), TD2 = 01 (T=1), TCK.
        assert_eq!(
            parse(&[0x3B, 0x80, 0x80, 0x01, 0x01]).unwrap().protocols,
            [0, 1]
        );
        // No TD1: T=0 only; two historical bytes.
        let info = parse(&[0x3B, 0x02, 0x14, 0x50]).unwrap();
        assert_eq!(
            (info.protocols, info.historical),
            (vec![0], vec![0x14, 0x50])
        );
        // TA1 TB1 TC1 TD1 (T=1), TCK.
        let atr = [0x3B, 0xF0, 0x11, 0x00, 0xFF, 0x01];
        let tck = atr[1..].iter().fold(0, |x, b| x ^ b);
        assert_eq!(parse(&[&atr[..], &[tck]].concat()).unwrap().protocols, [1]);
        // T=15 is a global indicator, not a protocol.
        assert_eq!(
            parse(&[0x3B, 0x80, 0x80, 0x1F, 0xC7, 0xD8])
                .unwrap()
                .protocols,
            [0]
        );
        assert_eq!(parse(&[0x3B, 0x00]).unwrap().protocols, [0]);
    }

    #[test]
    fn malformed_atrs_are_refused_with_the_fault() {
        for (atr, fault) in [
            (vec![], "before TS"),
            (vec![0x3C, 0x00], "TS is 3C"),
            (vec![0x3B, 0x02, 0x80], "historical bytes"),
            (vec![0x3B, 0x80, 0x01], "TCK is missing"),
            (vec![0x3B, 0x80, 0x01, 0x00], "TCK 00 is wrong"),
            (vec![0x3B, 0x00, 0x00], "after the ATR"),
            (vec![0x3B, 0x90], "TA1"),
        ] {
            let err = parse(&atr).unwrap_err();
            assert!(err.contains(fault), "{atr:02X?}: {err}");
        }
    }
}
