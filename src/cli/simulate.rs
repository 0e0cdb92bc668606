//! `leadbridge simulate <tool>`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

/// Which simulator to serve.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Tool {
    /// HubSpot CRM v3.
    Hubspot,
    /// Salesforce REST.
    Salesforce,
}

/// Flags of `leadbridge simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The tool to simulate.
    pub tool: Tool,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Serves the simulator until SIGTERM or Ctrl-C.
pub fn run(_args: SimulateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("simulators are being built")
}
