//! Keeps the latest value of every widget (series windows and log tails
//! included) in a file, so a restart loses nothing.
//!
//! The file is replaced atomically: written to a temporary file in the same
//! directory, synced, renamed over the old one, and the directory synced. A
//! crash at any moment leaves either the old file or the new one. A file that
//! cannot be read or parsed is moved aside, never overwritten: the server
//! starts empty and says where the old copy went.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::Widget;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::hub::{unix_ms, Hub};

/// Bumped if the file's format changes incompatibly.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// When it was written, in milliseconds since the Unix epoch.
    saved_at: i64,
    widgets: Vec<Widget>,
}

/// The state file of one server.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
}

/// What [`StateStore::load`] found.
#[derive(Debug)]
pub struct Loaded {
    pub widgets: Vec<Widget>,
    /// False if a bad file could not be moved aside: saving would destroy it.
    pub may_save: bool,
}

impl StateStore {
    pub fn new(path: impl Into<PathBuf>) -> StateStore {
        StateStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved widgets; none if there is no file yet, or if it is unreadable
    /// or corrupt (then it is moved aside, with a warning).
    pub fn load(&self) -> Loaded {
        let problem = match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(file) if file.widgets.iter().any(|w| w.value.kind().is_none()) => {
                    // Saving it back would turn those widgets into empty ones.
                    "it holds a widget kind this build does not know (from a newer Pulseboard?)"
                        .to_owned()
                }
                Ok(file) if file.version == FORMAT_VERSION => {
                    tracing::info!(path = %self.path.display(), widgets = file.widgets.len(), "state loaded");
                    return Loaded {
                        widgets: file.widgets,
                        may_save: true,
                    };
                }
                Ok(file) => format!("unknown format version {}", file.version),
                Err(error) => format!("not a valid state file: {error}"),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Loaded {
                    widgets: Vec::new(),
                    may_save: true,
                }
            }
            Err(error) => format!("cannot be read: {error}"),
        };
        let aside = self.aside_path();
        let may_save = match std::fs::rename(&self.path, &aside) {
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), moved_to = %aside.display(), %problem,
                    "state file moved aside; starting with no widgets");
                true
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %problem, %error,
                    "state file could not be moved aside; starting with no widgets and NOT saving, so it is not overwritten");
                false
            }
        };
        Loaded {
            widgets: Vec::new(),
            may_save,
        }
    }

    /// Writes `widgets` atomically (see the module comment).
    pub fn save(&self, widgets: Vec<Widget>) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let file = StateFile {
            version: FORMAT_VERSION,
            saved_at: unix_ms(),
            widgets,
        };
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(std::io::BufWriter::new(temp.as_file_mut()), &file)?;
        temp.as_file_mut().flush()?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|e| e.error)?;
        // The rename itself is durable only once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    }

    fn aside_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".corrupt-{}", unix_ms()));
        self.path.with_file_name(name)
    }
}

/// Saves the hub's widgets every `interval` when they changed, off the async
/// workers. The final save on shutdown is [`save_now`].
pub fn spawn_saver(hub: Hub, store: StateStore, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut saved_seq = hub.last_seq();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // A counter read, so an idle server copies and writes nothing.
            if hub.last_seq() == saved_seq {
                continue;
            }
            let (hub, store) = (hub.clone(), store.clone());
            let saving = tokio::task::spawn_blocking(move || save_changes(&hub, &store, saved_seq));
            match saving.await {
                Ok(seq) => saved_seq = seq,
                Err(error) => tracing::error!(%error, "state saver failed"),
            }
        }
    })
}

/// Saves the widgets as they are now; returns the change they include, or
/// `saved_seq` (the last one saved) if the write failed.
fn save_changes(hub: &Hub, store: &StateStore, saved_seq: u64) -> u64 {
    let contents = hub.contents();
    match store.save(contents.widgets) {
        Ok(()) => contents.last_seq,
        Err(error) => {
            // Kept trying at every tick; the last good file stays in place.
            tracing::error!(path = %store.path.display(), %error, "could not save state");
            saved_seq
        }
    }
}

/// Saves now, whatever changed: on shutdown.
pub fn save_now(hub: &Hub, store: &StateStore) {
    match store.save(hub.contents().widgets) {
        Ok(()) => tracing::info!(path = %store.path.display(), "state saved"),
        Err(error) => tracing::error!(path = %store.path.display(), %error, "could not save state"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Number, Update, WidgetId, WidgetValue};

    fn widget(id: &str, value: f64) -> Widget {
        Widget::new(Update {
            id: WidgetId::parse(id).unwrap(),
            title: Some("T".into()),
            value: WidgetValue::Number(Number {
                value,
                ..Number::default()
            }),
            at: 1,
            expect_every: Some(60),
        })
    }

    #[test]
    fn saves_and_loads_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("sub/state.json"));
        assert!(store.load().widgets.is_empty());
        store
            .save(vec![widget("a", 1.0), widget("b", 2.0)])
            .unwrap();
        store.save(vec![widget("a", 3.0)]).unwrap();
        let loaded = store.load();
        assert!(loaded.may_save);
        assert_eq!(loaded.widgets, vec![widget("a", 3.0)]);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for corrupt in [
            &b"{\"version\":1,\"widg"[..],
            b"\xff\xfe",
            br#"{"version":99,"saved_at":0,"widgets":[]}"#,
            br#"{"version":1,"saved_at":0,"widgets":[{"id":"a","value":{"kind":"hologram"},"updated_at":1}]}"#,
        ] {
            std::fs::write(&path, corrupt).unwrap();
            let store = StateStore::new(&path);
            let loaded = store.load();
            assert!(loaded.widgets.is_empty() && loaded.may_save);
            assert!(!path.exists());
            let aside: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().contains(".corrupt-"))
                .collect();
            assert!(
                aside.iter().any(|p| std::fs::read(p).unwrap() == corrupt),
                "{aside:?}"
            );
            for p in aside {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
}
