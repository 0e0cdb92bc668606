//! Secrets by reference only: `env:NAME` or `file:/path`. A config file is
//! copied, diffed and pasted into tickets; a literal secret in it would leak.
//! Errors name the reference that failed, never a value.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable (systemd `Environment=`/`EnvironmentFile=`).
    Env(String),
    /// A file, e.g. systemd `LoadCredential=`; a relative path is taken from
    /// the config file's folder. Surrounding whitespace is dropped.
    File(PathBuf),
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// Whether `text` is written as a reference (and so may be shown in errors).
pub fn looks_like_reference(text: &str) -> bool {
    text.starts_with("env:") || text.starts_with("file:")
}

impl SecretRef {
    /// Reads a reference. The error never repeats `text`: it may be a
    /// secret pasted by mistake.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if let Some(name) = text.strip_prefix("env:") {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "`env:{name}` is not a valid environment variable name"
                ));
            }
            return Ok(SecretRef::Env(name.to_string()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path".into());
            }
            return Ok(SecretRef::File(PathBuf::from(path)));
        }
        Err("a literal secret is not allowed in the config".into())
    }

    /// Reads the secret through `source`; `base` is the config file's folder.
    pub fn resolve(&self, source: &dyn SecretSource, base: &Path) -> Result<SecretString, String> {
        let value = match self {
            Self::Env(name) => source
                .var(name)
                .ok_or_else(|| format!("{self} is not set"))?,
            Self::File(path) => {
                let path = base.join(path);
                source
                    .read_file(&path)
                    .map_err(|e| format!("{self} cannot be read: {e}"))?
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{self} is empty"));
        }
        Ok(SecretString::from(value.to_string()))
    }
}

/// Where references are looked up: the process (in production) or a map
/// (in tests), so tests never depend on the runner's environment.
pub trait SecretSource {
    /// An environment variable's value.
    fn var(&self, name: &str) -> Option<String>;
    /// A file's contents.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The process environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemSecrets;

impl SecretSource for SystemSecrets {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Secrets from a map, for tests: `NAME` for `env:NAME`, and
/// `file:<path>` for a file's contents.
impl SecretSource for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        self.get(&format!("file:{}", path.display()))
            .cloned()
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_and_refuses_literals() {
        assert_eq!(
            SecretRef::parse("env:SF_SECRET"),
            Ok(SecretRef::Env("SF_SECRET".into()))
        );
        assert_eq!(
            SecretRef::parse("file:/etc/x"),
            Ok(SecretRef::File("/etc/x".into()))
        );
        let err = SecretRef::parse("pat-na1-12345").unwrap_err();
        assert!(!err.contains("pat-na1"), "{err}");
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("env:A-B").is_err());
    }
}
