//! Upgrading from the state file of earlier versions (`state.json`, written
//! every few seconds): its widgets are imported into the database once, at
//! the first start, and the file is renamed so it is neither read again nor
//! lost.

use std::path::{Path, PathBuf};

use protocol::Widget;
use serde::Deserialize;

use super::sqlite::SqliteStorage;
use super::StorageError;

/// The only format earlier versions wrote.
const FORMAT_VERSION: u32 = 1;

#[derive(Deserialize)]
struct StateFile {
    version: u32,
    widgets: Vec<Widget>,
}

/// Imports `state_file` into `storage` if it exists and the log is empty,
/// then renames it `<name>.imported`. A file that cannot be read or parsed,
/// or that turns up when the database already holds widgets, is renamed
/// aside instead, with a warning: it is never deleted or overwritten, and
/// never stops the server.
pub fn import_state_file(
    storage: &mut SqliteStorage,
    state_file: &Path,
) -> Result<(), StorageError> {
    let bytes = match std::fs::read(state_file) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            set_aside(state_file, &format!("it cannot be read: {error}"));
            return Ok(());
        }
    };
    let digest = sha256_hex(&bytes);
    match storage.imported_digest()? {
        Some(imported) if imported == digest => {
            // Imported by a run that stopped before renaming it.
            rename(state_file, &free_name(state_file, ".imported"));
            return Ok(());
        }
        Some(_) => {
            set_aside_as(
                state_file,
                "the database already holds the widgets of an earlier state file",
                "not-imported",
            );
            return Ok(());
        }
        None if !storage.is_empty()? => {
            set_aside_as(
                state_file,
                "the database already holds widgets",
                "not-imported",
            );
            return Ok(());
        }
        None => {}
    }
    let widgets = match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(file) if file.version != FORMAT_VERSION => {
            set_aside(
                state_file,
                &format!("unknown format version {}", file.version),
            );
            return Ok(());
        }
        Ok(file) if file.widgets.iter().any(|w| w.value.kind().is_none()) => {
            set_aside(
                state_file,
                "it holds a widget kind this build does not know",
            );
            return Ok(());
        }
        Ok(file) => file.widgets,
        Err(error) => {
            set_aside(state_file, &format!("not a valid state file: {error}"));
            return Ok(());
        }
    };
    storage.import(&digest, &widgets)?;
    let imported = free_name(state_file, ".imported");
    rename(state_file, &imported);
    tracing::info!(from = %state_file.display(), widgets = widgets.len(), renamed_to = %imported.display(),
        database = %storage.path().display(), "imported the widgets of an old state file");
    Ok(())
}

fn set_aside(state_file: &Path, problem: &str) {
    set_aside_as(state_file, problem, "corrupt");
}

/// Renames `state_file` to `<name>.<label>-<unix ms>`.
fn set_aside_as(state_file: &Path, problem: &str, label: &str) {
    let aside = free_name(state_file, &format!(".{label}-{}", crate::hub::unix_ms()));
    tracing::warn!(path = %state_file.display(), %problem, moved_to = %aside.display(),
        "old state file not imported");
    rename(state_file, &aside);
}

fn rename(from: &Path, to: &Path) {
    if let Err(error) = std::fs::rename(from, to) {
        tracing::warn!(from = %from.display(), to = %to.display(), %error, "could not rename the old state file");
    }
}

/// `path` with `suffix`, or, if that name is taken (an earlier import's
/// file), with a time after it too: a rename never replaces a file.
fn free_name(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    let candidate = PathBuf::from(&name);
    if !candidate.exists() {
        return candidate;
    }
    name.push(format!("-{}", crate::hub::unix_ms()));
    PathBuf::from(name)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
