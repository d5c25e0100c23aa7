//! `pulseboard.toml`: dashboards, and settings by flag name.
//!
//! ```toml
//! heartbeat_interval = "10s"          # any flag, `-` written `_`
//! publish_token = ["token-a", "token-b"]
//!
//! [[dashboard]]
//! name = "ops"                        # its route: /d/ops
//! title = "Operations"
//!
//! [[dashboard.widget]]
//! id = "orders"
//! title = "Orders per minute"
//! kind = "series"                     # publishes may then leave `kind` out
//! unit = "/min"
//! size = [2, 1]                       # columns, rows (1 to 4 each)
//! thresholds = { warn = 70, critical = 90 }
//! expect_every = "5m"                 # or seconds: 300
//!
//! [[playlist]]                        # a wall screen's rotation: ?playlist=lobby
//! name = "lobby"
//! seconds = 30                        # each dashboard's time, unless it says
//! dashboards = ["ops", { name = "host", seconds = "10s" }]
//! ```
//!
//! A dashboard may also say `kiosk = true`: it is then always shown as on a
//! wall screen, as `?kiosk` shows any.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{
    DashboardSpec, PlaylistEntry, PlaylistSpec, Size, WidgetId, WidgetKind, WidgetSpec,
};
use serde::Deserialize;

use crate::publish::{limits, ThresholdsBody};

/// What a config file holds.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// `(flag name with `_`, value as it would be written after `--flag=`)`.
    pub settings: Vec<(String, String)>,
    pub dashboards: Vec<DashboardSpec>,
    /// Their dashboards are checked against the declared ones at start (the
    /// built-in `host` dashboard is not in the file).
    pub playlists: Vec<PlaylistSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

pub fn read(path: &Path) -> Result<ConfigFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|message| Error::Invalid {
        path: path.to_owned(),
        message,
    })
}

#[derive(Deserialize)]
struct FileContents {
    #[serde(default)]
    dashboard: Vec<DashboardInput>,
    #[serde(default)]
    playlist: Vec<PlaylistInput>,
    #[serde(flatten)]
    settings: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardInput {
    name: String,
    title: Option<String>,
    #[serde(default)]
    kiosk: bool,
    #[serde(default, rename = "widget")]
    widgets: Vec<WidgetInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaylistInput {
    name: String,
    /// Each entry's time unless it gives its own.
    seconds: Option<Seconds>,
    dashboards: Vec<EntryInput>,
}

/// `"ops"`, or `{ name = "ops", seconds = 10 }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum EntryInput {
    Name(String),
    Timed {
        name: String,
        seconds: Option<Seconds>,
    },
}

/// A playlist entry's time when neither it nor its playlist says.
pub const DEFAULT_PLAYLIST_SECONDS: u32 = 30;
/// Longest time an entry may stay on screen: a day.
const MAX_PLAYLIST_SECONDS: u32 = 86_400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetInput {
    id: String,
    title: Option<String>,
    kind: Option<WidgetKind>,
    unit: Option<String>,
    size: Option<[u8; 2]>,
    thresholds: Option<ThresholdsBody>,
    expect_every: Option<Seconds>,
}

/// A duration as seconds (`300`) or as text (`"5m"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Count(u32),
    Text(String),
}

/// Parses a config file's text.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let contents: FileContents = toml::from_str(text).map_err(|e| e.to_string())?;
    let settings = contents
        .settings
        .into_iter()
        .map(|(key, value)| Ok((key.clone(), setting_value(&key, value)?)))
        .collect::<Result<_, String>>()?;
    let dashboards = dashboards(contents.dashboard)?;
    let playlists = playlists(contents.playlist)?;
    Ok(ConfigFile {
        settings,
        dashboards,
        playlists,
    })
}

/// Dashboards declared by the built-in sources use the same format.
pub fn parse_dashboards(text: &str) -> Result<Vec<DashboardSpec>, String> {
    let file = parse(text)?;
    if !file.settings.is_empty() || !file.playlists.is_empty() {
        return Err("only dashboards are expected here".into());
    }
    Ok(file.dashboards)
}

fn setting_value(key: &str, value: toml::Value) -> Result<String, String> {
    use toml::Value::*;
    match value {
        String(text) => Ok(text),
        Integer(n) => Ok(n.to_string()),
        Float(x) => Ok(x.to_string()),
        Boolean(b) => Ok(b.to_string()),
        // Lists are what a comma-separated flag takes.
        Array(items) => items
            .into_iter()
            .map(|item| match item {
                String(text) if !text.contains(',') => Ok(text),
                _ => Err(format!(
                    "`{key}`: list items must be strings without commas"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|items| items.join(",")),
        _ => Err(format!("`{key}` must be a string, number, boolean or list")),
    }
}

fn dashboards(inputs: Vec<DashboardInput>) -> Result<Vec<DashboardSpec>, String> {
    let mut names = HashSet::new();
    let mut kinds: HashMap<WidgetId, WidgetKind> = HashMap::new();
    inputs
        .into_iter()
        .map(|input| {
            let name = WidgetId::parse(input.name).map_err(|e| format!("dashboard name: {e}"))?;
            if !names.insert(name.clone()) {
                return Err(format!("dashboard `{name}` is declared twice"));
            }
            let mut ids = HashSet::new();
            let widgets = input
                .widgets
                .into_iter()
                .map(|w| {
                    let spec = widget(w).map_err(|e| format!("dashboard `{name}`: {e}"))?;
                    if !ids.insert(spec.id.clone()) {
                        return Err(format!(
                            "dashboard `{name}`: widget `{}` is declared twice",
                            spec.id
                        ));
                    }
                    if let Some(kind) = spec.kind {
                        if let Some(other) =
                            kinds.insert(spec.id.clone(), kind).filter(|k| *k != kind)
                        {
                            return Err(format!(
                                "widget `{}` is declared as a {other} and as a {kind}",
                                spec.id
                            ));
                        }
                    }
                    Ok(spec)
                })
                .collect::<Result<_, String>>()?;
            Ok(DashboardSpec {
                name,
                title: input.title,
                widgets,
                unsorted: false,
                kiosk: input.kiosk,
            })
        })
        .collect()
}

fn playlists(inputs: Vec<PlaylistInput>) -> Result<Vec<PlaylistSpec>, String> {
    let mut names = HashSet::new();
    inputs
        .into_iter()
        .map(|input| {
            let name = WidgetId::parse(input.name).map_err(|e| format!("playlist name: {e}"))?;
            if !names.insert(name.clone()) {
                return Err(format!("playlist `{name}` is declared twice"));
            }
            let what = format!("playlist `{name}`");
            let default = match input.seconds {
                Some(seconds) => playlist_seconds(seconds, &what)?,
                None => DEFAULT_PLAYLIST_SECONDS,
            };
            if input.dashboards.is_empty() {
                return Err(format!("{what}: `dashboards` is empty"));
            }
            let entries = input
                .dashboards
                .into_iter()
                .map(|entry| {
                    let (dashboard, seconds) = match entry {
                        EntryInput::Name(dashboard) => (dashboard, None),
                        EntryInput::Timed { name, seconds } => (name, seconds),
                    };
                    let dashboard =
                        WidgetId::parse(dashboard).map_err(|e| format!("{what}: {e}"))?;
                    let seconds = match seconds {
                        Some(seconds) => playlist_seconds(seconds, &what)?,
                        None => default,
                    };
                    Ok(PlaylistEntry { dashboard, seconds })
                })
                .collect::<Result<_, String>>()?;
            Ok(PlaylistSpec { name, entries })
        })
        .collect()
}

fn playlist_seconds(seconds: Seconds, what: &str) -> Result<u32, String> {
    let seconds = seconds
        .to_seconds()
        .map_err(|e| format!("{what}: seconds: {e}"))?;
    u32::try_from(seconds)
        .ok()
        .filter(|s| (1..=MAX_PLAYLIST_SECONDS).contains(s))
        .ok_or_else(|| format!("{what}: seconds must be 1 s to 1 day"))
}

impl Seconds {
    fn to_seconds(&self) -> Result<u64, String> {
        match self {
            Seconds::Count(n) => Ok(u64::from(*n)),
            Seconds::Text(text) => humantime::parse_duration(text)
                .map(|d| d.as_secs())
                .map_err(|e| format!("{text:?}: {e}")),
        }
    }
}

fn widget(input: WidgetInput) -> Result<WidgetSpec, String> {
    let id = WidgetId::parse(input.id).map_err(|e| e.to_string())?;
    let size = match input.size {
        None => Size::default(),
        Some([cols, rows]) if (1..=4).contains(&cols) && (1..=4).contains(&rows) => {
            Size(cols, rows)
        }
        Some(_) => {
            return Err(format!(
                "widget `{id}`: size must be [columns, rows], 1 to 4 each"
            ))
        }
    };
    let expect_every = input
        .expect_every
        .map(|every| {
            let seconds = every
                .to_seconds()
                .map_err(|e| format!("widget `{id}`: expect_every {e}"))?;
            let max = limits::EXPECT_EVERY_SECONDS;
            u32::try_from(seconds)
                .ok()
                .filter(|s| (1..=max).contains(s))
                .ok_or_else(|| {
                    format!(
                        "widget `{id}`: expect_every must be 1 s to {}",
                        humantime::format_duration(Duration::from_secs(max.into()))
                    )
                })
        })
        .transpose()?;
    Ok(WidgetSpec {
        id,
        title: input.title,
        kind: input.kind,
        unit: input.unit,
        size,
        thresholds: input.thresholds.map(Into::into),
        expect_every,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_dashboards() {
        let file = parse(
            r#"
            heartbeat_interval = "10s"
            publish_token = ["a", "b"]
            host_metrics = false
            max_widgets = 50

            [[dashboard]]
            name = "ops"
            title = "Operations"
            [[dashboard.widget]]
            id = "orders"
            kind = "series"
            size = [2, 1]
            expect_every = "5m"
            thresholds = { warn = 70, critical = 90 }
            [[dashboard.widget]]
            id = "queue"
            expect_every = 30
            "#,
        )
        .unwrap();
        let settings: HashMap<_, _> = file.settings.into_iter().collect();
        assert_eq!(settings["heartbeat_interval"], "10s");
        assert_eq!(settings["publish_token"], "a,b");
        assert_eq!(settings["host_metrics"], "false");
        assert_eq!(settings["max_widgets"], "50");
        let ops = &file.dashboards[0];
        assert_eq!(ops.name.as_str(), "ops");
        assert_eq!(ops.widgets[0].kind, Some(WidgetKind::Series));
        assert_eq!(ops.widgets[0].size, Size(2, 1));
        assert_eq!(ops.widgets[0].expect_every, Some(300));
        assert_eq!(ops.widgets[1].expect_every, Some(30));
        assert_eq!(ops.widgets[1].size, Size(1, 1));
        assert!(!ops.kiosk);
        assert!(file.playlists.is_empty());
    }

    #[test]
    fn reads_playlists_and_kiosk_dashboards() {
        let file = parse(
            r#"
            [[dashboard]]
            name = "ops"
            kiosk = true
            [[playlist]]
            name = "lobby"
            seconds = "1m"
            dashboards = ["ops", { name = "host", seconds = 10 }, { name = "sales" }]
            [[playlist]]
            name = "quick"
            dashboards = ["ops"]
            "#,
        )
        .unwrap();
        assert!(file.dashboards[0].kiosk);
        let entries: Vec<_> = file.playlists[0]
            .entries
            .iter()
            .map(|e| (e.dashboard.as_str(), e.seconds))
            .collect();
        assert_eq!(entries, [("ops", 60), ("host", 10), ("sales", 60)]);
        assert_eq!(file.playlists[1].name.as_str(), "quick");
        assert_eq!(
            file.playlists[1].entries[0].seconds,
            DEFAULT_PLAYLIST_SECONDS
        );
    }

    #[test]
    fn refuses_what_cannot_be_right() {
        for (text, expected) in [
            ("[[dashboard]]\nname = \"Ops!\"", "dashboard name"),
            ("[[dashboard]]\nname = \"a\"\n[[dashboard]]\nname = \"a\"", "declared twice"),
            ("[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nsize = [5, 1]", "size"),
            ("[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nkind = \"hologram\"", "unknown variant"),
            ("[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nkind = \"gauge\"\n[[dashboard]]\nname = \"b\"\n[[dashboard.widget]]\nid = \"x\"\nkind = \"number\"", "declared as a gauge and as a number"),
            ("[[dashboard]]\nname = \"a\"\n[[dashboard.widget]]\nid = \"x\"\nexpect_every = \"soon\"", "expect_every"),
            ("[[dashboard]]\nname = \"a\"\ncolour = \"red\"", "unknown field"),
            ("[[playlist]]\nname = \"p\"\ndashboards = []", "is empty"),
            ("[[playlist]]\nname = \"p\"\nseconds = 0\ndashboards = [\"a\"]", "1 s to 1 day"),
            ("[[playlist]]\nname = \"p\"\ndashboards = [{ name = \"a\", seconds = \"2d\" }]", "1 s to 1 day"),
            ("[[playlist]]\nname = \"p\"\ndashboards = [\"A!\"]", "invalid widget id"),
            ("[[playlist]]\nname = \"p\"\ndashboards = [\"a\"]\n[[playlist]]\nname = \"p\"\ndashboards = [\"a\"]", "declared twice"),
            ("heartbeat_interval = { a = 1 }", "heartbeat_interval"),
            ("[[dashboard]\n", "expected"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
