//! `smsr-load`: see the crate documentation and `smsr-load --help`.

use clap::Parser;
use smsr_load::args::Args;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMSR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smsr-load: cannot start the runtime: {e}");
            return ExitCode::from(smsr_load::exit::FAILED);
        }
    };
    let report_dir = args.report.clone();
    match rt.block_on(smsr_load::run(args)) {
        Ok((report, code)) => {
            smsr_load::summary::print(&report);
            if let Some(dir) = report_dir {
                println!("report: {}", dir.join("report.html").display());
            }
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("smsr-load: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
