//! `smsr pki`: the SGP.02 PKI files (see [`smsr_proto::pki::dir`] for the directory layout) and
//! the TLS test PKI of the services (see [`crate::tls`]).
//!
//! - `smsr pki init --dir DIR [--force]` makes a throw-away test PKI: a self-signed CI and the
//!   EUM, SM-DP and SM-SR certificates it signs (`7F21`, SGP.02 §2.3.2), with their P-256
//!   private keys (PEM, mode 0600). `euicc-emulator init --pki DIR` then plays the EUM. Into the
//!   same directory goes the TLS test PKI: an X.509 CA and one leaf per role (sm-dp, sm-sr, mno,
//!   eum) for mutual TLS between the services.
//! - `smsr pki issue --dir DIR --role ROLE --name NAME [--force]` issues another TLS leaf from
//!   that CA (a second operator, say).
//! - `smsr pki show FILE [--issuer CERT_FILE]` decodes any `7F21` certificate file and, with
//!   `--issuer`, verifies its signature with the issuer certificate's public key: exit code 1
//!   when it does not verify.
//!
//! JSON output of `init` (`--json`), stable: `{ "dir": "…", "files": ["…", …] }`, the SGP.02
//! files then the TLS files. Of `issue`: `{ "cert": "…", "key": "…", "role": "mno", "name": "…" }`.
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
use crate::tls::{self, Role, TlsError};
use clap::builder::{PossibleValuesParser, TypedValueParser};
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
    /// keys (PEM, mode 0600), and the TLS test PKI of the services (X.509 CA and one leaf per
    /// role). For tests only: anyone holding the directory is the CI and the CA.
    #[command(long_about = INIT_LONG_ABOUT)]
    Init {
        /// The directory (created if needed).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Replace the files of an existing PKI (both the SGP.02 and the TLS files).
        #[arg(long)]
        force: bool,
    },
    /// Issue another TLS certificate from the test CA of `smsr pki init`: NAME.tls.crt.pem and
    /// NAME.tls.key.pem (mode 0600), for one more party of the services (a second operator...).
    #[command(long_about = ISSUE_LONG_ABOUT)]
    Issue {
        /// The PKI directory holding the TLS CA (tls-ca.crt.pem and tls-ca.key.pem, made by
        /// `smsr pki init`); the new files are written there.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The role written into the certificate (subject OU): what its holder is to the
        /// services.
        #[arg(
            long,
            value_name = "ROLE",
            value_parser = PossibleValuesParser::new(Role::ALL.map(Role::as_str))
                .try_map(|s| s.parse::<Role>())
        )]
        role: Role,
        /// The holder's name (subject CN), also the file names' stem: letters, digits, '.',
        /// '_', '-', starting with a letter or digit, at most 64 characters.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Replace NAME's certificate and key if they exist.
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

const INIT_LONG_ABOUT: &str = "Make a test PKI directory, for tests only: anyone holding \
the directory is the CI and the TLS CA.

The SGP.02 PKI (GlobalPlatform 7F21 certificates, used with the card: ES8 key establishment, \
the ECASD certificate the EUM issues):
  ci.cert.der     ci.key.pem       the CI, self-signed
  eum.cert.der    eum.key.pem      signed by the CI (`euicc-emulator init --pki DIR` plays the EUM)
  sm-dp.cert.der  sm-dp.key.pem    signed by the CI
  sm-sr.cert.der  sm-sr.key.pem    signed by the CI

The TLS test PKI (X.509, PEM; mutual TLS between the services), separate from the CI:
  tls-ca.crt.pem     tls-ca.key.pem      the CA, self-signed, P-256
  NAME.tls.crt.pem   NAME.tls.key.pem    one leaf for each of sm-dp, sm-sr, mno, eum: \
CN = NAME, OU = the role, SANs localhost and 127.0.0.1, for both server and client use

Private keys are PKCS#8 PEM files with mode 0600. Nothing is written when any of the files \
exists, unless --force is given. Add more TLS leaves with `smsr pki issue`.

Examples:
  smsr pki init --dir pki
  smsr pki init --dir pki --force --json";

const ISSUE_LONG_ABOUT: &str = "Issue another TLS certificate from the test CA of `smsr pki \
init` (DIR/tls-ca.crt.pem and DIR/tls-ca.key.pem): DIR/NAME.tls.crt.pem and DIR/NAME.tls.key.pem \
(PKCS#8 PEM, mode 0600).

The certificate has the profile of the leaves `smsr pki init` writes: CN = NAME, OU = ROLE, \
O = \"smsr test PKI\", SANs DNS localhost and IP 127.0.0.1, extended key usage serverAuth and \
clientAuth. A service reads the role from the OU and the name from the CN of the certificate \
its peer presents. NAME's files are not replaced unless --force is given.

Examples:
  smsr pki issue --dir pki --role mno --name acme-mobile
  smsr pki issue --dir pki --role eum --name eum-2 --json";

fn dir_error(e: PkiDirError) -> CliError {
    CliError::Input(e.to_string())
}

fn tls_error(e: TlsError) -> CliError {
    match e {
        TlsError::Generate { .. } => CliError::Failed(e.to_string()),
        _ => CliError::Input(e.to_string()),
    }
}

/// Runs `smsr pki ...`.
pub fn run(g: &crate::cli::GlobalArgs, cmd: &PkiCommand) -> Result<(), CliError> {
    match cmd {
        PkiCommand::Init { dir, force } => init(g.json, dir, *force),
        PkiCommand::Issue {
            dir,
            role,
            name,
            force,
        } => issue(g.json, dir, *role, name, *force),
        PkiCommand::Show { file, issuer } => show(g.json, file, issuer.as_deref()),
    }
}

#[derive(Serialize)]
struct InitOutput {
    dir: String,
    files: Vec<String>,
}

fn init(json: bool, dir: &Path, force: bool) -> Result<(), CliError> {
    // Both halves are checked before either is written.
    if !force {
        if let Some(path) = tls::pki_paths(dir).into_iter().find(|p| p.exists()) {
            return Err(tls_error(TlsError::Exists { path }));
        }
    }
    let issuers = Issuers::generate().map_err(|e| CliError::Failed(e.to_string()))?;
    issuers.write_dir(dir, force).map_err(dir_error)?;
    let tls_files = tls::init_pki(dir, force).map_err(tls_error)?;
    let files: Vec<String> = smsr_proto::pki::dir::PARTIES
        .iter()
        .flat_map(|stem| {
            [
                smsr_proto::pki::dir::certificate_path(dir, stem),
                smsr_proto::pki::dir::key_path(dir, stem),
            ]
        })
        .chain(tls_files)
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
struct IssueOutput {
    cert: String,
    key: String,
    role: Role,
    name: String,
}

fn issue(json: bool, dir: &Path, role: Role, name: &str, force: bool) -> Result<(), CliError> {
    let files = tls::issue(dir, role, name, force).map_err(tls_error)?;
    let out = IssueOutput {
        cert: files.cert.display().to_string(),
        key: files.key.display().to_string(),
        role,
        name: name.to_owned(),
    };
    if json {
        print_json(&out);
    } else {
        println!("{}", out.cert);
        println!("{}", out.key);
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
