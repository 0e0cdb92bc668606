//! The `leadbridge` binary: parses arguments and hands over to the library.
//! `anyhow` lives here, at the edge, and nowhere else.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc instead of glibc's malloc. A sync cycle allocates a few small
/// strings and maps for every record it reads; in the 100,000-contact
/// backfill profile glibc's malloc and free took a third of the daemon's
/// instructions, and with jemalloc the cycle's CPU per record fell by about
/// a third. Its options (one arena, freed pages returned after half a
/// second, which keeps peak RSS close to glibc's) are set at build time in
/// `.cargo/config.toml`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    leadbridge::cli::pipe::exit_quietly_on_broken_pipe();
    let cli = leadbridge::cli::Cli::parse();
    match leadbridge::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
