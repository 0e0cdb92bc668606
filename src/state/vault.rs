//! Rotated OAuth2 refresh tokens, kept outside the database.
//!
//! Some vendors rotate the refresh token on every use: the old one stops
//! working as soon as the new one is issued. Losing the new one (a crash
//! before it is stored) locks the daemon out until someone walks the consent
//! again, so a rotation is written to disk at once, before it is used.
//!
//! Each connector's rotation lives in `<state_dir>/tokens/<connector>`, mode
//! 0600 in a 0700 directory, replaced atomically (temporary file, fsync,
//! rename). It is a file and not a sled entry so that it never shows up in a
//! state dump and can be removed by hand to force the configured token.
//!
//! Beside the token the file keeps a SHA-256 fingerprint of the *configured*
//! token it descends from. When ops put a new token in the config (after a
//! fresh `leadbridge auth`), the fingerprint no longer matches: the
//! configured token wins and the stale rotation is deleted.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadbridge_core::auth::RefreshTokenSink;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{StateError, StateResult};
use super::files::{private_dir, write_private_file};

/// The on-disk form of one connector's rotation.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Hex SHA-256 of the configured refresh token this rotation replaced.
    configured_sha256: String,
    /// The latest refresh token the vendor issued.
    refresh_token: String,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.refresh_token.zeroize();
    }
}

/// Where rotated refresh tokens are kept, one file per connector.
#[derive(Debug, Clone)]
pub struct TokenVault {
    dir: PathBuf,
}

impl TokenVault {
    /// Opens the vault of a state directory, creating `tokens/` owner-only.
    pub fn open(state_dir: impl AsRef<Path>) -> StateResult<Self> {
        let dir = state_dir.as_ref().join("tokens");
        private_dir(&dir)?;
        Ok(Self { dir })
    }

    /// The refresh token to use for `connector`: the stored rotation when it
    /// descends from `configured`, else `configured` (and a rotation from
    /// an older configured token is deleted, so it is never used again).
    pub fn current(&self, connector: &str, configured: &SecretString) -> StateResult<SecretString> {
        let path = self.path(connector)?;
        let mut bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(configured.clone()),
            Err(e) => return Err(StateError::io(format!("cannot read {}", path.display()), e)),
        };
        let parsed = serde_json::from_slice::<Stored>(&bytes);
        bytes.zeroize();
        // The error of a damaged file may quote its content: never show it.
        let stored = parsed.map_err(|_| {
            StateError::corrupt(
                "token vault",
                format!(
                    "{} is not a stored token; delete it to use the configured one",
                    path.display()
                ),
            )
        })?;
        if stored.configured_sha256 != fingerprint(configured) {
            fs::remove_file(&path).map_err(|e| {
                StateError::io(format!("cannot remove stale token {}", path.display()), e)
            })?;
            tracing::info!(
                connector,
                "configured refresh token changed; dropped the stored rotation"
            );
            return Ok(configured.clone());
        }
        Ok(SecretString::from(stored.refresh_token.as_str()))
    }

    /// Stores a rotation of `connector`'s token, durably, before returning.
    pub fn store(
        &self,
        connector: &str,
        configured: &SecretString,
        rotated: &SecretString,
    ) -> StateResult<()> {
        let path = self.path(connector)?;
        let stored = Stored {
            configured_sha256: fingerprint(configured),
            refresh_token: rotated.expose_secret().to_owned(),
        };
        let mut bytes =
            serde_json::to_vec(&stored).map_err(|e| StateError::corrupt("token vault", e))?;
        let written = write_private_file(&path, &bytes);
        bytes.zeroize();
        written
    }

    /// A sink the connector's OAuth2 token manager hands rotations to.
    pub fn sink(
        &self,
        connector: &str,
        configured: SecretString,
    ) -> StateResult<Arc<dyn RefreshTokenSink>> {
        // Check the name now, not at the first rotation.
        self.path(connector)?;
        Ok(Arc::new(VaultSink {
            vault: self.clone(),
            connector: connector.to_owned(),
            configured,
        }))
    }

    fn path(&self, connector: &str) -> StateResult<PathBuf> {
        let why = if connector.is_empty() {
            Some("it is empty")
        } else if connector.len() > 128 {
            Some("it is longer than 128 bytes")
        } else if connector.starts_with('.') {
            Some("it starts with a dot")
        } else if !connector
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            Some("only letters, digits, '_', '-' and '.' can name a token file")
        } else {
            None
        };
        match why {
            Some(why) => Err(StateError::InvalidName {
                what: "connector",
                name: connector.to_owned(),
                why,
            }),
            None => Ok(self.dir.join(connector)),
        }
    }
}

/// Hands rotations of one connector's token to the vault.
struct VaultSink {
    vault: TokenVault,
    connector: String,
    configured: SecretString,
}

impl RefreshTokenSink for VaultSink {
    fn rotated(&self, refresh_token: &SecretString) -> Result<(), String> {
        self.vault
            .store(&self.connector, &self.configured, refresh_token)
            .map_err(|e| e.to_string())
    }
}

/// Hex SHA-256 of a token: tells whether the configured token changed
/// without storing it.
fn fingerprint(token: &SecretString) -> String {
    let digest = Sha256::digest(token.expose_secret().as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn rotation_wins_until_the_configured_token_changes() {
        let dir = tempfile::tempdir().unwrap();
        let vault = TokenVault::open(dir.path()).unwrap();
        let configured = secret("configured-1");
        assert_eq!(
            vault.current("sf", &configured).unwrap().expose_secret(),
            "configured-1"
        );

        let sink = vault.sink("sf", configured.clone()).unwrap();
        sink.rotated(&secret("rotated-1")).unwrap();
        sink.rotated(&secret("rotated-2")).unwrap();
        // A restart: a new vault on the same directory.
        let vault = TokenVault::open(dir.path()).unwrap();
        assert_eq!(
            vault.current("sf", &configured).unwrap().expose_secret(),
            "rotated-2"
        );

        // Ops configured a new token: it wins, and the old rotation is gone.
        let fresh = secret("configured-2");
        assert_eq!(
            vault.current("sf", &fresh).unwrap().expose_secret(),
            "configured-2"
        );
        assert!(!dir.path().join("tokens/sf").exists());
        // Going back to the first configured token does not revive it either.
        assert_eq!(
            vault.current("sf", &configured).unwrap().expose_secret(),
            "configured-1"
        );
    }

    #[test]
    fn files_are_owner_only_and_hold_no_configured_token() {
        let dir = tempfile::tempdir().unwrap();
        let vault = TokenVault::open(dir.path()).unwrap();
        vault
            .store(
                "hubspot",
                &secret("configured-secret"),
                &secret("rotated-secret"),
            )
            .unwrap();
        let file = dir.path().join("tokens/hubspot");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("tokens")), 0o700);
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("configured-secret"));
        assert!(!dir.path().join("tokens/.hubspot.tmp").exists());
    }

    #[test]
    fn bad_names_and_damaged_files_are_refused_without_quoting_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let vault = TokenVault::open(dir.path()).unwrap();
        for name in ["", "../x", ".hidden", "a/b"] {
            assert!(vault.current(name, &secret("t")).is_err(), "{name:?}");
        }
        fs::write(dir.path().join("tokens/sf"), "half-written-secret").unwrap();
        let err = vault.current("sf", &secret("t")).unwrap_err().to_string();
        assert!(!err.contains("half-written-secret"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let vault = TokenVault::open(dir.path()).unwrap();
        vault
            .store("sf", &secret("c"), &secret("rotated-secret"))
            .unwrap();
        let token = vault.current("sf", &secret("c")).unwrap();
        assert!(!format!("{token:?} {vault:?}").contains("rotated-secret"));
    }
}
