//! `PE-AKAParameter` (`A4`, SAIP §8.5): the authentication algorithm and keys of the NAA created
//! just before, either its own (`algoParameter`: algorithm, K, OPc/TOPc, MILENAGE constants) or
//! borrowed from another ADF (`mappingParameter`), followed by the SQN management settings.
//!
//! `algoConfiguration` is a CHOICE inside an automatically tagged SEQUENCE, so its tag `A1` is
//! explicit and wraps the alternative's own tag (`A0` mapping, `A1` algorithm).

use super::der::{not_default, Node, Writer};
use super::{PeHeader, SaipError, SecretBytes};
use crate::auth::milenage::{Milenage, MilenageConstants};
use crate::auth::test_algorithm::TestAlgorithm;
use crate::auth::{AkaAlgorithm, AkaOutputs, AMF_LEN, MAC_LEN, RAND_LEN, SQN_LEN};

/// `algorithmID` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgorithmId {
    /// 1: MILENAGE (3GPP TS 35.206).
    Milenage,
    /// 2: TUAK (3GPP TS 35.231).
    Tuak,
    /// 3: the 3GPP test algorithm (TS 34.108 §8.1.2).
    UsimTestAlgorithm,
    /// Any other value.
    Other(u8),
}

impl AlgorithmId {
    pub fn value(self) -> u8 {
        match self {
            Self::Milenage => 1,
            Self::Tuak => 2,
            Self::UsimTestAlgorithm => 3,
            Self::Other(v) => v,
        }
    }

    pub fn from_value(v: u8) -> Self {
        match v {
            1 => Self::Milenage,
            2 => Self::Tuak,
            3 => Self::UsimTestAlgorithm,
            v => Self::Other(v),
        }
    }
}

/// `rotationConstants` DEFAULT `4000204060`.
pub const ROTATION_CONSTANTS_DEFAULT: [u8; 5] = [0x40, 0x00, 0x20, 0x40, 0x60];
/// `xoringConstants` DEFAULT: c1..c5 = 0, 1, 2, 4, 8.
pub const XORING_CONSTANTS_DEFAULT: [u8; 80] = {
    let mut c = [0u8; 80];
    c[31] = 1;
    c[47] = 2;
    c[63] = 4;
    c[79] = 8;
    c
};
/// `sqnOptions` DEFAULT.
pub const SQN_OPTIONS_DEFAULT: u8 = 0x02;
/// `sqnDelta` and `sqnAgeLimit` DEFAULT (2^28).
pub const SQN_DELTA_DEFAULT: [u8; 6] = [0x00, 0x00, 0x10, 0x00, 0x00, 0x00];

/// `AlgoParameter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgoParameter {
    /// `algorithmID` `80`.
    pub algorithm_id: AlgorithmId,
    /// `algorithmOptions` `81`.
    pub algorithm_options: u8,
    /// `key` `82`: K (16 bytes, 32 for TUAK-256).
    pub key: SecretBytes,
    /// `opc` `83`: OPc (MILENAGE) or TOPc (TUAK); ignored by the test algorithm.
    pub opc: SecretBytes,
    /// `rotationConstants` `84`, DEFAULT.
    pub rotation_constants: [u8; 5],
    /// `xoringConstants` `85`, DEFAULT.
    pub xoring_constants: [u8; 80],
    /// `authCounterMax` `86`.
    pub auth_counter_max: Option<[u8; 3]>,
    /// `numberOfKeccak` `87`, DEFAULT 1.
    pub number_of_keccak: u8,
}

impl AlgoParameter {
    /// The MILENAGE constants this PE configures.
    pub fn milenage_constants(&self) -> MilenageConstants {
        MilenageConstants::from_saip(&self.rotation_constants, &self.xoring_constants)
    }

    /// The algorithm this PE configures, ready to compute (MILENAGE with its K, OPc and
    /// constants, or the test algorithm with its K). TUAK and other values are not available.
    pub fn algorithm(&self) -> Result<ProfileAlgorithm, SaipError> {
        let k: [u8; 16] = self
            .key
            .expose()
            .try_into()
            .map_err(|_| SaipError::InvalidValue {
                what: "key",
                reason: format!("{} bytes; 16 required", self.key.len()),
            })?;
        match self.algorithm_id {
            AlgorithmId::Milenage => {
                let opc: [u8; 16] =
                    self.opc
                        .expose()
                        .try_into()
                        .map_err(|_| SaipError::InvalidValue {
                            what: "opc",
                            reason: format!("{} bytes; 16 required", self.opc.len()),
                        })?;
                Ok(ProfileAlgorithm::Milenage(Box::new(
                    Milenage::with_constants(&k, &opc, self.milenage_constants()),
                )))
            }
            AlgorithmId::UsimTestAlgorithm => Ok(ProfileAlgorithm::Test(TestAlgorithm::new(&k))),
            other => Err(SaipError::InvalidValue {
                what: "algorithmID",
                reason: format!("{other:?} is not implemented"),
            }),
        }
    }
}

/// An authentication algorithm configured by an `akaParameter`.
#[derive(Clone, Debug)]
pub enum ProfileAlgorithm {
    Milenage(Box<Milenage>),
    Test(TestAlgorithm),
}

impl AkaAlgorithm for ProfileAlgorithm {
    fn f1(&self, rand: &[u8; RAND_LEN], sqn: &[u8; SQN_LEN], amf: &[u8; AMF_LEN]) -> [u8; MAC_LEN] {
        match self {
            Self::Milenage(m) => m.f1(rand, sqn, amf),
            Self::Test(t) => t.f1(rand, sqn, amf),
        }
    }

    fn f1_star(
        &self,
        rand: &[u8; RAND_LEN],
        sqn: &[u8; SQN_LEN],
        amf: &[u8; AMF_LEN],
    ) -> [u8; MAC_LEN] {
        match self {
            Self::Milenage(m) => m.f1_star(rand, sqn, amf),
            Self::Test(t) => t.f1_star(rand, sqn, amf),
        }
    }

    fn f2345(&self, rand: &[u8; RAND_LEN]) -> AkaOutputs {
        match self {
            Self::Milenage(m) => m.f2345(rand),
            Self::Test(t) => t.f2345(rand),
        }
    }

    fn f5_star(&self, rand: &[u8; RAND_LEN]) -> [u8; SQN_LEN] {
        match self {
            Self::Milenage(m) => m.f5_star(rand),
            Self::Test(t) => t.f5_star(rand),
        }
    }
}

/// `algoConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlgoConfiguration {
    /// `mappingParameter`: use the AKA context of the ADF `mapping_source`.
    MappingParameter {
        mapping_options: u8,
        mapping_source: Vec<u8>,
    },
    /// `algoParameter`.
    AlgoParameter(AlgoParameter),
}

/// `PE-AKAParameter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeAkaParameter {
    pub header: PeHeader,
    pub algo_configuration: AlgoConfiguration,
    /// `sqnOptions` `82`, DEFAULT `02`.
    pub sqn_options: u8,
    /// `sqnDelta` `83`, DEFAULT `000010000000`.
    pub sqn_delta: [u8; 6],
    /// `sqnAgeLimit` `84`, DEFAULT `000010000000`.
    pub sqn_age_limit: [u8; 6],
    /// `sqnInit` `A5`: 32 initial SQN values (without IND); absent means all zero.
    pub sqn_init: Option<Vec<[u8; 6]>>,
}

impl PeAkaParameter {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-AKAParameter")?;
        let header = PeHeader::decode(&f.req(0xA0, "aka-header")?)?;
        let wrapper = f.req(0xA1, "algoConfiguration")?;
        let mut c = wrapper.fields("algoConfiguration")?;
        let algo_configuration = if let Some(m) = c.opt(0xA0) {
            let mut g = m.fields("MappingParameter")?;
            let mapping_options = g.req(0x80, "mappingOptions")?.array::<1>()?[0];
            let mapping_source = g.req(0x81, "mappingSource")?.octets_sized(5, 16)?;
            g.finish()?;
            AlgoConfiguration::MappingParameter {
                mapping_options,
                mapping_source,
            }
        } else {
            let a = c.req(0xA1, "mappingParameter or algoParameter")?;
            let mut g = a.fields("AlgoParameter")?;
            let algorithm_id = AlgorithmId::from_value(g.req(0x80, "algorithmID")?.u8()?);
            let algorithm_options = g.req(0x81, "algorithmOptions")?.array::<1>()?[0];
            let key = SecretBytes::new(g.req(0x82, "key")?.octets()?);
            let opc = SecretBytes::new(g.req(0x83, "opc")?.octets()?);
            let rotation_constants = match g.opt(0x84) {
                Some(n) => not_default(&n, n.array::<5>()?, ROTATION_CONSTANTS_DEFAULT)?,
                None => ROTATION_CONSTANTS_DEFAULT,
            };
            let xoring_constants = match g.opt(0x85) {
                Some(n) => not_default(&n, n.array::<80>()?, XORING_CONSTANTS_DEFAULT)?,
                None => XORING_CONSTANTS_DEFAULT,
            };
            let auth_counter_max = g.opt(0x86).map(|n| n.array::<3>()).transpose()?;
            let number_of_keccak = match g.opt(0x87) {
                Some(n) => not_default(&n, n.u8()?, 1)?,
                None => 1,
            };
            g.finish()?;
            AlgoConfiguration::AlgoParameter(AlgoParameter {
                algorithm_id,
                algorithm_options,
                key,
                opc,
                rotation_constants,
                xoring_constants,
                auth_counter_max,
                number_of_keccak,
            })
        };
        c.finish()?;
        let sqn_options = match f.opt(0x82) {
            Some(n) => not_default(&n, n.array::<1>()?[0], SQN_OPTIONS_DEFAULT)?,
            None => SQN_OPTIONS_DEFAULT,
        };
        let sqn_delta = match f.opt(0x83) {
            Some(n) => not_default(&n, n.array::<6>()?, SQN_DELTA_DEFAULT)?,
            None => SQN_DELTA_DEFAULT,
        };
        let sqn_age_limit = match f.opt(0x84) {
            Some(n) => not_default(&n, n.array::<6>()?, SQN_DELTA_DEFAULT)?,
            None => SQN_DELTA_DEFAULT,
        };
        let sqn_init = match f.opt(0xA5) {
            Some(list) => {
                let values = list
                    .children()?
                    .iter()
                    .map(|n| {
                        if n.tag.value() != 0x04 {
                            return Err(n.err("sqnInit entry is not an OCTET STRING"));
                        }
                        n.array::<6>()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if values.len() != 32 {
                    return Err(list.err("sqnInit is not SIZE(32)"));
                }
                Some(values)
            }
            None => None,
        };
        f.finish()?;
        Ok(Self {
            header,
            algo_configuration,
            sqn_options,
            sqn_delta,
            sqn_age_limit,
            sqn_init,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA4, |w| {
            self.header.encode(w, 0xA0);
            w.nested(0xA1, |w| match &self.algo_configuration {
                AlgoConfiguration::MappingParameter {
                    mapping_options,
                    mapping_source,
                } => w.nested(0xA0, |w| {
                    w.tlv(0x80, &[*mapping_options]);
                    w.tlv(0x81, mapping_source);
                }),
                AlgoConfiguration::AlgoParameter(a) => w.nested(0xA1, |w| {
                    w.uint(0x80, u64::from(a.algorithm_id.value()));
                    w.tlv(0x81, &[a.algorithm_options]);
                    w.tlv(0x82, a.key.expose());
                    w.tlv(0x83, a.opc.expose());
                    if a.rotation_constants != ROTATION_CONSTANTS_DEFAULT {
                        w.tlv(0x84, &a.rotation_constants);
                    }
                    if a.xoring_constants != XORING_CONSTANTS_DEFAULT {
                        w.tlv(0x85, &a.xoring_constants);
                    }
                    if let Some(m) = &a.auth_counter_max {
                        w.tlv(0x86, m);
                    }
                    if a.number_of_keccak != 1 {
                        w.uint(0x87, u64::from(a.number_of_keccak));
                    }
                }),
            });
            if self.sqn_options != SQN_OPTIONS_DEFAULT {
                w.tlv(0x82, &[self.sqn_options]);
            }
            if self.sqn_delta != SQN_DELTA_DEFAULT {
                w.tlv(0x83, &self.sqn_delta);
            }
            if self.sqn_age_limit != SQN_DELTA_DEFAULT {
                w.tlv(0x84, &self.sqn_age_limit);
            }
            if let Some(init) = &self.sqn_init {
                w.nested(0xA5, |w| {
                    for v in init {
                        w.tlv(0x04, v);
                    }
                });
            }
        });
    }

    /// The algorithm parameters, unless this PE maps to another ADF.
    pub fn algo_parameter(&self) -> Option<&AlgoParameter> {
        match &self.algo_configuration {
            AlgoConfiguration::AlgoParameter(a) => Some(a),
            AlgoConfiguration::MappingParameter { .. } => None,
        }
    }
}
