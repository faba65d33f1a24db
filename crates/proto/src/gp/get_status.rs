//! GET STATUS (GPCS v2.3.1 §11.4): reading the GlobalPlatform Registry.
//!
//! `80 F2 P1 P2 Lc data 00`. P1 picks the entries: `80` the ISD, `40` applications and
//! Security Domains, `20` Executable Load Files, `10` load files with their modules. P2 b2 = 1
//! asks for the TLV format (`E3` per entry, Tables 11-36/11-37), b2 = 0 for the deprecated
//! legacy format (GPCS v2.1.1 Tables 9-22/9-24: `len AID, LCS, privileges` [`, count, len
//! module AID...`]); P2 b1 = 1 asks for the next occurrences after a `6310` answer. The data
//! field holds the search criteria: `4F` with an AID prefix (`4F 00` for all), optional other
//! criteria, optional tag list `5C`.
//!
//! [`GetStatus::follow_up`] gives the host's next command (paging after `6310`, the legacy
//! format after `6A86`); [`GetStatus::response_pages`] splits the card's answer into pages.

use super::codec::{check_short, elements, expect_ins, Element, Reader};
use super::life_cycle::{self, EntityKind};
use super::privileges::Privileges;
use super::{Aid, GpError, CLA_GP};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};
use crate::status::StatusWord;
use crate::tlv::{tlv, Tag, Tlv};

/// INS of GET STATUS.
pub const INS_GET_STATUS: u8 = 0xF2;
/// Largest response data a GlobalPlatform response carries (GPCS §11.1.5).
pub const MAX_RESPONSE_DATA: usize = 256;

const TAG_REGISTRY_DATA: u8 = 0xE3;
const TAG_AID: u8 = 0x4F;
const TAG_LIFE_CYCLE: u16 = 0x9F70;
const TAG_PRIVILEGES: u8 = 0xC5;
const TAG_IMPLICIT_SELECTION: u8 = 0xCF;
const TAG_LOAD_FILE: u8 = 0xC4;
const TAG_VERSION: u8 = 0xCE;
const TAG_MODULE: u8 = 0x84;
const TAG_ASSOCIATED_SD: u8 = 0xCC;
const TAG_TAG_LIST: u8 = 0x5C;

/// Which registry entries GET STATUS returns (P1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusScope {
    /// `80`: the Issuer Security Domain only.
    IssuerSecurityDomain,
    /// `40`: applications, including Supplementary Security Domains.
    Applications,
    /// `20`: Executable Load Files.
    LoadFiles,
    /// `10`: Executable Load Files and their Executable Modules.
    LoadFilesAndModules,
}

impl StatusScope {
    pub fn p1(self) -> u8 {
        match self {
            Self::IssuerSecurityDomain => 0x80,
            Self::Applications => 0x40,
            Self::LoadFiles => 0x20,
            Self::LoadFilesAndModules => 0x10,
        }
    }

    pub fn from_p1(p1: u8) -> Option<Self> {
        // b4..b1 are RFU and ignored.
        match p1 & 0xF0 {
            0x80 => Some(Self::IssuerSecurityDomain),
            0x40 => Some(Self::Applications),
            0x20 => Some(Self::LoadFiles),
            0x10 => Some(Self::LoadFilesAndModules),
            _ => None,
        }
    }
}

/// The response format asked for (P2 b2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseFormat {
    /// P2 b2 = 1: `E3` templates.
    Tlv,
    /// P2 b2 = 0: the deprecated fixed layout.
    Legacy,
}

/// A GET STATUS command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetStatus {
    pub scope: StatusScope,
    pub format: ResponseFormat,
    /// P2 b1: get the next occurrences (after `6310`).
    pub next: bool,
    /// The AID search criterion (`4F`): a prefix of 0 to 16 bytes, empty for all.
    pub aid_prefix: Vec<u8>,
    /// Other search criteria, in order.
    pub criteria: Vec<Tlv>,
    /// The tag list (`5C`), if any.
    pub tag_list: Option<Vec<Tag>>,
}

impl GetStatus {
    /// Every entry of `scope`, TLV format: `80 F2 P1 02 02 4F 00 00`.
    pub fn new(scope: StatusScope) -> Self {
        Self {
            scope,
            format: ResponseFormat::Tlv,
            next: false,
            aid_prefix: Vec::new(),
            criteria: Vec::new(),
            tag_list: None,
        }
    }

    /// Only entries whose AID starts with `prefix`.
    #[must_use]
    pub fn with_aid_prefix(mut self, prefix: &[u8]) -> Self {
        self.aid_prefix = prefix.to_vec();
        self
    }

    /// Asks for these data objects only.
    #[must_use]
    pub fn with_tag_list(mut self, tags: &[Tag]) -> Self {
        self.tag_list = Some(tags.to_vec());
        self
    }

    /// The host's next command after a response with `sw`: the next occurrences after `6310`,
    /// or the legacy format after `6A86` to a first TLV-format request (older cards).
    pub fn follow_up(&self, sw: StatusWord) -> Option<Self> {
        match sw {
            StatusWord::MoreDataAvailable => Some(Self {
                next: true,
                ..self.clone()
            }),
            StatusWord::IncorrectP1P2 if self.format == ResponseFormat::Tlv && !self.next => {
                Some(Self {
                    format: ResponseFormat::Legacy,
                    ..self.clone()
                })
            }
            _ => None,
        }
    }

    /// Whether `aid` matches the AID criterion.
    pub fn matches(&self, aid: &Aid) -> bool {
        aid.starts_with(&self.aid_prefix)
    }

    fn p2(&self) -> u8 {
        (u8::from(self.format == ResponseFormat::Tlv) << 1) | u8::from(self.next)
    }

    fn data(&self) -> Vec<u8> {
        let mut data = tlv(TAG_AID, &self.aid_prefix);
        data.extend(self.criteria.iter().flat_map(Tlv::to_bytes));
        if let Some(tags) = &self.tag_list {
            let list: Vec<u8> = tags.iter().flat_map(|t| t.to_bytes()).collect();
            data.extend(tlv(TAG_TAG_LIST, &list));
        }
        data
    }

    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        if self.aid_prefix.len() > Aid::MAX_LEN {
            return Err(GpError::TooLong {
                what: "AID search criterion",
                len: self.aid_prefix.len(),
                max: Aid::MAX_LEN,
            });
        }
        let data = self.data();
        check_short(&data, "GET STATUS data")?;
        Ok(
            CommandApdu::new(CLA_GP, INS_GET_STATUS, self.scope.p1(), self.p2())
                .with_data(data)
                .with_le(SHORT_LE_MAX),
        )
    }

    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_GET_STATUS)?;
        let scope = StatusScope::from_p1(apdu.p1).ok_or(GpError::params(
            "GET STATUS",
            apdu,
            "P1 is not 80, 40, 20 or 10",
        ))?;
        // P2 b8..b3 are RFU, which the card ignores (GPCS §11.1).
        let format = if apdu.p2 & 0x02 != 0 {
            ResponseFormat::Tlv
        } else {
            ResponseFormat::Legacy
        };
        let mut out = Self {
            next: apdu.p2 & 0x01 != 0,
            format,
            ..Self::new(scope)
        };
        let all = elements(&apdu.data, 0)?;
        let (first, rest) = all.split_first().ok_or(GpError::invalid(
            0,
            Some(Tag::from(TAG_AID)),
            "the AID search criterion (4F) is mandatory",
        ))?;
        if first.tag != Tag::from(TAG_AID) || first.value.len() > Aid::MAX_LEN {
            return Err(GpError::invalid(
                first.start,
                Some(first.tag),
                "the data must start with an AID criterion (4F, 0 to 16 bytes)",
            ));
        }
        out.aid_prefix = first.value.to_vec();
        for el in rest {
            if el.tag == Tag::from(TAG_TAG_LIST) {
                if out.tag_list.replace(tag_list(el)?).is_some() {
                    return Err(GpError::invalid(
                        el.start,
                        Some(el.tag),
                        "repeated tag list",
                    ));
                }
            } else {
                out.criteria.push(el.to_tlv());
            }
        }
        Ok(out)
    }

    /// Decodes the response data in this command's format.
    pub fn parse_response(&self, data: &[u8]) -> Result<Vec<RegistryEntry>, GpError> {
        match self.format {
            ResponseFormat::Tlv => RegistryEntry::parse_tlv_list(data),
            ResponseFormat::Legacy => RegistryEntry::parse_legacy_list(
                data,
                self.scope == StatusScope::LoadFilesAndModules,
            ),
        }
    }

    /// One entry encoded in this command's format.
    pub fn encode_entry(&self, entry: &RegistryEntry) -> Vec<u8> {
        match self.format {
            ResponseFormat::Tlv => entry.to_tlv(),
            ResponseFormat::Legacy => {
                entry.to_legacy(self.scope == StatusScope::LoadFilesAndModules)
            }
        }
    }

    /// The card's response data split into pages of at most `max_len` bytes at entry
    /// boundaries (an entry longer than `max_len` gets a page of its own). Every page but the
    /// last goes out with `6310`.
    pub fn response_pages(&self, entries: &[RegistryEntry], max_len: usize) -> Vec<Vec<u8>> {
        let mut pages: Vec<Vec<u8>> = Vec::new();
        let mut page = Vec::new();
        for encoded in entries.iter().map(|e| self.encode_entry(e)) {
            if !page.is_empty() && page.len() + encoded.len() > max_len {
                pages.push(std::mem::take(&mut page));
            }
            page.extend(encoded);
        }
        if !page.is_empty() || pages.is_empty() {
            pages.push(page);
        }
        pages
    }
}

fn tag_list(el: &Element<'_>) -> Result<Vec<Tag>, GpError> {
    let mut tags = Vec::new();
    let mut at = 0;
    while at < el.value.len() {
        let (tag, used) = Tag::parse(&el.value[at..]).map_err(|e| e.shifted(el.offset + at))?;
        tags.push(tag);
        at += used;
    }
    Ok(tags)
}

/// One GlobalPlatform Registry entry (an `E3` template, or a legacy record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEntry {
    /// `4F`.
    pub aid: Aid,
    /// `9F70`: the life-cycle state (see [`life_cycle`]).
    pub life_cycle: u8,
    /// `C5`: privileges (absent for load files).
    pub privileges: Option<Privileges>,
    /// `CF`: implicit selection parameters (b8 contactless, b7 contact, b5..b1 channel).
    pub implicit_selection: Vec<u8>,
    /// `C4`: the application's Executable Load File.
    pub load_file: Option<Aid>,
    /// `CE`: the load file's version (major, minor on Java Card).
    pub version: Option<Vec<u8>>,
    /// `84`: the load file's Executable Modules.
    pub modules: Vec<Aid>,
    /// `CC`: the associated Security Domain.
    pub associated_sd: Option<Aid>,
    /// Other objects (e.g. `EA`, or SGP.02 ISD-P data), in order.
    pub other: Vec<Tlv>,
}

impl RegistryEntry {
    /// An entry with AID, life cycle and privileges only.
    pub fn new(aid: Aid, life_cycle: u8, privileges: Option<Privileges>) -> Self {
        Self {
            aid,
            life_cycle,
            privileges,
            implicit_selection: Vec::new(),
            load_file: None,
            version: None,
            modules: Vec::new(),
            associated_sd: None,
            other: Vec::new(),
        }
    }

    /// What kind of entity this is, given the scope it was listed under.
    pub fn kind(&self, scope: StatusScope) -> EntityKind {
        match scope {
            StatusScope::IssuerSecurityDomain => EntityKind::IssuerSecurityDomain,
            StatusScope::LoadFiles | StatusScope::LoadFilesAndModules => EntityKind::LoadFile,
            StatusScope::Applications => match self.privileges {
                Some(p) if p.is_security_domain() && self.aid.is_isd_p() => EntityKind::IsdP,
                Some(p) if p.is_security_domain() => EntityKind::SecurityDomain,
                _ => EntityKind::Application,
            },
        }
    }

    /// The life-cycle state's name, given the scope it was listed under.
    pub fn life_cycle_name(&self, scope: StatusScope) -> Option<&'static str> {
        life_cycle::life_cycle_name(self.kind(scope), self.life_cycle)
    }

    /// Decodes a sequence of `E3` templates.
    pub fn parse_tlv_list(data: &[u8]) -> Result<Vec<Self>, GpError> {
        elements(data, 0)?
            .iter()
            .map(|el| {
                if el.tag == Tag::from(TAG_REGISTRY_DATA) {
                    Self::from_e3(el)
                } else {
                    Err(GpError::invalid(
                        el.start,
                        Some(el.tag),
                        "GET STATUS data holds E3 templates only",
                    ))
                }
            })
            .collect()
    }

    fn from_e3(e3: &Element<'_>) -> Result<Self, GpError> {
        let mut aid = None;
        let mut life_cycle = None;
        let mut out = Self::new(Aid::gp_isd(), 0, None);
        for el in e3.children()? {
            match el.tag.value() {
                0x4F => once(&mut aid, &el, aid_of(&el)?)?,
                0x9F70 => once(&mut life_cycle, &el, el.single_byte()?)?,
                0xC5 => {
                    let p = Privileges::from_bytes(el.value)
                        .map_err(|_| el.invalid("privileges are 1 or 3 bytes"))?;
                    once(&mut out.privileges, &el, p)?;
                }
                0xCF => out.implicit_selection.push(el.single_byte()?),
                0xC4 => once(&mut out.load_file, &el, aid_of(&el)?)?,
                0xCE => once(&mut out.version, &el, el.value.to_vec())?,
                0x84 => out.modules.push(aid_of(&el)?),
                0xCC => once(&mut out.associated_sd, &el, aid_of(&el)?)?,
                _ => out.other.push(el.to_tlv()),
            }
        }
        out.aid = aid.ok_or(e3.invalid("AID (4F) missing"))?;
        out.life_cycle = life_cycle.ok_or(e3.invalid("life-cycle state (9F70) missing"))?;
        Ok(out)
    }

    /// The `E3` template.
    pub fn to_tlv(&self) -> Vec<u8> {
        let mut v = tlv(TAG_AID, self.aid.as_bytes());
        v.extend(tlv(TAG_LIFE_CYCLE, &[self.life_cycle]));
        if let Some(p) = &self.privileges {
            v.extend(tlv(TAG_PRIVILEGES, &p.to_bytes()));
        }
        for cf in &self.implicit_selection {
            v.extend(tlv(TAG_IMPLICIT_SELECTION, &[*cf]));
        }
        if let Some(lf) = &self.load_file {
            v.extend(tlv(TAG_LOAD_FILE, lf.as_bytes()));
        }
        if let Some(version) = &self.version {
            v.extend(tlv(TAG_VERSION, version));
        }
        for m in &self.modules {
            v.extend(tlv(TAG_MODULE, m.as_bytes()));
        }
        if let Some(sd) = &self.associated_sd {
            v.extend(tlv(TAG_ASSOCIATED_SD, sd.as_bytes()));
        }
        v.extend(self.other.iter().flat_map(Tlv::to_bytes));
        tlv(TAG_REGISTRY_DATA, &v)
    }

    /// Decodes legacy records; `with_modules` for P1 `10` (module list after each load file).
    pub fn parse_legacy_list(data: &[u8], with_modules: bool) -> Result<Vec<Self>, GpError> {
        let mut r = Reader::new(data, 0);
        let mut out = Vec::new();
        while !r.is_empty() {
            let at = r.offset();
            let aid = Aid::new(r.lv("AID")?)
                .map_err(|_| GpError::invalid(at, None, "AID must be 5 to 16 bytes"))?;
            let life_cycle = r.u8("life-cycle state")?;
            let privileges = Privileges::one_byte(r.u8("privileges")?);
            let mut entry = Self::new(aid, life_cycle, Some(privileges));
            if with_modules {
                for _ in 0..r.u8("number of modules")? {
                    let at = r.offset();
                    let m = Aid::new(r.lv("module AID")?)
                        .map_err(|_| GpError::invalid(at, None, "AID must be 5 to 16 bytes"))?;
                    entry.modules.push(m);
                }
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// The legacy record (privileges `00` when absent; at most 255 modules).
    pub fn to_legacy(&self, with_modules: bool) -> Vec<u8> {
        let mut v = vec![u8::try_from(self.aid.len()).unwrap_or(0)];
        v.extend(self.aid.as_bytes());
        v.push(self.life_cycle);
        v.push(self.privileges.map_or(0, |p| p.bytes()[0]));
        if with_modules {
            let modules = &self.modules[..self.modules.len().min(255)];
            v.push(u8::try_from(modules.len()).unwrap_or(u8::MAX));
            for m in modules {
                v.push(u8::try_from(m.len()).unwrap_or(0));
                v.extend(m.as_bytes());
            }
        }
        v
    }
}

fn aid_of(el: &Element<'_>) -> Result<Aid, GpError> {
    Aid::new(el.value).map_err(|_| el.invalid("AID must be 5 to 16 bytes"))
}

fn once<T>(slot: &mut Option<T>, el: &Element<'_>, value: T) -> Result<(), GpError> {
    if slot.replace(value).is_some() {
        return Err(GpError::invalid(el.start, Some(el.tag), "repeated tag"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
