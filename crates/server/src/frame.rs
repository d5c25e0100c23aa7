//! One SSE event, encoded once and shared by every subscriber.

use std::sync::Arc;

use bytestring::ByteString;
use protocol::{EventId, ServerEvent, WidgetId};

/// The JSON of one event, serialized once when it is published; each
/// subscriber gets a clone of the `Arc`, and writing it is a copy.
#[derive(Debug)]
pub struct Frame {
    /// The SSE `id:`; `None` for events that change no state (heartbeat, shutdown).
    pub id: Option<ByteString>,
    /// The widget an `update` or `remove` is about, for streams narrowed to
    /// some widgets.
    pub widget: Option<WidgetId>,
    pub name: EventName,
    pub data: ByteString,
}

/// The SSE `event:` names, typed so that code reacting to one (the stream
/// ends after `shutdown`) cannot misspell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Init,
    Update,
    /// Consecutive updates sent as one event (a grouped stream's, see
    /// `routes::events`); never a frame of its own.
    Updates,
    Remove,
    Reset,
    Heartbeat,
    Shutdown,
    /// Never sent: tells each stream that the log started over
    /// ([`Hub::replace`](crate::hub::Hub::replace)), so it sends its viewer a
    /// `reset` for its own filter instead.
    NewEpoch,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Init => "init",
            EventName::Update => "update",
            EventName::Updates => "updates",
            EventName::Remove => "remove",
            EventName::Reset => "reset",
            EventName::Heartbeat => "heartbeat",
            EventName::Shutdown => "shutdown",
            EventName::NewEpoch => "new-epoch",
        }
    }

    /// The name of a stored state change (`update` or `remove`).
    pub fn parse_change(name: &str) -> Option<EventName> {
        match name {
            "update" => Some(EventName::Update),
            "remove" => Some(EventName::Remove),
            _ => None,
        }
    }

    fn of(event: &ServerEvent) -> EventName {
        match event {
            ServerEvent::Init(_) => EventName::Init,
            ServerEvent::Update(_) => EventName::Update,
            ServerEvent::Updates(_) => EventName::Updates,
            ServerEvent::Remove(_) => EventName::Remove,
            ServerEvent::Reset(_) => EventName::Reset,
            ServerEvent::Heartbeat(_) => EventName::Heartbeat,
            ServerEvent::Shutdown(_) => EventName::Shutdown,
        }
    }
}

impl Frame {
    /// Encodes `event` with the SSE id `id`, about `widget`.
    pub fn encode(
        event: &ServerEvent,
        id: Option<&EventId>,
        widget: Option<WidgetId>,
    ) -> Result<Arc<Frame>, serde_json::Error> {
        let encoded = event.encode()?;
        Ok(Arc::new(Frame {
            id: id.map(|id| id.to_string().into()),
            widget,
            name: EventName::of(event),
            data: encoded.data.into(),
        }))
    }

    /// The marker [`EventName::NewEpoch`].
    pub fn new_epoch() -> Frame {
        Frame {
            id: None,
            widget: None,
            name: EventName::NewEpoch,
            data: ByteString::new(),
        }
    }

    /// A state change read back from storage, already encoded.
    pub fn stored(id: &EventId, name: EventName, widget: Option<WidgetId>, data: String) -> Frame {
        Frame {
            id: Some(id.to_string().into()),
            widget,
            name,
            data: data.into(),
        }
    }
}
