//! Secrets the server makes for itself and keeps in its data directory (the
//! generated publish token, the session-signing key): created once, owner-only,
//! and read back at every later start, so a restart changes nothing a script
//! or a browser relies on. Deleting such a file makes a new secret at the next
//! start: that is how an operator rotates it.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// 32 random bytes from the OS-seeded CSPRNG, as 64 hex digits: 256 bits, far
/// beyond guessing, and safe in a header, a cookie or a shell variable.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A secret read from, or just written to, its file.
#[derive(Debug)]
pub struct Secret {
    pub value: String,
    /// Made by this start (and so shown to the operator once).
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {path}: {source}. Check its permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}. Check the data directory's permissions and the disk")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold a secret of 64 hex digits. Delete it to have a new one made at the next start ({consequence})")]
    Malformed {
        path: PathBuf,
        consequence: &'static str,
    },
}

/// The secret in `path`, or a new one written there (mode 0600) if the file
/// does not exist. `consequence` says what replacing it would do, for the
/// error about a damaged file.
pub fn load_or_create(path: &Path, consequence: &'static str) -> Result<Secret, SecretError> {
    match read(path, consequence) {
        Ok(value) => Ok(Secret {
            value,
            created: false,
        }),
        Err(SecretError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => {
            create(path, consequence)
        }
        Err(error) => Err(error),
    }
}

fn read(path: &Path, consequence: &'static str) -> Result<String, SecretError> {
    let read_error = |source| SecretError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mode = file.metadata().map_err(read_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777),
            "a secret file is readable by others; chmod 600 it");
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| {
        if e.kind() == ErrorKind::InvalidData {
            SecretError::Malformed {
                path: path.to_owned(),
                consequence,
            }
        } else {
            read_error(e)
        }
    })?;
    let value = text.trim();
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SecretError::Malformed {
            path: path.to_owned(),
            consequence,
        });
    }
    Ok(value.to_ascii_lowercase())
}

/// Writes a new secret without ever replacing a file (`create_new`): should
/// two starts race, the second reads the first one's secret. The file is
/// fsynced, and so is its directory, before the secret is used: a secret
/// handed out and then lost in a crash would break every script or session
/// that holds it.
fn create(path: &Path, consequence: &'static str) -> Result<Secret, SecretError> {
    let write_error = |source| SecretError::Write {
        path: path.to_owned(),
        source,
    };
    let value = generate();
    let opened = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            return read(path, consequence).map(|value| Secret {
                value,
                created: false,
            });
        }
        Err(error) => return Err(write_error(error)),
    };
    let written = file
        .write_all(format!("{value}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_parent(path));
    if let Err(error) = written {
        // A half-written file would be refused at the next start.
        let _ = std::fs::remove_file(path);
        return Err(write_error(error));
    }
    Ok(Secret {
        value,
        created: true,
    })
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_owner_only_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let first = load_or_create(&path, "x").unwrap();
        assert!(first.created);
        assert_eq!(first.value.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path, "x").unwrap();
        assert!(!again.created);
        assert_eq!(again.value, first.value);
    }

    #[test]
    fn a_damaged_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        for damaged in [&b"short"[..], b"", &[0xff; 64], &[b'g'; 64]] {
            std::fs::write(&path, damaged).unwrap();
            let error = load_or_create(&path, "it logs everyone out").unwrap_err();
            assert!(
                matches!(error, SecretError::Malformed { .. }),
                "{damaged:?}: {error}"
            );
            assert!(error.to_string().contains("it logs everyone out"));
            assert_eq!(std::fs::read(&path).unwrap(), damaged);
        }
    }
}
