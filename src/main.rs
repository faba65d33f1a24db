//! The `smsr` command line.

use clap::Parser;
use smsr::cli::Cli;
use smsr::commands;
use std::process::ExitCode;

/// The status of a process ended by SIGPIPE, as a shell reports it (128 + 13).
const CLOSED_STDOUT: i32 = 141;

/// A closed stdout (`smsr … | head`) ends the command quietly with the status a program killed
/// by SIGPIPE has, as the usual Unix tools do: Rust ignores SIGPIPE, so the write fails and
/// `print!` panics with "failed printing to stdout"; that panic, and only that one, becomes
/// this exit. Every other panic keeps its message.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_STDOUT);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let filter = match cli.global.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let env_filter = tracing_subscriber::EnvFilter::try_from_env("SMSR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .init();
    smsr::db::sqlite::set_durability(cli.global.db_sync);
    let json = cli.global.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smsr: {e}");
            // With --json the error is one JSON object on stdout too, unless the command
            // printed its result already (a failed outcome is that result).
            if json && !commands::json_printed() {
                commands::print_json(&e.to_json());
            }
            ExitCode::from(e.exit_code())
        }
    }
}
