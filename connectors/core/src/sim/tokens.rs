//! A small OAuth2 authority for simulators: access tokens that expire on the
//! simulated clock, refresh tokens that rotate, the authorization-code grant
//! with PKCE, and static tokens (private-app tokens, session ids).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use sha2::{Digest, Sha256};

use super::SimClock;

/// How the authority behaves.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The one registered OAuth2 client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// A refresh token accepted from the start (`--refresh-token`).
    pub initial_refresh_token: Option<String>,
    /// Bearer tokens always accepted (`--token`).
    pub static_tokens: Vec<String>,
    /// How long an access token lives on the simulated clock.
    pub access_lifetime: Duration,
    /// Issue a new refresh token on every refresh and invalidate the old one.
    pub rotate_refresh_tokens: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            initial_refresh_token: None,
            static_tokens: Vec::new(),
            access_lifetime: Duration::from_secs(1800),
            rotate_refresh_tokens: true,
        }
    }
}

/// What a grant produced.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The new access token.
    pub access_token: String,
    /// Its lifetime.
    pub expires_in: Duration,
    /// A refresh token, when the grant issues one.
    pub refresh_token: Option<String>,
}

/// What a presented bearer token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Good for this request.
    Valid,
    /// Was issued, has expired (or was expired by the control surface).
    Expired,
    /// Never issued here.
    Unknown,
}

/// Why a grant failed, as the OAuth2 `error` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// Wrong client id or secret.
    InvalidClient,
    /// Unknown, used or expired refresh token or code, or a PKCE mismatch.
    InvalidGrant,
}

impl GrantError {
    /// The RFC 6749 `error` value.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
        }
    }
}

struct PendingCode {
    redirect_uri: String,
    challenge: Option<String>,
}

struct State {
    refusal: Option<String>,
    access: HashMap<String, Timestamp>,
    refresh: HashSet<String>,
    codes: HashMap<String, PendingCode>,
    issued_refresh: u64,
}

/// The authority of one simulator. Clones share their tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    settings: TokenSettings,
    clock: SimClock,
    state: Arc<Mutex<State>>,
}

fn random_token(prefix: &str) -> String {
    let mut rng = rand::rng();
    let hex: String = (0..40)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    format!("{prefix}{hex}")
}

impl TokenIssuer {
    /// An authority on `clock`.
    pub fn new(settings: TokenSettings, clock: SimClock) -> Self {
        let refresh = settings.initial_refresh_token.iter().cloned().collect();
        Self {
            settings,
            clock,
            state: Arc::new(Mutex::new(State {
                refusal: None,
                access: HashMap::new(),
                refresh,
                codes: HashMap::new(),
                issued_refresh: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    fn check_client(&self, client_id: &str, client_secret: &str) -> Result<(), GrantError> {
        if client_id == self.settings.client_id && client_secret == self.settings.client_secret {
            Ok(())
        } else {
            Err(GrantError::InvalidClient)
        }
    }

    fn issue_access(&self, state: &mut State) -> (String, Duration) {
        let token = random_token("sim-at-");
        let lifetime = self.settings.access_lifetime;
        let expires = self
            .clock
            .now()
            .saturating_add(SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::MAX))
            .unwrap_or_else(|_| self.clock.now());
        state.access.insert(token.clone(), expires);
        (token, lifetime)
    }

    fn issue_refresh(&self, state: &mut State) -> String {
        let token = random_token("sim-rt-");
        state.refresh.insert(token.clone());
        state.issued_refresh += 1;
        token
    }

    /// The refresh-token grant: rotates the refresh token when so configured.
    pub fn refresh(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<Issued, GrantError> {
        self.check_client(client_id, client_secret)?;
        let mut state = self.lock();
        if !state.refresh.contains(refresh_token) {
            return Err(GrantError::InvalidGrant);
        }
        let (access_token, expires_in) = self.issue_access(&mut state);
        let refresh_token = if self.settings.rotate_refresh_tokens {
            state.refresh.remove(refresh_token);
            Some(self.issue_refresh(&mut state))
        } else {
            None
        };
        Ok(Issued {
            access_token,
            expires_in,
            refresh_token,
        })
    }

    /// The client-credentials grant.
    pub fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Issued, GrantError> {
        self.check_client(client_id, client_secret)?;
        let mut state = self.lock();
        let (access_token, expires_in) = self.issue_access(&mut state);
        Ok(Issued {
            access_token,
            expires_in,
            refresh_token: None,
        })
    }

    /// The consent step of the authorization-code grant: the simulated user
    /// always consents. Returns the code to send to `redirect_uri`.
    pub fn authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: Option<&str>,
    ) -> Result<String, GrantError> {
        if client_id != self.settings.client_id {
            return Err(GrantError::InvalidClient);
        }
        let code = random_token("sim-code-");
        self.lock().codes.insert(
            code.clone(),
            PendingCode {
                redirect_uri: redirect_uri.to_owned(),
                challenge: code_challenge.map(str::to_owned),
            },
        );
        Ok(code)
    }

    /// The token step of the authorization-code grant, checking the PKCE
    /// verifier (S256) when the consent step had a challenge.
    pub fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Issued, GrantError> {
        self.check_client(client_id, client_secret)?;
        let mut state = self.lock();
        let pending = state.codes.remove(code).ok_or(GrantError::InvalidGrant)?;
        if pending.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant);
        }
        if let Some(challenge) = pending.challenge {
            let verifier = code_verifier.ok_or(GrantError::InvalidGrant)?;
            let digest = Sha256::digest(verifier.as_bytes());
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            if computed != challenge {
                return Err(GrantError::InvalidGrant);
            }
        }
        let (access_token, expires_in) = self.issue_access(&mut state);
        let refresh_token = Some(self.issue_refresh(&mut state));
        Ok(Issued {
            access_token,
            expires_in,
            refresh_token,
        })
    }

    /// Whether `token` may be used now.
    pub fn check(&self, token: &str) -> TokenCheck {
        if self.settings.static_tokens.iter().any(|t| t == token) {
            return TokenCheck::Valid;
        }
        match self.lock().access.get(token) {
            None => TokenCheck::Unknown,
            Some(expires) if *expires <= self.clock.now() => TokenCheck::Expired,
            Some(_) => TokenCheck::Valid,
        }
    }

    /// Expires every issued access token now (static tokens stay valid).
    pub fn expire_all(&self) {
        let now = self.clock.now();
        for exp in self.lock().access.values_mut() {
            *exp = now;
        }
    }

    /// Makes the token endpoint refuse every refresh in the vendor's body
    /// shape named `shape` (each simulator names the shapes it knows), until
    /// cleared with `None`: how tests reach the refusals a vendor sends for
    /// revoked apps, deleted accounts or misconfigured clients.
    pub fn set_refusal(&self, shape: Option<String>) {
        self.lock().refusal = shape;
    }

    /// The refusal shape set by [`TokenIssuer::set_refusal`], if any.
    pub fn refusal(&self) -> Option<String> {
        self.lock().refusal.clone()
    }

    /// Refresh tokens issued since start (rotations and code exchanges).
    pub fn refresh_tokens_issued(&self) -> u64 {
        self.lock().issued_refresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(
            TokenSettings {
                initial_refresh_token: Some("rt0".into()),
                ..TokenSettings::default()
            },
            SimClock::default(),
        )
    }

    #[test]
    fn refresh_rotates_and_the_old_token_stops_working() {
        let i = issuer();
        let first = i.refresh("sim-client", "sim-secret", "rt0").unwrap();
        let rt1 = first.refresh_token.unwrap();
        assert_eq!(i.check(&first.access_token), TokenCheck::Valid);
        assert_eq!(
            i.refresh("sim-client", "sim-secret", "rt0").unwrap_err(),
            GrantError::InvalidGrant
        );
        assert!(i.refresh("sim-client", "sim-secret", &rt1).is_ok());
        assert_eq!(
            i.refresh("sim-client", "bad", &rt1).unwrap_err(),
            GrantError::InvalidClient
        );
    }

    #[test]
    fn access_tokens_expire_on_the_simulated_clock() {
        let i = issuer();
        let t = i.client_credentials("sim-client", "sim-secret").unwrap();
        assert_eq!(i.check(&t.access_token), TokenCheck::Valid);
        i.clock.advance(Duration::from_secs(1801));
        assert_eq!(i.check(&t.access_token), TokenCheck::Expired);
        assert_eq!(i.check("nope"), TokenCheck::Unknown);
    }

    #[test]
    fn pkce_verifier_must_match_the_challenge() {
        let i = issuer();
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let code = i
            .authorize("sim-client", "http://127.0.0.1/cb", Some(challenge))
            .unwrap();
        assert!(i
            .exchange_code(
                "sim-client",
                "sim-secret",
                &code,
                "http://127.0.0.1/cb",
                Some("wrong")
            )
            .is_err());
        let code = i
            .authorize("sim-client", "http://127.0.0.1/cb", Some(challenge))
            .unwrap();
        assert!(i
            .exchange_code(
                "sim-client",
                "sim-secret",
                &code,
                "http://127.0.0.1/cb",
                Some(verifier)
            )
            .is_ok());
    }
}
