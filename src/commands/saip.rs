//! Offline SAIP profile package commands (the SM-DP's profile preparation, TCA eUICC Profile
//! Package v2.x/3.x): `smsr profile inspect`, `smsr profile build`, `smsr profile personalize`.
//! They read and write DER files only and never open the registry or a card.
//!
//! `inspect` prints the header, every PE with its offset and length, the IMSI, the AKA
//! parameters (K and OPc REDACTED unless `--show-secrets`), the PIN/PUK key references
//! present (values always REDACTED unless `--show-secrets`), the security domains with their
//! keys (values never printed), the number of files, the PEs that did not decode, and the
//! problems the header and structure checks find. `--json` prints the same as one object.

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::commands::platform::ProfileCommand;
use crate::hexfmt;
use clap::{Args, ValueEnum};
use smsr_proto::saip::aka::AlgorithmId;
use smsr_proto::saip::minimal::MinimalProfile;
use smsr_proto::saip::Package;
use std::path::{Path, PathBuf};

pub mod inspect;

pub use inspect::{inspection, Inspection};

/// What secret values print as without `--show-secrets`.
pub const REDACTED: &str = "REDACTED";

/// `smsr profile inspect`.
#[derive(Clone, Debug, Args)]
pub struct InspectArgs {
    /// The profile package (DER).
    pub file: PathBuf,
    /// Print K, OPc, PIN and PUK values instead of REDACTED.
    #[arg(long)]
    pub show_secrets: bool,
}

/// The AKA algorithm of a built package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AlgoChoice {
    /// MILENAGE (3GPP TS 35.206) with the default constants.
    Milenage,
    /// The test algorithm of 3GPP TS 34.108 §8.1.2 (for test networks only).
    Test,
}

/// A profile given by its identity and credentials: what `smsr profile build` writes to a file,
/// and what `smsr provision` and `smsr profile check` accept instead of `--profile FILE`. The
/// package is [`MinimalProfile`]; the same values always give the same K, OPc and IMSI, so the
/// SM-DP side of `profile check` knows them from the same arguments.
#[derive(Clone, Debug, Args)]
pub struct ProfileFields {
    /// ICCID, 18 to 20 digits.
    #[arg(long)]
    pub iccid: String,
    /// IMSI, 6 to 15 digits.
    #[arg(long)]
    pub imsi: String,
    /// K (Ki), 16 bytes in hex.
    #[arg(long)]
    pub ki: String,
    /// OPc, 16 bytes in hex (ignored by the test algorithm, but still stored).
    #[arg(long)]
    pub opc: String,
    /// The AKA algorithm.
    #[arg(long, value_enum, default_value_t = AlgoChoice::Milenage)]
    pub algo: AlgoChoice,
}

impl ProfileFields {
    /// The package, after checking every value (Ki and OPc lengths, ICCID and IMSI digits):
    /// a [`CliError::Input`] naming the option otherwise.
    pub fn package(&self) -> Result<Package, CliError> {
        let k = zeroize::Zeroizing::new(key16("ki", &self.ki)?);
        let opc = zeroize::Zeroizing::new(key16("opc", &self.opc)?);
        let mut spec = MinimalProfile::milenage(&self.iccid, &self.imsi, *k, *opc);
        if self.algo == AlgoChoice::Test {
            spec.algorithm = AlgorithmId::UsimTestAlgorithm;
        }
        spec.build().map_err(input)
    }
}

/// A profile package from a file or built from [`ProfileFields`]: the `--profile FILE |
/// --iccid … --imsi … --ki … --opc …` choice of `smsr provision` and `smsr profile check`.
#[derive(Clone, Debug, Args)]
pub struct ProfileSource {
    /// The profile package (SAIP DER), e.g. from `smsr profile build`; or give --iccid, --imsi,
    /// --ki and --opc instead.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "ProfileFields",
        required_unless_present = "ProfileFields"
    )]
    pub profile: Option<PathBuf>,
    /// The profile built on the fly from --iccid, --imsi, --ki, --opc [--algo], as `smsr
    /// profile build` would build it.
    #[command(flatten)]
    pub fields: Option<ProfileFields>,
}

impl ProfileSource {
    /// The package and its DER: read and parsed, or built. Input errors name the file or the
    /// option and come before anything reaches a card.
    pub fn load(&self) -> Result<(Vec<u8>, Package), CliError> {
        match (&self.profile, &self.fields) {
            (Some(path), _) => {
                let der = smsr_proto::bounded::read(
                    path,
                    smsr_proto::bounded::PACKAGE_MAX,
                    "a profile package",
                )
                .map_err(|e| {
                    CliError::Input(format!("cannot read profile {}: {e}", path.display()))
                })?;
                let package = Package::parse(&der).map_err(|e| {
                    CliError::Input(format!(
                        "{} is not a SAIP profile package: {e} (smsr profile inspect shows why)",
                        path.display()
                    ))
                })?;
                Ok((der, package))
            }
            (None, Some(fields)) => {
                let package = fields.package()?;
                Ok((package.to_der(), package))
            }
            (None, None) => Err(CliError::Input(
                "no profile: give --profile FILE or --iccid, --imsi, --ki and --opc".into(),
            )),
        }
    }
}

/// `smsr profile build`.
#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub fields: ProfileFields,
    /// Where to write the package.
    #[arg(long)]
    pub out: PathBuf,
}

/// `smsr profile personalize`.
#[derive(Clone, Debug, Args)]
pub struct PersonalizeArgs {
    /// The package to start from (DER).
    pub input: PathBuf,
    /// Where to write the changed package.
    #[arg(long)]
    pub out: PathBuf,
    /// New ICCID (header and EF.ICCID).
    #[arg(long)]
    pub iccid: Option<String>,
    /// New IMSI (EF.IMSI of the USIM).
    #[arg(long)]
    pub imsi: Option<String>,
    /// New K for every akaParameter (with --opc).
    #[arg(long, requires = "opc")]
    pub ki: Option<String>,
    /// New OPc for every akaParameter (with --ki).
    #[arg(long, requires = "ki")]
    pub opc: Option<String>,
}

/// Runs the offline `smsr profile` commands; `None` for the ones that need the registry.
pub fn run(g: &GlobalArgs, cmd: &ProfileCommand) -> Option<Result<(), CliError>> {
    match cmd {
        ProfileCommand::Inspect(a) => Some(inspect(g, a)),
        ProfileCommand::Build(a) => Some(build(g, a)),
        ProfileCommand::Personalize(a) => Some(personalize(g, a)),
        _ => None,
    }
}

fn read_package(path: &Path) -> Result<(Vec<u8>, Package), CliError> {
    let bytes =
        smsr_proto::bounded::read(path, smsr_proto::bounded::PACKAGE_MAX, "a profile package")
            .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?;
    let package = Package::parse(&bytes).map_err(|e| {
        CliError::Input(format!("{} is not a profile package: {e}", path.display()))
    })?;
    Ok((bytes, package))
}

fn write_package(path: &Path, package: &Package) -> Result<usize, CliError> {
    let der = package.to_der();
    // The package holds K and OPc.
    crate::secret_file::write_private(path, &der)
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
    Ok(der.len())
}

fn key16(what: &str, text: &str) -> Result<[u8; 16], CliError> {
    let bytes = hexfmt::parse(text).map_err(|e| CliError::Input(format!("--{what}: {e}")))?;
    let n = bytes.len();
    bytes
        .try_into()
        .map_err(|_| CliError::Input(format!("--{what}: {n} bytes; 16 required")))
}

fn input(e: smsr_proto::saip::SaipError) -> CliError {
    CliError::Input(e.to_string())
}

/// `smsr profile build`.
pub fn build(g: &GlobalArgs, a: &BuildArgs) -> Result<(), CliError> {
    let package = a.fields.package()?;
    let size = write_package(&a.out, &package)?;
    report_written(g, &a.out, size, package.elements.len())
}

/// `smsr profile personalize`.
pub fn personalize(g: &GlobalArgs, a: &PersonalizeArgs) -> Result<(), CliError> {
    let (_, mut package) = read_package(&a.input)?;
    if a.iccid.is_none() && a.imsi.is_none() && a.ki.is_none() {
        return Err(CliError::Input(
            "nothing to change: give --iccid, --imsi or --ki with --opc".into(),
        ));
    }
    if let Some(iccid) = &a.iccid {
        package.set_iccid(iccid).map_err(input)?;
    }
    if let Some(imsi) = &a.imsi {
        package.set_imsi(imsi).map_err(input)?;
    }
    if let (Some(ki), Some(opc)) = (&a.ki, &a.opc) {
        let k = zeroize::Zeroizing::new(key16("ki", ki)?);
        let o = zeroize::Zeroizing::new(key16("opc", opc)?);
        package.set_aka_keys(&k[..], &o[..]).map_err(input)?;
    }
    let size = write_package(&a.out, &package)?;
    report_written(g, &a.out, size, package.elements.len())
}

fn report_written(g: &GlobalArgs, out: &Path, size: usize, pes: usize) -> Result<(), CliError> {
    if g.json {
        print_json(&serde_json::json!({
            "written": out.display().to_string(),
            "size": size,
            "pe_count": pes,
        }));
    } else {
        println!("wrote {} ({size} bytes, {pes} PEs)", out.display());
    }
    Ok(())
}

/// `smsr profile inspect`.
pub fn inspect(g: &GlobalArgs, a: &InspectArgs) -> Result<(), CliError> {
    let (bytes, package) = read_package(&a.file)?;
    let report = inspection(
        &a.file.display().to_string(),
        bytes.len(),
        &package,
        a.show_secrets,
    );
    if g.json {
        print_json(&report);
    } else {
        inspect::print_text(&report);
    }
    Ok(())
}
