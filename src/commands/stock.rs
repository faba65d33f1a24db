//! `smsr stock add|list`: the SM-DP's profile stock ([`crate::sm_dp::stock`]).

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::sm_dp::stock::{self, Stock};
use clap::Subcommand;
use std::path::PathBuf;

/// `smsr stock ...`.
#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Add profile packages (SAIP DER, e.g. from `smsr profile build`); each one's ICCID is
    /// read from its header, and an ICCID already in stock is refused.
    Add {
        /// The package files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The profiles in stock: ICCID, size, state (available, reserved, downloaded) and EID.
    List,
}

fn open(g: &GlobalArgs) -> Result<Stock, CliError> {
    let path = g.db.clone().or_else(stock::default_path).ok_or_else(|| {
        CliError::Input("no place for the SM-DP stock: give --db FILE (or SMSR_DB)".into())
    })?;
    Stock::open(&path).map_err(|e| CliError::Input(e.to_string()))
}

/// Runs `smsr stock ...`.
pub fn run(g: &GlobalArgs, cmd: &StockCommand) -> Result<(), CliError> {
    let mut stock = open(g)?;
    match cmd {
        StockCommand::Add { files } => {
            let mut added = Vec::new();
            for f in files {
                let der = smsr_proto::bounded::read(
                    f,
                    smsr_proto::bounded::PACKAGE_MAX,
                    "a profile package",
                )
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", f.display())))?;
                let iccid = stock
                    .add(&f.display().to_string(), &der)
                    .map_err(|e| match e {
                        stock::StockError::AlreadyInStock(_) => CliError::Failed(e.to_string()),
                        e => CliError::Input(e.to_string()),
                    })?;
                if !g.json {
                    println!(
                        "added ICCID {iccid} ({} bytes) from {}",
                        der.len(),
                        f.display()
                    );
                }
                added.push(serde_json::json!({"iccid": iccid, "file": f, "bytes": der.len()}));
            }
            if g.json {
                print_json(&serde_json::json!({"added": added}));
            }
        }
        StockCommand::List => {
            let items = stock.list().map_err(|e| CliError::Input(e.to_string()))?;
            if g.json {
                print_json(&serde_json::json!({"profiles": items}));
            } else if items.is_empty() {
                println!("the stock is empty: `smsr stock add FILE.der`");
            } else {
                println!("{:<22} {:>7} {:<11} eid", "iccid", "bytes", "state");
                for i in items {
                    println!(
                        "{:<22} {:>7} {:<11} {}",
                        i.iccid,
                        i.bytes,
                        i.state,
                        i.eid.as_deref().unwrap_or("-")
                    );
                }
            }
        }
    }
    Ok(())
}
