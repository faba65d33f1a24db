//! `smsr readers`: the readers pcscd knows, whether each holds a card, and its ATR.

use super::{print_json, CliError};
use crate::cli::{GlobalArgs, TransportKind};
use crate::hexfmt;
use crate::transport::pcsc::list_readers;
use crate::transport::readers::ReaderInfo;
use serde::Serialize;

#[derive(Serialize)]
struct Listed<'a> {
    index: usize,
    #[serde(flatten)]
    reader: &'a ReaderInfo,
}

#[derive(Serialize)]
struct Output<'a> {
    readers: Vec<Listed<'a>>,
}

pub fn run(g: &GlobalArgs) -> Result<(), CliError> {
    if g.transport == TransportKind::Emulator {
        return Err(CliError::Input(
            "`smsr readers` lists PC/SC readers; with --transport emulator there is no reader \
             (use `smsr info`)"
                .into(),
        ));
    }
    let readers = list_readers()?;
    let listed: Vec<Listed> = readers
        .iter()
        .enumerate()
        .map(|(index, reader)| Listed { index, reader })
        .collect();
    if g.json {
        print_json(&Output { readers: listed });
        return Ok(());
    }
    if readers.is_empty() {
        println!("no readers");
    }
    for l in &listed {
        let r = l.reader;
        let state = if !r.card_present {
            "no card".to_owned()
        } else {
            let mut s = format!(
                "card ATR {}",
                r.atr.as_deref().map(hexfmt::upper).unwrap_or_default()
            );
            if r.mute {
                s.push_str(" (mute)");
            }
            if r.exclusive {
                s.push_str(" (held exclusively by another program)");
            } else if r.in_use {
                s.push_str(" (in use)");
            }
            s
        };
        println!("{}: {}  {}", l.index, r.name, state);
    }
    Ok(())
}
