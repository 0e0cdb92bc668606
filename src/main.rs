//! The `leadbridge` binary: parses arguments and hands over to the library.
//! `anyhow` lives here, at the edge, and nowhere else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = leadbridge::cli::Cli::parse();
    match leadbridge::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
