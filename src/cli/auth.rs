//! `leadbridge auth <kind> --config F [--connector NAME]`: walks
//! the OAuth2 authorization-code consent with PKCE and stores the refresh
//! token where the config's `refresh_token = "file:…"` points.
//!
//! 1. prints the vendor's consent URL (open it in a browser);
//! 2. listens on a loopback redirect (`--listen`, any free port by default;
//!    register `http://127.0.0.1:PORT/callback` with the app);
//! 3. exchanges the code (with the PKCE verifier and the client secret)
//!    at the token endpoint;
//! 4. writes the refresh token to the file, mode 0600. No token is ever
//!    printed or logged. Then `systemctl reload leadbridge` picks it up.

mod redirect;
mod target;
mod token_file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use super::common::runtime;
use crate::config::parse_duration;
use leadbridge_core::factory::ClientAuth;

/// Arguments of `leadbridge auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The tool's kind, as written in `kind = "…"` (an OAuth2 app of it:
    /// a public app, a connected app).
    #[arg(value_parser = super::common::kind_parser())]
    pub tool: String,
    /// The config file naming the connector and its refresh-token file.
    #[arg(long, short = 'c', value_name = "FILE", env = super::common::CONFIG_ENV, default_value = super::common::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The connector, when the config has several of this tool.
    #[arg(long, value_name = "NAME")]
    pub connector: Option<String>,
    /// Loopback address of the redirect listener (the port registered with
    /// the app; 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Write the refresh token here instead of the file the config names:
    /// with systemd `LoadCredential=`, the config names the service's
    /// credential (`/run/credentials/leadbridge.service/NAME`) and this is
    /// its source (`/etc/credstore/leadbridge/NAME`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A scope to request (repeatable); the vendor's defaults otherwise.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// How long to wait for the consent.
    #[arg(long, default_value = "10m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// Runs the consent flow; exits 0 once the refresh token is stored.
pub fn run(args: AuthArgs) -> anyhow::Result<ExitCode> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--listen {} is not a loopback address: the redirect carries a code that must not leave this machine",
            args.listen
        );
    }
    let mut target = target::find(&args.config, &args.tool, args.connector.as_deref())?;
    if let Some(file) = &args.token_file {
        target.token_file = file.clone();
    }
    runtime()?.block_on(consent(&args, target))?;
    Ok(ExitCode::SUCCESS)
}

async fn consent(args: &AuthArgs, target: target::Target) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let redirect = format!(
        "http://{}{}",
        listener.local_addr()?,
        redirect::CALLBACK_PATH
    );
    let consent = &target.consent;
    let client = BasicClient::new(ClientId::new(target.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            target.client_secret.expose_secret().to_string(),
        ))
        .set_auth_uri(AuthUrl::new(consent.authorize_url.clone()).context("the consent URL")?)
        .set_token_uri(TokenUrl::new(consent.token_url.clone()).context("the token URL")?)
        .set_redirect_uri(RedirectUrl::new(redirect.clone()).context("the redirect URL")?)
        .set_auth_type(match consent.client_auth {
            ClientAuth::RequestBody => AuthType::RequestBody,
            ClientAuth::BasicHeader => AuthType::BasicAuth,
        });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scopes = if args.scopes.is_empty() {
        consent.default_scopes.clone()
    } else {
        args.scopes.clone()
    };
    let request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.into_iter().map(Scope::new));
    let (url, state) = if consent.pkce {
        request.set_pkce_challenge(challenge).url()
    } else {
        request.url()
    };
    println!(
        "Connector `{}`: open this URL in a browser and consent (the redirect goes to {redirect}):",
        target.connector
    );
    println!("{url}");
    let code = redirect::await_code(&listener, state.secret(), args.timeout).await?;
    let http = reqwest::Client::builder()
        // The token endpoint must answer itself; a redirect could send the code elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let exchange = client.exchange_code(AuthorizationCode::new(code));
    let exchange = if consent.pkce {
        exchange.set_pkce_verifier(verifier)
    } else {
        exchange
    };
    let token = exchange
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("the token endpoint refused the code: {e}"))?;
    let refresh = token.refresh_token().ok_or_else(|| {
        anyhow::anyhow!("the token endpoint issued no refresh token (does the app request offline access / the refresh_token scope?)")
    })?;
    let refresh = SecretString::from(refresh.secret().clone());
    token_file::write(&target.token_file, &refresh)?;
    println!(
        "Stored the refresh token of `{}` in {} (mode 0600). Apply it with `systemctl reload leadbridge`.",
        target.connector,
        target.token_file.display()
    );
    Ok(())
}
