//! The embedded default storage: one SQLite database, `pulseboard.db` in the
//! data directory, in WAL mode.
//!
//! The tables: `events` (every committed state change, as its encoded
//! frame, kept while within the history bounds or newer than the last
//! checkpoint), `widgets` (each widget as of the last checkpoint, in display
//! order), `meta` (the epoch, the checkpoint's event id), `revoked_sessions`
//! and `idempotency_keys` (the `Idempotency-Key`s answered, with the ids of
//! their events). A group of events is one transaction, with the keys it
//! answered; about once a second the widgets that changed are written whole
//! and older events and keys pruned in the same transaction. State at start
//! is the checkpoint plus the events after it, folded in order.
//!
//! Durability (`--sync`): `full` fsyncs the write-ahead log at every commit,
//! so a 2xx survives a power cut; `normal` leaves that to the next WAL
//! checkpoint, so a 2xx survives the process being killed (the OS has the
//! data) but the last commits can be lost if the machine itself goes down.
//! Then a restart after a reboot takes a new epoch, so no viewer is told a
//! lost id still exists.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{Widget, WidgetId};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    AnsweredKey, Batch, Idempotency, Recovered, Revocation, Storage, StorageError, StoredEvent,
};
use crate::config::SyncMode;
use crate::frame::EventName;
use crate::hub::{new_epoch, unix_ms};

/// Sessions logged out before their expiry (see `log/sessions.rs`).
const REVOKED_SESSIONS_TABLE: &str = "CREATE TABLE revoked_sessions (
    id TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
) WITHOUT ROWID;";

/// The `Idempotency-Key`s answered within the history bounds (see
/// `log/idempotency.rs`): each with the digest of its request and its
/// append's ids, `count` consecutive ones of `epoch` from `first_seq`.
const IDEMPOTENCY_KEYS_TABLE: &str = "CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    epoch TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;";

/// Bumped when the schema changes; a database of another version is refused
/// rather than misread.
const SCHEMA_VERSION: i64 = 3;
/// The oldest schema this build upgrades (1 had no revoked sessions, 2 no
/// idempotency keys).
const OLDEST_SCHEMA_VERSION: i64 = 1;
pub const FILE_NAME: &str = "pulseboard.db";

/// Which stored events are worth keeping for replay.
#[derive(Debug, Clone, Copy)]
pub struct HistoryBounds {
    pub size: usize,
    pub age: Duration,
}

pub struct SqliteStorage {
    conn: Connection,
    path: PathBuf,
    sync: SyncMode,
    history: HistoryBounds,
    /// Held for the life of the process: a second server on the same data
    /// directory would interleave two orders in one log.
    _lock: File,
}

/// Why the database cannot be used; the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use the data directory {dir}: {source}")]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the database {path} is used by another running Pulseboard (only one server may use a data directory)")]
    Locked { path: PathBuf },
    #[error("the database {path} cannot be opened: {problem}. Check its permissions and the disk; the file was not changed")]
    Unreadable { path: PathBuf, problem: String },
    #[error("the database {path} is corrupt or not a Pulseboard database ({problem}). It was left untouched: restore a backup, or move it aside to start with no widgets")]
    Corrupt { path: PathBuf, problem: String },
}

impl SqliteStorage {
    /// Opens the database in `dir`, creating both if missing. An existing file
    /// is checked before anything is written to it: a corrupt or foreign one
    /// is refused, never repaired or overwritten.
    pub fn open(
        dir: &Path,
        sync: SyncMode,
        history: HistoryBounds,
    ) -> Result<SqliteStorage, OpenError> {
        let directory = |source| OpenError::Directory {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(directory)?;
        let path = dir.join(FILE_NAME);
        let unreadable = |problem: String| OpenError::Unreadable {
            path: path.clone(),
            problem,
        };
        let corrupt = |problem: String| OpenError::Corrupt {
            path: path.clone(),
            problem,
        };
        let lock = lock_file(&path).map_err(|error| match error {
            LockError::Held => OpenError::Locked { path: path.clone() },
            LockError::Io(error) => unreadable(error.to_string()),
        })?;
        let existing = std::fs::metadata(&path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        if existing {
            check_readonly(&path).map_err(|e| match e {
                CheckError::Open(problem) => unreadable(problem),
                CheckError::Corrupt(problem) => corrupt(problem),
            })?;
        }
        let conn = Connection::open(&path).map_err(|e| unreadable(e.to_string()))?;
        let configure = || -> rusqlite::Result<()> {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(rusqlite::Error::InvalidQuery);
            }
            conn.pragma_update(
                None,
                "synchronous",
                match sync {
                    SyncMode::Full => "FULL",
                    SyncMode::Normal => "NORMAL",
                },
            )?;
            // After a checkpoint the WAL is cut back to this, so a burst does
            // not leave a large file behind.
            conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
            Ok(())
        };
        configure().map_err(|e| unreadable(format!("cannot switch it to WAL mode: {e}")))?;
        let mut storage = SqliteStorage {
            conn,
            path: path.clone(),
            sync,
            history,
            _lock: lock,
        };
        if existing {
            storage
                .upgrade_schema()
                .map_err(|e| unreadable(format!("cannot upgrade its schema: {e}")))?;
        } else {
            storage
                .create_schema()
                .map_err(|e| unreadable(format!("cannot create it: {e}")))?;
        }
        Ok(storage)
    }

    /// Brings a database of an older schema version up to this one, in one
    /// transaction (after the read-only check found it sound).
    fn upgrade_schema(&mut self) -> rusqlite::Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version >= SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        if version < 2 {
            tx.execute_batch(REVOKED_SESSIONS_TABLE)?;
        }
        if version < 3 {
            tx.execute_batch(IDEMPOTENCY_KEYS_TABLE)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn create_schema(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE events (
                 seq INTEGER PRIMARY KEY,
                 at INTEGER NOT NULL,
                 name TEXT NOT NULL,
                 widget TEXT,
                 data TEXT NOT NULL
             );
             CREATE TABLE widgets (
                 id TEXT PRIMARY KEY,
                 position INTEGER NOT NULL,
                 body TEXT NOT NULL
             ) WITHOUT ROWID;",
        )?;
        tx.execute_batch(REVOKED_SESSIONS_TABLE)?;
        tx.execute_batch(IDEMPOTENCY_KEYS_TABLE)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', ?1), ('checkpoint_seq', '0'), ('clean_shutdown', '1')",
            params![new_epoch()],
        )?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    }

    /// The digest of the old state file imported into this database, if one was.
    pub fn imported_digest(&self) -> Result<Option<String>, StorageError> {
        Ok(self.meta("imported_state_sha256")?)
    }

    /// True if nothing was ever stored: no widget, no event, no checkpoint.
    pub fn is_empty(&self) -> Result<bool, StorageError> {
        let stored: i64 = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM widgets) + (SELECT COUNT(*) FROM events)",
            [],
            |row| row.get(0),
        )?;
        Ok(stored == 0 && self.meta("checkpoint_seq")?.as_deref() == Some("0"))
    }

    /// Stores `widgets` (from an old state file whose bytes have `digest`) as
    /// the state at event 0, and notes the import, in one transaction. Only
    /// for an empty log.
    pub fn import(&mut self, digest: &str, widgets: &[Widget]) -> Result<(), StorageError> {
        let tx = self.conn.transaction()?;
        for (position, widget) in widgets.iter().enumerate() {
            tx.execute(
                "INSERT OR REPLACE INTO widgets (id, position, body) VALUES (?1, ?2, ?3)",
                params![
                    widget.id.as_str(),
                    position as i64,
                    serde_json::to_string(widget).map_err(|e| StorageError(e.to_string()))?
                ],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('imported_state_sha256', ?1)",
            [digest],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
    }

    fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// The epoch to run with. With `--sync normal`, a machine that went down
    /// (it booted since, and the last run did not close cleanly) may have lost
    /// the last commits, whose ids viewers may hold: a new epoch makes them
    /// resync rather than trust a replay that could skip what was lost.
    fn epoch_for_this_run(&self) -> Result<String, StorageError> {
        let epoch = self
            .meta("epoch")?
            .ok_or_else(|| StorageError("no epoch in the database".into()))?;
        let clean = self.meta("clean_shutdown")?.as_deref() == Some("1");
        let booted_since = match (self.meta("boot_id")?, boot_id()) {
            (Some(then), Some(now)) => then != now,
            _ => false,
        };
        if self.sync == SyncMode::Normal && !clean && booted_since {
            let fresh = new_epoch();
            tracing::warn!(path = %self.path.display(),
                "the machine went down while running with --sync normal: the last commits may be lost; starting a new epoch, so viewers resync");
            self.set_meta("epoch", &fresh)?;
            return Ok(fresh);
        }
        Ok(epoch)
    }
}

impl Storage for SqliteStorage {
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        let epoch = self.epoch_for_this_run()?;
        self.set_meta("clean_shutdown", "0")?;
        if let Some(boot) = boot_id() {
            self.set_meta("boot_id", &boot)?;
        }
        let checkpoint_seq: u64 = self
            .meta("checkpoint_seq")?
            .and_then(|seq| seq.parse().ok())
            .ok_or_else(|| StorageError("no checkpoint in the database".into()))?;
        let corrupt = |what: &str, error: &dyn std::fmt::Display| {
            StorageError(format!(
                "the database {} holds an unreadable {what}: {error}",
                self.path.display()
            ))
        };
        let mut widgets = Vec::new();
        let mut statement = self
            .conn
            .prepare("SELECT body FROM widgets ORDER BY position")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let body: String = row.get(0)?;
            let widget: Widget = serde_json::from_str(&body).map_err(|e| corrupt("widget", &e))?;
            widgets.push(widget);
        }
        let last_seq: u64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })?
            .max(0) as u64;
        let from = checkpoint_seq.min(last_seq.saturating_sub(self.history.size as u64));
        let mut events = Vec::new();
        let mut statement = self.conn.prepare(
            "SELECT seq, at, name, widget, data FROM events WHERE seq > ?1 ORDER BY seq",
        )?;
        let mut rows = statement.query([from as i64])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(2)?;
            let widget: Option<String> = row.get(3)?;
            events.push(StoredEvent {
                seq: row.get::<_, i64>(0)? as u64,
                at: row.get(1)?,
                name: EventName::parse_change(&name).ok_or_else(|| corrupt("event name", &name))?,
                widget: widget
                    .map(WidgetId::parse)
                    .transpose()
                    .map_err(|e| corrupt("widget id", &e))?,
                data: row.get(4)?,
            });
        }
        let mut revoked = Vec::new();
        let mut statement = self
            .conn
            .prepare("SELECT id, expires FROM revoked_sessions WHERE expires > ?1")?;
        let mut rows = statement.query([unix_ms() / 1000])?;
        while let Some(row) = rows.next()? {
            revoked.push(Revocation {
                id: row.get(0)?,
                expires: row.get::<_, i64>(1)?.max(0) as u64,
            });
        }
        Ok(Recovered {
            epoch,
            widgets,
            checkpoint_seq,
            events,
            revoked,
        })
    }

    fn recover_keys(&mut self) -> Result<Vec<AnsweredKey>, StorageError> {
        let mut keys = Vec::new();
        let mut statement = self.conn.prepare(
            "SELECT key, request, epoch, first_seq, count, at FROM idempotency_keys ORDER BY first_seq",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            keys.push(AnsweredKey {
                once: Idempotency {
                    key: row.get(0)?,
                    request: row.get(1)?,
                },
                epoch: row.get(2)?,
                first_seq: row.get::<_, i64>(3)?.max(0) as u64,
                count: row.get::<_, i64>(4)?.max(0) as u64,
                at: row.get(5)?,
            });
        }
        Ok(keys)
    }

    fn commit(&mut self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let history = self.history;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (seq, at, name, widget, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for event in batch.events {
                insert.execute(params![
                    event.seq as i64,
                    event.at,
                    event.frame.name.as_str(),
                    event.frame.widget.as_ref().map(WidgetId::as_str),
                    &*event.frame.data,
                ])?;
            }
        }
        if !batch.keys.is_empty() {
            // REPLACE: a key forgotten with its events (out of the history)
            // may be used again before a checkpoint deletes its old row.
            let mut remember = tx.prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys (key, request, epoch, first_seq, count, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for key in batch.keys {
                remember.execute(params![
                    key.once.key,
                    key.once.request,
                    key.epoch,
                    key.first_seq as i64,
                    key.count as i64,
                    key.at,
                ])?;
            }
        }
        if !batch.revocations.is_empty() {
            let mut revoke = tx.prepare_cached(
                "INSERT OR REPLACE INTO revoked_sessions (id, expires) VALUES (?1, ?2)",
            )?;
            for revocation in batch.revocations {
                let expires = i64::try_from(revocation.expires).unwrap_or(i64::MAX);
                revoke.execute(params![revocation.id, expires])?;
            }
        }
        if let Some(checkpoint) = &batch.checkpoint {
            // Their cookies are refused anyway once expired.
            tx.execute(
                "DELETE FROM revoked_sessions WHERE expires <= ?1",
                [unix_ms() / 1000],
            )?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO widgets (id, position, body)
                 VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM widgets), ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )?;
            for widget in &checkpoint.changed {
                let body =
                    serde_json::to_string(widget).map_err(|e| StorageError(e.to_string()))?;
                upsert.execute(params![widget.id.as_str(), body])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM widgets WHERE id = ?1")?;
            for id in &checkpoint.removed {
                delete.execute([id.as_str()])?;
            }
            if let Some(order) = &checkpoint.order {
                let mut place =
                    tx.prepare_cached("UPDATE widgets SET position = ?1 WHERE id = ?2")?;
                for (position, id) in order.iter().enumerate() {
                    place.execute(params![position as i64, id.as_str()])?;
                }
            }
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'checkpoint_seq'",
                [checkpoint.seq.to_string()],
            )?;
            // Events folded into the checkpoint go once they leave the
            // history bounds (count, then age), as they do from memory; so do
            // the keys, once their append's last event has.
            let beyond_count = checkpoint.seq.saturating_sub(history.size as u64);
            tx.execute("DELETE FROM events WHERE seq <= ?1", [beyond_count as i64])?;
            tx.execute(
                "DELETE FROM idempotency_keys WHERE first_seq + count - 1 <= ?1",
                [beyond_count as i64],
            )?;
            let cutoff = unix_ms() - history.age.as_millis() as i64;
            tx.execute(
                "DELETE FROM events WHERE seq <= ?1 AND at < ?2",
                params![checkpoint.seq as i64, cutoff],
            )?;
            tx.execute(
                "DELETE FROM idempotency_keys WHERE first_seq + count - 1 <= ?1 AND at < ?2",
                params![checkpoint.seq as i64, cutoff],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn probe(&mut self) -> Result<(), StorageError> {
        self.set_meta("probed_at", &unix_ms().to_string())?;
        Ok(())
    }

    fn close(&mut self) -> Result<(), StorageError> {
        self.set_meta("clean_shutdown", "1")?;
        // Folds the WAL into the database and empties it, so a stopped server
        // leaves one self-contained file.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

enum CheckError {
    Open(String),
    Corrupt(String),
}

/// Checks an existing database through a read-only connection, so nothing
/// is written to a file that turns out to be damaged.
fn check_readonly(path: &Path) -> Result<(), CheckError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| CheckError::Open(e.to_string()))?;
    let classify = |error: rusqlite::Error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            CheckError::Corrupt(error.to_string())
        }
        _ => CheckError::Open(error.to_string()),
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(classify)?;
    if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&version) {
        return Err(CheckError::Corrupt(format!(
            "schema version {version}, this build reads {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}"
        )));
    }
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(classify)?;
    if verdict != "ok" {
        return Err(CheckError::Corrupt(verdict));
    }
    Ok(())
}

enum LockError {
    Held,
    Io(std::io::Error),
}

/// An exclusive advisory lock on `<db>.lock` for as long as the file is open.
fn lock_file(db: &Path) -> Result<File, LockError> {
    use std::os::fd::AsRawFd;
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
        .map_err(LockError::Io)?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        let error = std::io::Error::last_os_error();
        return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
            LockError::Held
        } else {
            LockError::Io(error)
        });
    }
    Ok(file)
}

/// This boot of the machine (Linux), to tell a process crash from a machine crash.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use protocol::{EventId, Number, ServerEvent, Update, WidgetValue};

    use super::*;
    use crate::frame::Frame;
    use crate::log::{Applied, Checkpoint, Committed};

    const BOUNDS: HistoryBounds = HistoryBounds {
        size: 3,
        age: Duration::from_secs(600),
    };

    fn widget(id: &str, value: f64) -> Widget {
        Widget::new(update(id, value))
    }

    fn update(id: &str, value: f64) -> Update {
        Update {
            id: WidgetId::parse(id).unwrap(),
            title: None,
            value: WidgetValue::Number(Number {
                value,
                ..Number::default()
            }),
            at: unix_ms(),
            expect_every: None,
        }
    }

    fn event(epoch: &str, seq: u64, at: i64, id: &str) -> Committed {
        let mut update = update(id, seq as f64);
        update.at = at;
        let event_id = EventId {
            epoch: epoch.into(),
            seq,
        };
        Committed {
            seq,
            at,
            frame: Frame::encode(
                &ServerEvent::Update(update.clone()),
                Some(&event_id),
                Some(update.id.clone()),
            )
            .unwrap(),
            change: Applied::Set(update),
        }
    }

    /// Commits events `from..=to` of widget `w`, with a checkpoint at `to`
    /// holding `w` if `checkpoint`.
    fn commit(
        storage: &mut SqliteStorage,
        epoch: &str,
        seqs: std::ops::RangeInclusive<u64>,
        at: i64,
        checkpoint: bool,
    ) {
        let events: Vec<Committed> = seqs.clone().map(|seq| event(epoch, seq, at, "w")).collect();
        let w = widget("w", *seqs.end() as f64);
        let batch = Batch {
            epoch,
            events: &events,
            keys: &[],
            revocations: &[],
            checkpoint: checkpoint.then(|| Checkpoint {
                seq: *seqs.end(),
                changed: vec![&w],
                removed: Vec::new(),
                order: None,
            }),
        };
        storage.commit(&batch).unwrap();
    }

    fn stored_seqs(recovered: &Recovered) -> Vec<u64> {
        recovered.events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn keeps_events_after_the_checkpoint_and_within_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let epoch = storage.recover().unwrap().epoch;
        commit(&mut storage, &epoch, 1..=10, unix_ms(), true);
        commit(&mut storage, &epoch, 11..=12, unix_ms(), false);
        drop(storage);

        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let recovered = storage.recover().unwrap();
        assert_eq!(recovered.epoch, epoch, "the epoch survives");
        assert_eq!(recovered.checkpoint_seq, 10);
        let ids: Vec<&str> = recovered.widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["w"]);
        let WidgetValue::Number(number) = &recovered.widgets[0].value else {
            panic!("{:?}", recovered.widgets[0]);
        };
        assert_eq!(number.value, 10.0, "the widget as of the checkpoint");
        // The last 3 (the history); 11 and 12, after the checkpoint, are also
        // what the widgets are folded from.
        assert_eq!(stored_seqs(&recovered), [10, 11, 12]);
        let kept: i64 = storage
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 5, "8..=10 (the history as of the checkpoint), 11, 12");
    }

    #[test]
    fn prunes_events_older_than_the_history_age() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let epoch = storage.recover().unwrap().epoch;
        let long_ago = unix_ms() - 3_600_000;
        commit(&mut storage, &epoch, 1..=2, long_ago, false);
        commit(&mut storage, &epoch, 3..=3, unix_ms(), true);
        let recovered = storage.recover().unwrap();
        assert_eq!(stored_seqs(&recovered), [3]);
    }

    #[test]
    fn a_second_server_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let second = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS);
        assert!(
            matches!(second, Err(OpenError::Locked { .. })),
            "{:?}",
            second.err()
        );
    }

    #[test]
    fn revocations_are_kept_until_their_sessions_expire() {
        let dir = tempfile::tempdir().unwrap();
        let now = (unix_ms() / 1000) as u64;
        let revocation = |id: &str, expires| Revocation {
            id: id.into(),
            expires,
        };
        {
            let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
            let epoch = storage.recover().unwrap().epoch;
            let revocations = [revocation("live", now + 3600), revocation("gone", now - 1)];
            let batch = Batch {
                epoch: &epoch,
                events: &[],
                keys: &[],
                revocations: &revocations,
                checkpoint: None,
            };
            storage.commit(&batch).unwrap();
        }
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let recovered = storage.recover().unwrap();
        assert_eq!(recovered.revoked, [revocation("live", now + 3600)]);
        // A checkpoint drops the expired one from the file too.
        commit(&mut storage, &recovered.epoch, 1..=1, 0, true);
        let stored: i64 = storage
            .conn
            .query_row("SELECT COUNT(*) FROM revoked_sessions", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, 1);
    }

    #[test]
    fn a_database_of_the_first_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let epoch = {
            let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
            let epoch = storage.recover().unwrap().epoch;
            commit(&mut storage, &epoch, 1..=2, unix_ms(), true);
            // What version 1 wrote: no revoked sessions, no idempotency keys.
            storage
                .conn
                .execute_batch(
                    "DROP TABLE revoked_sessions; DROP TABLE idempotency_keys;
                     PRAGMA user_version = 1;",
                )
                .unwrap();
            storage.close().unwrap();
            epoch
        };
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let recovered = storage.recover().unwrap();
        assert_eq!(recovered.epoch, epoch);
        assert_eq!(stored_seqs(&recovered), [1, 2]);
        assert!(recovered.revoked.is_empty());
        assert!(stored_keys(&mut storage).is_empty());
        let version: i64 = storage
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    /// Commits event `seq` of widget `w`, answering `key`, accepted at `at`.
    fn commit_keyed(storage: &mut SqliteStorage, epoch: &str, seq: u64, at: i64, key: &str) {
        let events = [event(epoch, seq, at, "w")];
        let keys = [AnsweredKey {
            once: Idempotency {
                key: key.into(),
                request: format!("digest of {key}"),
            },
            epoch: epoch.into(),
            first_seq: seq,
            count: 1,
            at,
        }];
        let batch = Batch {
            epoch,
            events: &events,
            keys: &keys,
            revocations: &[],
            checkpoint: None,
        };
        storage.commit(&batch).unwrap();
    }

    fn stored_keys(storage: &mut SqliteStorage) -> Vec<String> {
        let keys = storage.recover_keys().unwrap();
        keys.into_iter().map(|key| key.once.key).collect()
    }

    #[test]
    fn keys_are_kept_with_their_events_and_pruned_with_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
            let epoch = storage.recover().unwrap().epoch;
            commit_keyed(&mut storage, &epoch, 1, unix_ms(), "first");
            commit_keyed(&mut storage, &epoch, 2, unix_ms(), "second");
            // One append of two events, under one key.
            let events = [3, 4].map(|seq| event(&epoch, seq, unix_ms(), "w"));
            let keys = [AnsweredKey {
                once: Idempotency {
                    key: "batch".into(),
                    request: "r".into(),
                },
                epoch: epoch.clone(),
                first_seq: 3,
                count: 2,
                at: unix_ms(),
            }];
            let batch = Batch {
                epoch: &epoch,
                events: &events,
                keys: &keys,
                revocations: &[],
                checkpoint: None,
            };
            storage.commit(&batch).unwrap();
            commit_keyed(&mut storage, &epoch, 5, unix_ms() - 3_600_000, "old");
            // No close(): a crash.
        }
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let epoch = storage.recover().unwrap().epoch;
        assert_eq!(
            stored_keys(&mut storage),
            ["first", "second", "batch", "old"]
        );
        let keys = storage.recover_keys().unwrap();
        let batch = keys.iter().find(|key| key.once.key == "batch").unwrap();
        assert_eq!(batch.once.request, "r");
        let ids = [3, 4].map(|seq| EventId {
            epoch: epoch.clone(),
            seq,
        });
        assert_eq!(batch.ids(), ids);
        // A checkpoint at 6 keeps the history 4..=6 (size 3): "first" and
        // "second" go with events 1 and 2, "old" by its age; "batch" stays
        // while its last event does.
        commit(&mut storage, &epoch, 6..=6, unix_ms(), true);
        assert_eq!(stored_keys(&mut storage), ["batch"]);
        // A key used again once forgotten (its row not yet pruned) replaces it.
        commit_keyed(&mut storage, &epoch, 7, unix_ms(), "batch");
        let keys = storage.recover_keys().unwrap();
        assert_eq!((keys.len(), keys[0].first_seq), (1, 7));
    }

    #[test]
    fn a_database_of_the_second_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let epoch = {
            let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
            let epoch = storage.recover().unwrap().epoch;
            commit(&mut storage, &epoch, 1..=2, unix_ms(), true);
            // What version 2 wrote: no idempotency keys.
            storage
                .conn
                .execute_batch("DROP TABLE idempotency_keys; PRAGMA user_version = 2;")
                .unwrap();
            storage.close().unwrap();
            epoch
        };
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let recovered = storage.recover().unwrap();
        assert_eq!(recovered.epoch, epoch);
        assert_eq!(stored_seqs(&recovered), [1, 2]);
        assert!(stored_keys(&mut storage).is_empty());
        let version: i64 = storage
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        commit_keyed(&mut storage, &epoch, 3, unix_ms(), "k");
        assert_eq!(stored_keys(&mut storage), ["k"]);
    }

    #[test]
    fn a_corrupt_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let garbage = b"this is not a database, but it is someone's file".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let opened = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS);
        let error = opened.err().expect("refused");
        assert!(matches!(error, OpenError::Corrupt { .. }), "{error}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    /// With `--sync normal`, a restart after the machine went down (another
    /// boot, no clean shutdown) may have lost commits: a new epoch. A crash of
    /// the process alone (same boot) keeps it, as does `--sync full`.
    #[test]
    fn a_machine_crash_under_sync_normal_starts_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let reopen = |sync| {
            let mut storage = SqliteStorage::open(dir.path(), sync, BOUNDS).unwrap();
            let epoch = storage.recover().unwrap().epoch;
            (storage, epoch)
        };
        let (storage, first) = reopen(SyncMode::Normal);
        drop(storage); // no close(): a crash
        let (storage, same_boot) = reopen(SyncMode::Normal);
        assert_eq!(same_boot, first, "a process crash loses nothing");
        storage.set_meta("boot_id", "an-earlier-boot").unwrap();
        drop(storage);
        let (storage, full) = reopen(SyncMode::Full);
        assert_eq!(full, first, "with sync full nothing can have been lost");
        storage.set_meta("boot_id", "an-earlier-boot").unwrap();
        drop(storage);
        let (mut storage, after_reboot) = reopen(SyncMode::Normal);
        assert_ne!(after_reboot, first);
        storage.set_meta("boot_id", "an-earlier-boot").unwrap();
        storage.close().unwrap();
        drop(storage);
        let (_, after_clean_stop) = reopen(SyncMode::Normal);
        assert_eq!(after_clean_stop, after_reboot, "a clean stop lost nothing");
    }

    #[test]
    fn frames_are_stored_as_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = SqliteStorage::open(dir.path(), SyncMode::Full, BOUNDS).unwrap();
        let epoch = storage.recover().unwrap().epoch;
        let sent = event(&epoch, 1, 5, "w");
        let batch = Batch {
            epoch: &epoch,
            events: std::slice::from_ref(&sent),
            keys: &[],
            revocations: &[],
            checkpoint: None,
        };
        storage.commit(&batch).unwrap();
        let stored = storage.recover().unwrap().events.remove(0);
        assert_eq!(stored.data, *sent.frame.data);
        assert_eq!(stored.name, sent.frame.name);
        assert_eq!(stored.widget, sent.frame.widget);
    }
}
