//! INSTALL (GPCS v2.3.1 §11.5) in each of its roles, for both ends.
//!
//! `80 E6 P1 P2 Lc data 00`. P1 gives the role: `02` [for load], `04` [for install], `08` [for
//! make selectable], `0C` [for install and make selectable], `0E` the combined [for load,
//! install and make selectable] (P2 `01` with the for-load data, then LOAD, then P2 `03` with
//! the for-install data), `10` [for extradition], `20` [for personalization], `40` [for
//! registry update]; P1 b8 chains commands whose data exceeds 255 bytes ([`Install::to_apdus`],
//! [`Install::from_apdus`]). The data fields are LV coded (Tables 11-42 to 11-47); parameter
//! and token lengths are BER lengths in which `80` may also mean 128. The parameters fields are
//! kept as bytes; [`InstallParameters`] decodes them.
//!
//! SGP.02 CreateISDP is INSTALL [for install and make selectable] of the ISD-P load file and
//! module with privileges `80 C0 00` and parameters `C9 04 81 02 03 70`:
//! [`Install::create_isd_p`].

use super::codec::{expect_ins, join_chain, push_ber_lv, push_lv, split_chain, Reader};
use super::install_params::InstallParameters;
use super::privileges::Privileges;
use super::{Aid, GpError, CLA_GP, MAX_COMMAND_DATA};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};

/// INS of INSTALL.
pub const INS_INSTALL: u8 = 0xE6;

/// INSTALL [for load] data (Table 11-42).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForLoad {
    pub load_file: Aid,
    /// The Security Domain to associate the load file with (default: the one receiving it).
    pub security_domain: Option<Aid>,
    /// Load File Data Block hash (0–127 bytes).
    pub hash: Vec<u8>,
    /// Load parameters (see [`InstallParameters`]).
    pub parameters: Vec<u8>,
    pub token: Vec<u8>,
}

/// INSTALL [for install] data (Table 11-43), also used with make selectable and as the end of
/// the combined process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForInstall {
    /// Executable Load File (optional only in the combined process).
    pub load_file: Option<Aid>,
    pub module: Option<Aid>,
    /// The new application instance.
    pub application: Aid,
    pub privileges: Privileges,
    /// Install parameters (at least `C9`; see [`InstallParameters`]).
    pub parameters: Vec<u8>,
    pub token: Vec<u8>,
}

/// INSTALL [for make selectable] data (Table 11-44).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForMakeSelectable {
    pub application: Aid,
    pub privileges: Privileges,
    pub parameters: Vec<u8>,
    pub token: Vec<u8>,
}

/// INSTALL [for extradition] data (Table 11-45).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForExtradition {
    /// The Security Domain receiving the application or load file.
    pub security_domain: Aid,
    pub application: Aid,
    pub parameters: Vec<u8>,
    pub token: Vec<u8>,
}

/// INSTALL [for registry update] data (Table 11-46).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForRegistryUpdate {
    pub security_domain: Option<Aid>,
    pub application: Option<Aid>,
    pub privileges: Option<Privileges>,
    pub parameters: Vec<u8>,
    pub token: Vec<u8>,
}

/// An INSTALL command, by role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Install {
    /// P1 `02`.
    ForLoad(ForLoad),
    /// P1 `04`, or `0C` with `make_selectable`.
    ForInstall {
        data: ForInstall,
        make_selectable: bool,
    },
    /// P1 `08`.
    ForMakeSelectable(ForMakeSelectable),
    /// P1 `0E`, P2 `01`: start of the combined load, install and make selectable.
    CombinedStart(ForLoad),
    /// P1 `0E`, P2 `03`: end of the combined process.
    CombinedEnd(ForInstall),
    /// P1 `10`.
    ForExtradition(ForExtradition),
    /// P1 `20`: STORE DATA commands that follow go to `application`.
    ForPersonalization(Aid),
    /// P1 `40`.
    ForRegistryUpdate(ForRegistryUpdate),
}

impl Install {
    /// SGP.02 ES5 CreateISDP: INSTALL [for install and make selectable] of `isd_p` from the
    /// ISD-P load file and module, privileges `80 C0 00`, install parameters `C9 04 81 02 03
    /// 70` plus `EF { C8 quota }` when a non-volatile memory quota is given.
    pub fn create_isd_p(isd_p: Aid, non_volatile_quota: Option<u32>) -> Self {
        Self::ForInstall {
            data: ForInstall {
                load_file: Some(Aid::isd_p_load_file()),
                module: Some(Aid::isd_p_module()),
                application: isd_p,
                privileges: Privileges::ISD_P,
                parameters: InstallParameters::isd_p(0x03, 0x70, non_volatile_quota).to_bytes(),
                token: Vec::new(),
            },
            make_selectable: true,
        }
    }

    /// P1 (without the chaining bit) and P2.
    pub fn p1_p2(&self) -> (u8, u8) {
        match self {
            Self::ForLoad(_) => (0x02, 0x00),
            Self::ForInstall {
                make_selectable, ..
            } => (if *make_selectable { 0x0C } else { 0x04 }, 0x00),
            Self::ForMakeSelectable(_) => (0x08, 0x00),
            Self::CombinedStart(_) => (0x0E, 0x01),
            Self::CombinedEnd(_) => (0x0E, 0x03),
            Self::ForExtradition(_) => (0x10, 0x00),
            Self::ForPersonalization(_) => (0x20, 0x00),
            Self::ForRegistryUpdate(_) => (0x40, 0x00),
        }
    }

    /// The command data field.
    pub fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let opt_aid =
            |v: &mut Vec<u8>, a: &Option<Aid>| push_lv(v, a.as_ref().map_or(&[], Aid::as_bytes));
        match self {
            Self::ForLoad(d) | Self::CombinedStart(d) => {
                push_lv(&mut v, d.load_file.as_bytes());
                opt_aid(&mut v, &d.security_domain);
                push_lv(&mut v, &d.hash);
                push_ber_lv(&mut v, &d.parameters);
                push_ber_lv(&mut v, &d.token);
            }
            Self::ForInstall { data: d, .. } | Self::CombinedEnd(d) => {
                opt_aid(&mut v, &d.load_file);
                opt_aid(&mut v, &d.module);
                push_lv(&mut v, d.application.as_bytes());
                push_lv(&mut v, &d.privileges.to_bytes());
                push_ber_lv(&mut v, &d.parameters);
                push_ber_lv(&mut v, &d.token);
            }
            Self::ForMakeSelectable(d) => {
                v.extend([0, 0]);
                push_lv(&mut v, d.application.as_bytes());
                push_lv(&mut v, &d.privileges.to_bytes());
                push_ber_lv(&mut v, &d.parameters);
                push_ber_lv(&mut v, &d.token);
            }
            Self::ForExtradition(d) => {
                push_lv(&mut v, d.security_domain.as_bytes());
                v.push(0);
                push_lv(&mut v, d.application.as_bytes());
                v.push(0);
                push_ber_lv(&mut v, &d.parameters);
                push_ber_lv(&mut v, &d.token);
            }
            Self::ForPersonalization(app) => {
                v.extend([0, 0]);
                push_lv(&mut v, app.as_bytes());
                v.extend([0, 0, 0]);
            }
            Self::ForRegistryUpdate(d) => {
                opt_aid(&mut v, &d.security_domain);
                v.push(0);
                opt_aid(&mut v, &d.application);
                push_lv(
                    &mut v,
                    &d.privileges.map(|p| p.to_bytes()).unwrap_or_default(),
                );
                push_ber_lv(&mut v, &d.parameters);
                push_ber_lv(&mut v, &d.token);
            }
        }
        v
    }

    /// One command; fails if the data exceeds 255 bytes (use [`Install::to_apdus`]).
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        let data = self.data();
        if data.len() > MAX_COMMAND_DATA {
            return Err(GpError::TooLong {
                what: "INSTALL data (use a command chain)",
                len: data.len(),
                max: MAX_COMMAND_DATA,
            });
        }
        Ok(self.header().with_data(data))
    }

    /// The command, chained over several APDUs (P1 b8) when the data exceeds 255 bytes.
    pub fn to_apdus(&self) -> Result<Vec<CommandApdu>, GpError> {
        Ok(split_chain(&self.header(), &self.data()))
    }

    fn header(&self) -> CommandApdu {
        let (p1, p2) = self.p1_p2();
        CommandApdu::new(CLA_GP, INS_INSTALL, p1, p2).with_le(SHORT_LE_MAX)
    }

    /// Decodes one command (not part of a chain).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_INSTALL)?;
        if apdu.p1 & 0x80 != 0 {
            return Err(GpError::params(
                "INSTALL",
                apdu,
                "more commands follow: decode the whole chain",
            ));
        }
        let mut r = Reader::new(&apdu.data, 0);
        let install = match (apdu.p1, apdu.p2) {
            (0x02, 0x00) => Self::ForLoad(for_load(&mut r)?),
            (0x04, 0x00) | (0x0C, 0x00) => Self::ForInstall {
                data: for_install(&mut r, false)?,
                make_selectable: apdu.p1 == 0x0C,
            },
            (0x08, 0x00) => Self::ForMakeSelectable(for_make_selectable(&mut r)?),
            (0x0E, 0x01) => Self::CombinedStart(for_load(&mut r)?),
            (0x0E, 0x03) => Self::CombinedEnd(for_install(&mut r, true)?),
            (0x10, 0x00) => Self::ForExtradition(for_extradition(&mut r)?),
            (0x20, 0x00) => {
                empty(&mut r, 2)?;
                let app = aid(&mut r)?;
                empty(&mut r, 3)?;
                Self::ForPersonalization(app)
            }
            (0x40, 0x00) => Self::ForRegistryUpdate(for_registry_update(&mut r)?),
            _ => {
                return Err(GpError::params(
                    "INSTALL",
                    apdu,
                    "not a GPCS v2.3.1 INSTALL role (P1) or P2",
                ))
            }
        };
        r.finish()?;
        Ok(install)
    }

    /// Decodes a chain of commands (or a single command).
    pub fn from_apdus(apdus: &[CommandApdu]) -> Result<Self, GpError> {
        Self::from_apdu(&join_chain("INSTALL", apdus)?)
    }

    /// The install parameters, decoded (for load: the load parameters).
    pub fn parameters(&self) -> Result<InstallParameters, GpError> {
        let raw = match self {
            Self::ForLoad(d) | Self::CombinedStart(d) => &d.parameters,
            Self::ForInstall { data, .. } | Self::CombinedEnd(data) => &data.parameters,
            Self::ForMakeSelectable(d) => &d.parameters,
            Self::ForExtradition(d) => &d.parameters,
            Self::ForRegistryUpdate(d) => &d.parameters,
            Self::ForPersonalization(_) => return Ok(InstallParameters::default()),
        };
        InstallParameters::parse(raw)
    }
}

fn aid(r: &mut Reader<'_>) -> Result<Aid, GpError> {
    let at = r.offset();
    Aid::new(r.lv("AID")?).map_err(|_| GpError::invalid(at, None, "AID must be 5 to 16 bytes"))
}

fn optional_aid(r: &mut Reader<'_>) -> Result<Option<Aid>, GpError> {
    if r.peek() == Some(0) {
        r.u8("AID length")?;
        return Ok(None);
    }
    aid(r).map(Some)
}

fn privileges(r: &mut Reader<'_>, optional: bool) -> Result<Option<Privileges>, GpError> {
    let at = r.offset();
    let bytes = r.lv("privileges")?;
    if bytes.is_empty() && optional {
        return Ok(None);
    }
    Privileges::from_bytes(bytes)
        .map(Some)
        .map_err(|_| GpError::invalid(at, None, "privileges are 1 or 3 bytes"))
}

/// `count` fields that must be empty (length `00`).
fn empty(r: &mut Reader<'_>, count: usize) -> Result<(), GpError> {
    for _ in 0..count {
        let at = r.offset();
        if r.u8("length of data")? != 0 {
            return Err(GpError::invalid(at, None, "this length must be 00"));
        }
    }
    Ok(())
}

fn parameters_and_token(r: &mut Reader<'_>) -> Result<(Vec<u8>, Vec<u8>), GpError> {
    let parameters = r.ber_lv("parameters")?.to_vec();
    let token = r.ber_lv("token")?.to_vec();
    Ok((parameters, token))
}

fn for_load(r: &mut Reader<'_>) -> Result<ForLoad, GpError> {
    let load_file = aid(r)?;
    let security_domain = optional_aid(r)?;
    let at = r.offset();
    let hash = r.lv("Load File Data Block hash")?.to_vec();
    if hash.len() > 0x7F {
        return Err(GpError::invalid(at, None, "hash length above 127"));
    }
    let (parameters, token) = parameters_and_token(r)?;
    Ok(ForLoad {
        load_file,
        security_domain,
        hash,
        parameters,
        token,
    })
}

fn for_install(r: &mut Reader<'_>, combined: bool) -> Result<ForInstall, GpError> {
    let at = r.offset();
    let load_file = optional_aid(r)?;
    if load_file.is_none() && !combined {
        return Err(GpError::invalid(
            at,
            None,
            "Executable Load File AID missing",
        ));
    }
    let module = optional_aid(r)?;
    let application = aid(r)?;
    let privileges = privileges(r, false)?.unwrap_or_default();
    let (parameters, token) = parameters_and_token(r)?;
    Ok(ForInstall {
        load_file,
        module,
        application,
        privileges,
        parameters,
        token,
    })
}

fn for_make_selectable(r: &mut Reader<'_>) -> Result<ForMakeSelectable, GpError> {
    empty(r, 2)?;
    let application = aid(r)?;
    let privileges = privileges(r, false)?.unwrap_or_default();
    let (parameters, token) = parameters_and_token(r)?;
    Ok(ForMakeSelectable {
        application,
        privileges,
        parameters,
        token,
    })
}

fn for_extradition(r: &mut Reader<'_>) -> Result<ForExtradition, GpError> {
    let security_domain = aid(r)?;
    empty(r, 1)?;
    let application = aid(r)?;
    empty(r, 1)?;
    let (parameters, token) = parameters_and_token(r)?;
    Ok(ForExtradition {
        security_domain,
        application,
        parameters,
        token,
    })
}

fn for_registry_update(r: &mut Reader<'_>) -> Result<ForRegistryUpdate, GpError> {
    let security_domain = optional_aid(r)?;
    empty(r, 1)?;
    let application = optional_aid(r)?;
    let privileges = privileges(r, true)?;
    let (parameters, token) = parameters_and_token(r)?;
    Ok(ForRegistryUpdate {
        security_domain,
        application,
        privileges,
        parameters,
        token,
    })
}

#[cfg(test)]
mod tests;
