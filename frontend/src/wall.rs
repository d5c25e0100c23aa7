//! Wall screens: kiosk mode and rotation, as the page's address asks.
//!
//! - `?kiosk` shows the dashboard as on a wall screen (no header, no cursor,
//!   the grid fitted to the screen); a dashboard declared with
//!   `kiosk = true` always is.
//! - `?rotate=30s` cycles through every dashboard, `?rotate=30s&dashboards=a,b`
//!   (or `?dashboards=a,b` alone, every 30 s) through those, and
//!   `?playlist=lobby` through a playlist declared in `pulseboard.toml`.
//!
//! A rotation streams all its dashboards on one EventSource (see
//! [`WallMode::stream_filter`]), so moving on needs no reload and no new
//! stream, and a dashboard coming back on screen shows the values it got
//! while it was away. Pure, tested natively.

use yew::AttrValue;

use crate::state::Menu;
use crate::stream::StreamFilter;

/// How long each dashboard stays on screen when the address does not say.
pub const DEFAULT_SECONDS: u32 = 30;
/// The shortest and longest time on screen the address may ask for.
const MIN_SECONDS: u32 = 1;
const MAX_SECONDS: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WallMode {
    /// `?kiosk`.
    pub kiosk: bool,
    pub rotation: Option<Rotation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// `?playlist=<name>`: as declared.
    Playlist(String),
    /// `?rotate=` and/or `?dashboards=`: these dashboards (all when `None`),
    /// each for `seconds`.
    Every {
        seconds: u32,
        dashboards: Option<Vec<String>>,
    },
}

/// What is on screen, for the views around a dashboard (props from the wall screen).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OnScreen {
    /// The dashboard a rotation shows now; `None`: the stream's own.
    pub dashboard: Option<AttrValue>,
    /// Kiosk mode: no header, no cursor, the grid fitted to the screen.
    pub kiosk: bool,
    /// What to say when there is nothing to show (a playlist nobody declared).
    pub missing: Option<AttrValue>,
}

/// One step of a rotation: a dashboard and how long it stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dashboard: String,
    pub seconds: u32,
}

impl WallMode {
    /// From the page's query string (`location.search`, with or without `?`).
    pub fn parse(query: &str) -> WallMode {
        let mut mode = WallMode::default();
        let (mut rotate, mut dashboards, mut playlist) = (None, None, None);
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value =
                urlencoding::decode(value).map_or_else(|_| value.to_owned(), |v| v.into_owned());
            match key {
                "kiosk" => mode.kiosk = !matches!(value.as_str(), "0" | "false" | "no" | "off"),
                "rotate" => rotate = Some(seconds(&value).unwrap_or(DEFAULT_SECONDS)),
                "dashboards" => {
                    dashboards = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|name| !name.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                "playlist" if !value.trim().is_empty() => playlist = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        mode.rotation = match (playlist, rotate, dashboards) {
            (Some(name), _, _) => Some(Rotation::Playlist(name)),
            (None, None, None) => None,
            (None, rotate, dashboards) => Some(Rotation::Every {
                seconds: rotate.unwrap_or(DEFAULT_SECONDS),
                dashboards,
            }),
        };
        mode
    }

    /// What the tab's one stream carries: a rotation's every dashboard, or
    /// the dashboard of the route (`route_dashboard`, empty for the default).
    pub fn stream_filter(&self, route_dashboard: &str) -> StreamFilter {
        match &self.rotation {
            None => StreamFilter::Dashboard(route_dashboard.to_owned()),
            Some(Rotation::Playlist(name)) => StreamFilter::Playlist(name.clone()),
            Some(Rotation::Every {
                dashboards: Some(names),
                ..
            }) => StreamFilter::Dashboards(names.clone()),
            Some(Rotation::Every {
                dashboards: None, ..
            }) => StreamFilter::All,
        }
    }

    /// The rotation's steps among the declared dashboards (`menu`), starting
    /// with `start` (the route's dashboard) when it is one of them. Empty
    /// without a rotation, or when it names nothing declared.
    pub fn entries(&self, menu: &Menu, start: &str) -> Vec<Entry> {
        let declared = |name: &str| menu.position(name).is_some();
        let mut entries: Vec<Entry> = match &self.rotation {
            None => Vec::new(),
            Some(Rotation::Playlist(name)) => menu
                .playlists
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| {
                    p.entries
                        .iter()
                        .filter(|e| declared(e.dashboard.as_str()))
                        .map(|e| Entry {
                            dashboard: e.dashboard.to_string(),
                            seconds: e.seconds.max(MIN_SECONDS),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Some(Rotation::Every {
                seconds,
                dashboards,
            }) => {
                let names: Vec<String> = match dashboards {
                    Some(names) => names.iter().filter(|n| declared(n)).cloned().collect(),
                    None => menu.dashboards.iter().map(|d| d.name.to_string()).collect(),
                };
                names
                    .into_iter()
                    .map(|dashboard| Entry {
                        dashboard,
                        seconds: *seconds,
                    })
                    .collect()
            }
        };
        match entries.iter().position(|e| e.dashboard == start) {
            Some(first) if first > 0 => {
                let mut tail = entries.split_off(first);
                tail.append(&mut entries);
                tail
            }
            _ => entries,
        }
    }
}

/// `30s`, `2m`, `1h` or bare seconds, within bounds.
fn seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    let seconds = match text.parse::<u64>() {
        Ok(n) => n,
        Err(_) => with_unit(text)?,
    };
    u32::try_from(seconds)
        .ok()
        .filter(|s| (MIN_SECONDS..=MAX_SECONDS).contains(s))
}

/// Seconds in `30s`, `2m` or `1h`: the few units an address bar needs (a
/// parser crate would cost the bundle more than this).
fn with_unit(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{DashboardSpec, Init, PlaylistEntry, PlaylistSpec, ServerEvent, View, WidgetId};

    fn menu() -> Menu {
        let id = |s: &str| WidgetId::parse(s).unwrap();
        let dashboard = |name: &str| DashboardSpec {
            name: id(name),
            title: None,
            widgets: vec![],
            unsorted: false,
            kiosk: false,
        };
        let mut state = crate::state::ViewState::default();
        state.apply(
            ServerEvent::Init(Init {
                protocol_version: 1,
                epoch: "e".into(),
                last_event_id: None,
                heartbeat_ms: 1_000,
                build: None,
                view: View {
                    dashboards: vec![dashboard("ops"), dashboard("sales"), dashboard("host")],
                    playlists: vec![PlaylistSpec {
                        name: id("lobby"),
                        entries: vec![
                            PlaylistEntry {
                                dashboard: id("host"),
                                seconds: 10,
                            },
                            PlaylistEntry {
                                dashboard: id("ops"),
                                seconds: 20,
                            },
                        ],
                    }],
                    ..View::default()
                },
            }),
            None,
        );
        std::rc::Rc::try_unwrap(state.menu).unwrap()
    }

    fn steps(entries: &[Entry]) -> Vec<(&str, u32)> {
        entries
            .iter()
            .map(|e| (e.dashboard.as_str(), e.seconds))
            .collect()
    }

    #[test]
    fn kiosk_is_a_flag() {
        assert!(WallMode::parse("?kiosk").kiosk);
        assert!(WallMode::parse("kiosk=1&x=y").kiosk);
        assert!(!WallMode::parse("?kiosk=0").kiosk);
        assert!(!WallMode::parse("").kiosk);
        assert_eq!(WallMode::parse("?kiosk").rotation, None);
    }

    #[test]
    fn rotations_from_the_address() {
        let all = WallMode::parse("?rotate=45s");
        assert_eq!(all.stream_filter("ops"), StreamFilter::All);
        assert_eq!(
            steps(&all.entries(&menu(), "")),
            [("ops", 45), ("sales", 45), ("host", 45)]
        );
        // Starting with the route's dashboard.
        assert_eq!(
            steps(&all.entries(&menu(), "host")),
            [("host", 45), ("ops", 45), ("sales", 45)]
        );

        let some = WallMode::parse("?rotate=2m&dashboards=host,nope,sales");
        assert_eq!(
            some.stream_filter(""),
            StreamFilter::Dashboards(vec!["host".into(), "nope".into(), "sales".into()])
        );
        assert_eq!(
            steps(&some.entries(&menu(), "")),
            [("host", 120), ("sales", 120)]
        );
        let default_time = WallMode::parse("?dashboards=sales%2Cops");
        assert_eq!(
            steps(&default_time.entries(&menu(), "")),
            [("sales", DEFAULT_SECONDS), ("ops", DEFAULT_SECONDS)]
        );

        let playlist = WallMode::parse("?playlist=lobby&kiosk&rotate=5s");
        assert!(playlist.kiosk);
        assert_eq!(
            playlist.stream_filter(""),
            StreamFilter::Playlist("lobby".into())
        );
        assert_eq!(
            steps(&playlist.entries(&menu(), "")),
            [("host", 10), ("ops", 20)]
        );
        assert!(WallMode::parse("?playlist=nope")
            .entries(&menu(), "")
            .is_empty());

        // No rotation: the route's dashboard, alone.
        let none = WallMode::parse("?kiosk");
        assert_eq!(
            none.stream_filter("ops"),
            StreamFilter::Dashboard("ops".into())
        );
        assert!(none.entries(&menu(), "ops").is_empty());
    }

    #[test]
    fn times_are_read_leniently_and_bounded() {
        assert_eq!(seconds("30"), Some(30));
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("2m"), Some(120));
        assert_eq!(seconds("1h"), Some(3_600));
        assert_eq!(seconds("0"), None);
        assert_eq!(seconds("2d"), None);
        assert_eq!(seconds("soon"), None);
        assert_eq!(seconds("99999999999999999999m"), None);
        // A bad time falls back to the default rather than failing.
        assert_eq!(
            WallMode::parse("?rotate=soon").rotation,
            Some(Rotation::Every {
                seconds: DEFAULT_SECONDS,
                dashboards: None
            })
        );
    }
}
