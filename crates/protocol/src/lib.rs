//! Pulseboard's wire contract.
//!
//! Every Server-Sent Event on `GET /api/events` is one [`ServerEvent`]: the SSE
//! `event:` field is [`ServerEvent::name`] and the `data:` field is the JSON of the
//! variant's payload. The server encodes with [`ServerEvent::encode`] and the SPA
//! decodes with [`ServerEvent::decode`], so both sides share one code path and the
//! compiler checks them together. The format is documented in `docs/protocol.md`.
//!
//! Compatibility rule: decoders ignore unknown fields and unknown widget kinds,
//! so adding a field or a kind never breaks an older client.

mod build_id;
mod dashboard;
mod event_id;
mod widget;

pub use build_id::{build_id_in_html, build_id_of_asset};
pub use dashboard::{DashboardSpec, PlaylistEntry, PlaylistSpec, Size, WidgetSpec};
pub use event_id::{EventId, InvalidEventId};
pub use widget::{
    Gauge, InvalidWidgetId, List, ListRow, Log, LogLine, Number, Point, Series, SeriesLine, Status,
    StatusLevel, Text, Thresholds, Widget, WidgetId, WidgetKind, WidgetValue, DEFAULT_LOG_LINES,
    DEFAULT_SERIES_WINDOW, NUMBER_RECENT,
};

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the wire format; sent in `init`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Everything the server can tell a viewer.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// First event of every stream: the whole dashboard as it is now.
    Init(Init),
    /// One widget changed.
    Update(Update),
    /// Several consecutive updates that were ready together, in order, as
    /// one event whose id is the last one's: sent only on streams that ask
    /// for it (`?grouped`), so that a viewer of a big dashboard handles one
    /// event per publish, not one per widget.
    Updates(Vec<Update>),
    /// One widget was deleted.
    Remove(Remove),
    /// The viewer's state cannot be patched (replay impossible, or it lagged):
    /// replace it with this snapshot.
    Reset(Reset),
    /// Proof of life, sent on a fixed interval.
    Heartbeat(Heartbeat),
    /// The server is going away; reconnect (possibly to another instance).
    Shutdown(Shutdown),
}

/// The full state of the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Widgets in display order.
    pub widgets: Vec<Widget>,
}

impl Snapshot {
    /// Applies an `update` the way the server's store did: an existing widget is
    /// merged in place, a new one is appended at the end.
    pub fn apply_update(&mut self, update: Update) {
        match self.widgets.iter_mut().find(|w| w.id == update.id) {
            Some(widget) => widget.apply(update),
            None => self.widgets.push(Widget::new(update)),
        }
    }

    pub fn remove(&mut self, id: &WidgetId) {
        self.widgets.retain(|w| &w.id != id);
    }

    pub fn get(&self, id: &str) -> Option<&Widget> {
        self.widgets.iter().find(|w| w.id.as_str() == id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Init {
    pub protocol_version: u32,
    /// Random per server start; event ids are only comparable within one epoch.
    pub epoch: String,
    /// Id of the last event folded into `snapshot`, if any event was published yet.
    #[serde(default)]
    pub last_event_id: Option<EventId>,
    /// How often heartbeats come, so the client can tell a dead connection.
    pub heartbeat_ms: u64,
    /// The SPA build the server serves (see [`build_id_in_html`]); a tab
    /// running another one reloads itself. Absent when it serves none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(flatten)]
    pub view: View,
}

/// What a stream shows: the declared dashboards, which one this stream is
/// narrowed to, and the state of its widgets. Sent whole in `init` and `reset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// Every declared dashboard, in menu order (the first one is the default).
    #[serde(default)]
    pub dashboards: Vec<DashboardSpec>,
    /// The dashboard this stream is narrowed to (`?dashboard=`), if any; `None`
    /// also when the requested name is not declared (the snapshot is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    /// The declared playlists (wall-screen rotations), in declared order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub playlists: Vec<PlaylistSpec>,
    pub snapshot: Snapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub id: WidgetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The change: for a series or log the appended points or lines, for other
    /// kinds the new value.
    pub value: WidgetValue,
    /// When the change was accepted, in milliseconds since the Unix epoch.
    pub at: i64,
    /// Seconds within which the next update is expected (kept until changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remove {
    pub id: WidgetId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reset {
    pub epoch: String,
    #[serde(default)]
    pub last_event_id: Option<EventId>,
    /// As in [`Init::build`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(flatten)]
    pub view: View,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Server wall-clock time in milliseconds since the Unix epoch.
    pub server_time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Suggested delay before reconnecting, so not every viewer comes back at once.
    pub reconnect_after_ms: u64,
}

/// An event as it goes on the wire: the SSE `event:` name and `data:` JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub name: &'static str,
    pub data: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event name {0:?}")]
    UnknownEvent(String),
    #[error("malformed {event} payload: {source}")]
    Malformed {
        event: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ServerEvent {
    /// Every event name, in declaration order; the SPA listens for each of them.
    pub const NAMES: [&'static str; 7] = [
        "init",
        "update",
        "remove",
        "reset",
        "heartbeat",
        "shutdown",
        "updates",
    ];

    /// The SSE `event:` field for this event. These names are part of the
    /// protocol and never change.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::Init(_) => "init",
            ServerEvent::Update(_) => "update",
            ServerEvent::Updates(_) => "updates",
            ServerEvent::Remove(_) => "remove",
            ServerEvent::Reset(_) => "reset",
            ServerEvent::Heartbeat(_) => "heartbeat",
            ServerEvent::Shutdown(_) => "shutdown",
        }
    }

    /// Serializes the payload. Done once per event on the server; the bytes are
    /// then shared by every subscriber.
    pub fn encode(&self) -> Result<EncodedEvent, serde_json::Error> {
        let data = match self {
            ServerEvent::Init(p) => serde_json::to_string(p),
            ServerEvent::Update(p) => serde_json::to_string(p),
            ServerEvent::Updates(p) => serde_json::to_string(p),
            ServerEvent::Remove(p) => serde_json::to_string(p),
            ServerEvent::Reset(p) => serde_json::to_string(p),
            ServerEvent::Heartbeat(p) => serde_json::to_string(p),
            ServerEvent::Shutdown(p) => serde_json::to_string(p),
        }?;
        Ok(EncodedEvent {
            name: self.name(),
            data,
        })
    }

    /// Parses an SSE event back into the enum. Never panics: an unknown name or a
    /// malformed payload is an error the caller can log and skip.
    pub fn decode(name: &str, data: &str) -> Result<ServerEvent, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(
            event: &'static str,
            data: &str,
        ) -> Result<T, DecodeError> {
            serde_json::from_str(data).map_err(|source| DecodeError::Malformed { event, source })
        }
        Ok(match name {
            "init" => ServerEvent::Init(parse("init", data)?),
            "update" => ServerEvent::Update(parse("update", data)?),
            "updates" => ServerEvent::Updates(parse("updates", data)?),
            "remove" => ServerEvent::Remove(parse("remove", data)?),
            "reset" => ServerEvent::Reset(parse("reset", data)?),
            "heartbeat" => ServerEvent::Heartbeat(parse("heartbeat", data)?),
            "shutdown" => ServerEvent::Shutdown(parse("shutdown", data)?),
            other => return Err(DecodeError::UnknownEvent(other.to_owned())),
        })
    }
}
