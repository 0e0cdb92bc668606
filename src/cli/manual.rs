//! `leadbridge completions <shell>` and `leadbridge man`: shell completions
//! and the man page, generated from the same clap definitions that parse
//! the command line, so they can never list a flag that does not exist.
//! Printed to stdout, for packagers and ops to install where their system
//! looks (see the README's "Operate it").

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// Flags of `leadbridge completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for a shell.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "leadbridge", &mut out);
    write_out(&out)
}

/// Flags of `leadbridge man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's own page (leadbridge-status(1)…) instead of leadbridge(1).
    pub subcommand: Option<String>,
}

/// Prints a man page in roff (`leadbridge man | man -l -`): leadbridge(1)
/// with its subcommands listed, or one subcommand's page with its flags,
/// environment variables and defaults.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    let page = match args.subcommand.as_deref() {
        None => command,
        Some(name) => {
            let Some(sub) = command.find_subcommand(name) else {
                let names: Vec<&str> = command.get_subcommands().map(|s| s.get_name()).collect();
                anyhow::bail!("no subcommand `{name}`; one of: {}", names.join(", "));
            };
            let full = format!("leadbridge-{}", sub.get_name());
            sub.clone().bin_name(full.clone()).display_name(full)
        }
    };
    let title = page.get_display_name().unwrap_or("leadbridge").to_owned();
    let mut out = Vec::new();
    clap_mangen::Man::new(page).title(title).render(&mut out)?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::from(super::pipe::BROKEN_PIPE_STATUS as u8))
        }
        Err(e) => Err(e.into()),
    }
}
