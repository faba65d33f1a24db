//! INSTALL command parameters (GPCS v2.3.1 §11.5.2.3.7, Tables 11-48 to 11-53): the TLV
//! content of the Load, Install, Make Selectable, Extradition and Registry Update Parameters
//! fields.
//!
//! `C9` application-specific parameters (mandatory for INSTALL [for install]), `EF` system
//! parameters (memory quotas and minimums `C6`/`C7`/`C8`, reserved memory `D7`/`D8`, global
//! service `CB`, TS 102 226 `CA`, implicit selection `CF`, restrict `D9`, load file format
//! `CD`/`DD`), `EA` TS 102 226 template and `B6` token CRT. Memory amounts are 2 bytes up to
//! 32767 and 4 bytes above. System parameters keep their order, so what a card or host sent
//! re-encodes to the same bytes.

use super::codec::{elements, Element};
use super::GpError;
use crate::tlv::{tlv, Tlv};

/// One system-specific parameter (inside `EF`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemParameter {
    /// `C6`: non-volatile code minimum memory requirement (load).
    NonVolatileCodeMinimum(u32),
    /// `C7`: volatile memory quota (install) or minimum requirement (load).
    VolatileMemory(u32),
    /// `C8`: non-volatile memory quota (install) or data minimum requirement (load).
    NonVolatileMemory(u32),
    /// `CB`: global service parameters (2-byte service identifiers).
    GlobalServiceParameters(Vec<u8>),
    /// `CA`: ETSI TS 102 226 specific parameter (UICC toolkit/access parameters).
    Uicc(Vec<u8>),
    /// `CD`: Load File Data Block format identifier.
    LoadFileFormat(u8),
    /// `DD`: Load File Data Block parameters.
    LoadFileParameters(Vec<u8>),
    /// `D7`: volatile reserved memory.
    VolatileReservedMemory(u32),
    /// `D8`: non-volatile reserved memory.
    NonVolatileReservedMemory(u32),
    /// `CF`: implicit selection parameter.
    ImplicitSelection(u8),
    /// `D9`: restrict parameter (registry update, Table 11-53).
    Restrict(u8),
    /// Anything else (e.g. njiwa's `83` memory object), unchanged.
    Other(Tlv),
}

impl SystemParameter {
    fn decode(el: &Element<'_>) -> Result<Self, GpError> {
        Ok(match el.tag.value() {
            0xC6 => Self::NonVolatileCodeMinimum(memory(el)?),
            0xC7 => Self::VolatileMemory(memory(el)?),
            0xC8 => Self::NonVolatileMemory(memory(el)?),
            0xCB => Self::GlobalServiceParameters(el.value.to_vec()),
            0xCA => Self::Uicc(el.value.to_vec()),
            0xCD => Self::LoadFileFormat(el.single_byte()?),
            0xDD => Self::LoadFileParameters(el.value.to_vec()),
            0xD7 => Self::VolatileReservedMemory(memory(el)?),
            0xD8 => Self::NonVolatileReservedMemory(memory(el)?),
            0xCF => Self::ImplicitSelection(el.single_byte()?),
            0xD9 => Self::Restrict(el.single_byte()?),
            _ => Self::Other(el.to_tlv()),
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::NonVolatileCodeMinimum(v) => tlv(0xC6u8, &memory_bytes(*v)),
            Self::VolatileMemory(v) => tlv(0xC7u8, &memory_bytes(*v)),
            Self::NonVolatileMemory(v) => tlv(0xC8u8, &memory_bytes(*v)),
            Self::GlobalServiceParameters(b) => tlv(0xCBu8, b),
            Self::Uicc(b) => tlv(0xCAu8, b),
            Self::LoadFileFormat(b) => tlv(0xCDu8, &[*b]),
            Self::LoadFileParameters(b) => tlv(0xDDu8, b),
            Self::VolatileReservedMemory(v) => tlv(0xD7u8, &memory_bytes(*v)),
            Self::NonVolatileReservedMemory(v) => tlv(0xD8u8, &memory_bytes(*v)),
            Self::ImplicitSelection(b) => tlv(0xCFu8, &[*b]),
            Self::Restrict(b) => tlv(0xD9u8, &[*b]),
            Self::Other(t) => t.to_bytes(),
        }
    }
}

/// A memory amount: 2 bytes up to 32767, 4 bytes above (GPCS §11.5.2.3.7).
fn memory(el: &Element<'_>) -> Result<u32, GpError> {
    match el.value {
        [a, b] => Ok(u32::from(u16::from_be_bytes([*a, *b]))),
        [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(el.invalid("memory amounts are 2 or 4 bytes")),
    }
}

fn memory_bytes(v: u32) -> Vec<u8> {
    match u16::try_from(v) {
        Ok(short) if short <= 0x7FFF => short.to_be_bytes().to_vec(),
        _ => v.to_be_bytes().to_vec(),
    }
}

/// The parameters field of an INSTALL command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstallParameters {
    /// `C9`: application-specific parameters, passed to the application.
    pub application_specific: Option<Vec<u8>>,
    /// `EF`: system-specific parameters, in order.
    pub system: Option<Vec<SystemParameter>>,
    /// `EA`: ETSI TS 102 226 specific template.
    pub uicc_template: Option<Vec<u8>>,
    /// `B6`: control reference template for the token.
    pub token_crt: Option<Vec<u8>>,
    /// Other objects, in order.
    pub other: Vec<Tlv>,
}

impl InstallParameters {
    /// Only `C9` with `value` (use `&[]` for the minimal `C9 00`).
    pub fn application_specific(value: &[u8]) -> Self {
        Self {
            application_specific: Some(value.to_vec()),
            ..Self::default()
        }
    }

    /// The install parameters of SGP.02 CreateISDP: `C9 04 81 02 <scp> <i>` (the ISD-P's
    /// secure channel protocol, `03 70` in SGP.02), and `EF { C8 <quota> }` when a
    /// non-volatile memory quota is given.
    pub fn isd_p(scp: u8, i: u8, non_volatile_quota: Option<u32>) -> Self {
        Self {
            application_specific: Some(tlv(0x81u8, &[scp, i])),
            system: non_volatile_quota.map(|q| vec![SystemParameter::NonVolatileMemory(q)]),
            ..Self::default()
        }
    }

    /// Decodes a parameters field.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        Self::decode(bytes, 0)
    }

    pub(crate) fn decode(bytes: &[u8], base: usize) -> Result<Self, GpError> {
        let mut out = Self::default();
        for el in elements(bytes, base)? {
            match el.tag.value() {
                0xC9 => once(&mut out.application_specific, &el, el.value.to_vec())?,
                0xEF => {
                    let list = el
                        .children()?
                        .iter()
                        .map(SystemParameter::decode)
                        .collect::<Result<Vec<_>, _>>()?;
                    once(&mut out.system, &el, list)?;
                }
                0xEA => once(&mut out.uicc_template, &el, el.value.to_vec())?,
                0xB6 => once(&mut out.token_crt, &el, el.value.to_vec())?,
                _ => out.other.push(el.to_tlv()),
            }
        }
        Ok(out)
    }

    /// The encoded field: `C9`, `EF`, `EA`, `B6`, then the other objects.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(c9) = &self.application_specific {
            out.extend(tlv(0xC9u8, c9));
        }
        if let Some(system) = &self.system {
            let inner: Vec<u8> = system.iter().flat_map(SystemParameter::to_bytes).collect();
            out.extend(tlv(0xEFu8, &inner));
        }
        if let Some(ea) = &self.uicc_template {
            out.extend(tlv(0xEAu8, ea));
        }
        if let Some(b6) = &self.token_crt {
            out.extend(tlv(0xB6u8, b6));
        }
        out.extend(self.other.iter().flat_map(Tlv::to_bytes));
        out
    }

    fn system_value(&self, pick: impl Fn(&SystemParameter) -> Option<u32>) -> Option<u32> {
        self.system.as_ref()?.iter().find_map(pick)
    }

    /// `EF/C7`.
    pub fn volatile_memory(&self) -> Option<u32> {
        self.system_value(|p| match p {
            SystemParameter::VolatileMemory(v) => Some(*v),
            _ => None,
        })
    }

    /// `EF/C8`.
    pub fn non_volatile_memory(&self) -> Option<u32> {
        self.system_value(|p| match p {
            SystemParameter::NonVolatileMemory(v) => Some(*v),
            _ => None,
        })
    }

    /// Every `EF/CF` implicit selection parameter.
    pub fn implicit_selection(&self) -> Vec<u8> {
        self.system
            .iter()
            .flatten()
            .filter_map(|p| match p {
                SystemParameter::ImplicitSelection(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The TLVs inside `C9` (a Security Domain's `C9` is BER-TLV coded, GPCS §11.5.2.3.7).
    pub fn application_specific_tlvs(&self) -> Result<Vec<Tlv>, GpError> {
        match &self.application_specific {
            Some(c9) => Ok(Tlv::parse_all(c9)?),
            None => Ok(Vec::new()),
        }
    }

    /// The secure channel protocol and `i` given to a new Security Domain in `C9/81`.
    pub fn scp_parameter(&self) -> Result<Option<(u8, u8)>, GpError> {
        Ok(self
            .application_specific_tlvs()?
            .into_iter()
            .find(|t| t.tag.value() == 0x81)
            .and_then(|t| match t.value[..] {
                [scp, i] => Some((scp, i)),
                _ => None,
            }))
    }
}

fn once<T>(slot: &mut Option<T>, el: &Element<'_>, value: T) -> Result<(), GpError> {
    if slot.replace(value).is_some() {
        return Err(GpError::invalid(el.start, Some(el.tag), "repeated tag"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::{h, hex_field, section};

    #[test]
    fn fixtures_install_parameters() {
        let entries = section("install_parameters");
        if entries.is_empty() {
            return;
        }
        assert_eq!(entries.len(), 2);
        // osmocom/pysim test_globalplatform.py Install_param_Test: volatile 256, non-volatile
        // 256, TS 102 226 parameter 010001001505000000000000000000000000.
        assert!(entries[0]["source"].as_str().unwrap().contains("pysim"));
        let bytes = hex_field(&entries[0], "data");
        let p = InstallParameters::parse(&bytes).unwrap();
        assert_eq!(p.application_specific, Some(vec![]));
        assert_eq!(p.volatile_memory(), Some(256));
        assert_eq!(p.non_volatile_memory(), Some(256));
        assert_eq!(
            p.system.as_ref().unwrap()[2],
            SystemParameter::Uicc(h("010001001505000000000000000000000000"))
        );
        assert_eq!(p.to_bytes(), bytes);
        // Same, no inputs: C9 00.
        assert_eq!(entries[1]["inputs"].as_str(), Some("none"));
        let bytes = hex_field(&entries[1], "data");
        let p = InstallParameters::parse(&bytes).unwrap();
        assert_eq!(p, InstallParameters::application_specific(&[]));
        assert_eq!(p.to_bytes(), bytes);
    }

    #[test]
    fn sgp02_isd_p_parameters() {
        // SGP.02 CreateISDP (njiwa and whty agree): C9 04 81 02 03 70.
        let p = InstallParameters::isd_p(0x03, 0x70, None);
        assert_eq!(p.to_bytes(), h("C90481020370"));
        assert_eq!(p.scp_parameter().unwrap(), Some((0x03, 0x70)));
        let q = InstallParameters::isd_p(0x03, 0x70, Some(0x10000));
        assert_eq!(q.to_bytes(), h("C90481020370 EF06C80400010000"));
        assert_eq!(InstallParameters::parse(&q.to_bytes()).unwrap(), q);
        assert_eq!(q.non_volatile_memory(), Some(0x10000));
        assert_eq!(
            InstallParameters::isd_p(3, 0x70, Some(0x7FFF)).to_bytes(),
            h("C90481020370 EF04C8027FFF")
        );
    }

    #[test]
    fn other_objects_and_strictness() {
        // njiwa's `EF { 83 02 <mem> }` is kept as an unknown object; EA, B6 and CF decode.
        let bytes = h("C900 EF07830200FFCF0140 EA028000 B603420101 9F0100");
        let p = InstallParameters::parse(&bytes).unwrap();
        assert_eq!(p.implicit_selection(), vec![0x40]);
        assert_eq!(p.uicc_template, Some(h("8000")));
        assert_eq!(p.token_crt, Some(h("420101")));
        assert_eq!(p.other, vec![Tlv::new(0x9F01u16, vec![])]);
        assert_eq!(p.to_bytes(), bytes);
        // Memory amount of 3 bytes; repeated C9; truncated EF; CF of 2 bytes.
        for (bad, offset) in [
            ("EF05C703000100", Some(4)),
            ("C900C900", Some(2)),
            ("EF03C702", None),
            ("EF04CF024041", Some(4)),
        ] {
            let err = InstallParameters::parse(&h(bad)).unwrap_err();
            match offset {
                Some(o) => assert!(
                    matches!(err, GpError::Invalid { offset, .. } if offset == o),
                    "{bad}: {err}"
                ),
                None => assert!(matches!(err, GpError::Tlv(_)), "{bad}: {err}"),
            }
        }
        let not_tlv = InstallParameters::application_specific(&[0x81, 0x05]);
        assert!(not_tlv.scp_parameter().is_err());
    }
}
