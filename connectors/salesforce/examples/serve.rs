//! Serves the Salesforce simulator for people and other clients (jsforce):
//! `cargo run -p leadbridge-salesforce --features simulator --example serve -- [ADDR] [SEED_RECORDS]`.
//! Accepts the session id `sim-session-00DDn00000000001` and the OAuth2
//! client `sim-client`/`sim-secret` with refresh token `sim-rt-initial`.

use leadbridge_core::sim::{SimulatorOptions, TokenSettings};
use leadbridge_salesforce::testing::{INITIAL_REFRESH_TOKEN, STATIC_TOKEN};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let seed_records = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let sim = leadbridge_salesforce::simulator::start(SimulatorOptions {
        listen,
        tokens: TokenSettings {
            static_tokens: vec![STATIC_TOKEN.into()],
            initial_refresh_token: Some(INITIAL_REFRESH_TOKEN.into()),
            ..TokenSettings::default()
        },
        seed_records,
        ..SimulatorOptions::default()
    })
    .await?;
    println!("{}", sim.url());
    tokio::signal::ctrl_c().await?;
    sim.server.stop().await
}
