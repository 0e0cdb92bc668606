//! The loopback end of the consent: a one-shot HTTP listener the vendor's
//! consent page redirects the browser to with `code` and `state`.
//!
//! Loopback redirects are what RFC 8252 prescribes for native apps; the
//! request is read by hand (one GET line) because an HTTP framework would
//! be a large dependency for one request.

use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The path the redirect URI names.
pub const CALLBACK_PATH: &str = "/callback";

/// Waits for the redirect carrying the code; checks `state` (CSRF).
/// Requests for other paths (a browser's favicon) get a 404 and are ignored.
pub async fn await_code(
    listener: &TcpListener,
    expected_state: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let wait = async {
        loop {
            let (mut stream, _) = listener.accept().await.context("accepting the redirect")?;
            let target = match read_target(&mut stream).await {
                Ok(t) => t,
                Err(_) => continue,
            };
            let url = url::Url::parse(&format!("http://localhost{target}"))
                .context("reading the redirect")?;
            if url.path() != CALLBACK_PATH {
                respond(&mut stream, "404 Not Found", "not here").await;
                continue;
            }
            let param = |key: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
            };
            if let Some(error) = param("error") {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "Consent was refused. You can close this tab.",
                )
                .await;
                let description = param("error_description").unwrap_or_default();
                bail!("the consent page answered `{error}` {description}");
            }
            if param("state").as_deref() != Some(expected_state) {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "This redirect does not belong to the running consent.",
                )
                .await;
                bail!("the redirect's state does not match: refusing it (possible CSRF)");
            }
            let Some(code) = param("code") else {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "The redirect carried no code.",
                )
                .await;
                bail!("the redirect carried no authorization code");
            };
            respond(
                &mut stream,
                "200 OK",
                "leadbridge received the consent. You can close this tab.",
            )
            .await;
            return Ok(code);
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| anyhow::anyhow!("no redirect arrived within {timeout:?}"))?
}

/// The request target of the first line (`GET /callback?… HTTP/1.1`).
async fn read_target(stream: &mut TcpStream) -> anyhow::Result<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let first = text.lines().next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Ok(target.to_string()),
        _ => bail!("not a GET request"),
    }
}

async fn respond(stream: &mut TcpStream, status: &str, message: &str) {
    let body =
        format!("<!doctype html><meta charset=utf-8><title>leadbridge</title><p>{message}</p>\n");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
