//! `smsr pki`: the SGP.02 PKI files (see [`smsr_proto::pki::dir`] for the directory layout).
//!
//! - `smsr pki init --dir DIR [--force]` makes a throw-away test PKI: a self-signed CI and the
//!   EUM, SM-DP and SM-SR certificates it signs (`7F21`, SGP.02 §2.3.2), with their P-256
//!   private keys (PEM, mode 0600). `euicc-emulator init --pki DIR` then plays the EUM.
//! - `smsr pki show FILE [--issuer CERT_FILE]` decodes any `7F21` certificate file and, with
//!   `--issuer`, verifies its signature with the issuer certificate's public key: exit code 1
//!   when it does not verify.
//!
//! JSON output of `show` (`--json`), stable:
//! ```json
//! { "file": "…", "serial": "05", "ca_id": "…", "subject_id": "…", "key_usage": "0080",
//!   "effective": "2025-01-01", "expiry": "2055-01-01", "image_number": null,
//!   "discretionary": null, "entity": null, "public_key": "04…", "signature": "…",
//!   "issuer": { "file": "…", "subject_id": "…", "verified": true, "error": null } }
//! ```
//! Identifiers are shown as hex; the text output adds their ASCII reading when printable.

use super::{print_json, CliError};
use crate::hexfmt;
use clap::Subcommand;
use serde::Serialize;
use smsr_proto::pki::cert::BcdDate;
use smsr_proto::pki::dir::read_certificate;
use smsr_proto::pki::{Certificate, EntityType, Issuers, PkiDirError};
use std::path::{Path, PathBuf};

/// `smsr pki ...`.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make a test PKI directory: CI, EUM, SM-DP and SM-SR certificates (7F21, DER) and private
    /// keys (PEM, mode 0600). For tests only: anyone holding the directory is the CI.
    Init {
        /// The directory (created if needed).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Replace the files of an existing PKI.
        #[arg(long)]
        force: bool,
    },
    /// Decode a 7F21 certificate; with --issuer, verify its signature (exit 1 if it fails).
    Show {
        /// The certificate file (the 7F21 TLV, binary).
        file: PathBuf,
        /// The issuer's certificate file, whose public key must verify FILE's signature.
        #[arg(long, value_name = "CERT_FILE")]
        issuer: Option<PathBuf>,
    },
}

fn dir_error(e: PkiDirError) -> CliError {
    CliError::Input(e.to_string())
}

/// Runs `smsr pki ...`.
pub fn run(g: &crate::cli::GlobalArgs, cmd: &PkiCommand) -> Result<(), CliError> {
    match cmd {
        PkiCommand::Init { dir, force } => init(g.json, dir, *force),
        PkiCommand::Show { file, issuer } => show(g.json, file, issuer.as_deref()),
    }
}

#[derive(Serialize)]
struct InitOutput {
    dir: String,
    files: Vec<String>,
}

fn init(json: bool, dir: &Path, force: bool) -> Result<(), CliError> {
    let issuers = Issuers::generate().map_err(|e| CliError::Failed(e.to_string()))?;
    issuers.write_dir(dir, force).map_err(dir_error)?;
    let files: Vec<String> = smsr_proto::pki::dir::PARTIES
        .iter()
        .flat_map(|stem| {
            [
                smsr_proto::pki::dir::certificate_path(dir, stem),
                smsr_proto::pki::dir::key_path(dir, stem),
            ]
        })
        .map(|p| p.display().to_string())
        .collect();
    if json {
        print_json(&InitOutput {
            dir: dir.display().to_string(),
            files,
        });
    } else {
        println!("test PKI written to {}:", dir.display());
        for f in files {
            println!("  {f}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct IssuerCheck {
    file: String,
    subject_id: String,
    verified: bool,
    error: Option<String>,
}

#[derive(Serialize)]
struct ShowOutput {
    file: String,
    serial: String,
    ca_id: String,
    subject_id: String,
    key_usage: String,
    effective: Option<String>,
    expiry: String,
    image_number: Option<String>,
    discretionary: Option<String>,
    entity: Option<&'static str>,
    public_key: String,
    signature: String,
    issuer: Option<IssuerCheck>,
}

fn date(d: &BcdDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn entity_name(e: EntityType) -> &'static str {
    match e {
        EntityType::SmDp => "SM-DP",
        EntityType::SmSr => "SM-SR",
        EntityType::Other(_) => "other",
    }
}

/// Hex, with the ASCII reading when every byte is printable.
fn id_text(bytes: &[u8]) -> String {
    let hex = hexfmt::upper(bytes);
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{hex} ({:?})", String::from_utf8_lossy(bytes))
    } else {
        hex
    }
}

fn show(json: bool, file: &Path, issuer: Option<&Path>) -> Result<(), CliError> {
    let cert = read_certificate(file).map_err(dir_error)?;
    let check = issuer
        .map(|path| -> Result<IssuerCheck, CliError> {
            let issuer_cert = read_certificate(path).map_err(dir_error)?;
            let result = cert.verify(issuer_cert.public_key());
            Ok(IssuerCheck {
                file: path.display().to_string(),
                subject_id: hexfmt::upper(&issuer_cert.body.subject_id),
                verified: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
            })
        })
        .transpose()?;
    let out = describe(file, &cert, check);
    if json {
        print_json(&out);
    } else {
        let b = &cert.body;
        println!("certificate   {}", out.file);
        println!("serial        {}", out.serial);
        println!("CA id         {}", id_text(&b.ca_id));
        println!("subject id    {}", id_text(&b.subject_id));
        println!("key usage     {}", out.key_usage);
        if let Some(d) = &out.effective {
            println!("effective     {d}");
        }
        println!("expiry        {}", out.expiry);
        if let Some(n) = &out.image_number {
            println!("image number  {n}");
        }
        if let Some(d) = &out.discretionary {
            println!(
                "discretionary {d}{}",
                out.entity.map(|e| format!(" ({e})")).unwrap_or_default()
            );
        }
        println!("public key    {}", out.public_key);
        println!("signature     {}", out.signature);
        if let Some(c) = &out.issuer {
            match &c.error {
                None => println!("issuer        {}: signature verifies", c.file),
                Some(e) => println!("issuer        {}: {e}", c.file),
            }
        }
    }
    match &out.issuer {
        Some(IssuerCheck {
            verified: false,
            file,
            ..
        }) => Err(CliError::Failed(format!(
            "{}: the signature does not verify with the public key of {file}",
            out.file
        ))),
        _ => Ok(()),
    }
}

fn describe(file: &Path, cert: &Certificate, issuer: Option<IssuerCheck>) -> ShowOutput {
    let b = &cert.body;
    ShowOutput {
        file: file.display().to_string(),
        serial: hexfmt::upper(&b.serial),
        ca_id: hexfmt::upper(&b.ca_id),
        subject_id: hexfmt::upper(&b.subject_id),
        key_usage: b.key_usage.to_string(),
        effective: b.effective.as_ref().map(date),
        expiry: date(&b.expiry),
        image_number: b.image_number.as_deref().map(hexfmt::upper),
        discretionary: b.discretionary.as_deref().map(hexfmt::upper),
        entity: b.entity_type().map(entity_name),
        public_key: hexfmt::upper(&b.public_key.to_uncompressed()),
        signature: hexfmt::upper(cert.signature.as_bytes()),
        issuer,
    }
}
