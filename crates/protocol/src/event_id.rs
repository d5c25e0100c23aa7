use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The SSE `id:` of a state-changing event: `<epoch>-<seq>`.
///
/// `seq` increases by one per published event within a server epoch; the epoch
/// changes on every server start, so ids from a previous run are recognisable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId {
    pub epoch: String,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event id {0:?}: expected <epoch>-<sequence number>")]
pub struct InvalidEventId(pub String);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidEventId(s.chars().take(80).collect());
        let (epoch, seq) = s.rsplit_once('-').ok_or_else(invalid)?;
        let epoch_ok = !epoch.is_empty()
            && epoch.len() <= 32
            && epoch.bytes().all(|b| b.is_ascii_alphanumeric());
        if !epoch_ok {
            return Err(invalid());
        }
        let seq = seq.parse().map_err(|_| invalid())?;
        Ok(EventId {
            epoch: epoch.to_owned(),
            seq,
        })
    }
}

impl TryFrom<String> for EventId {
    type Error = InvalidEventId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.to_string()
    }
}
