//! Declared dashboards: which widgets a dashboard shows, in what order, and how.

use serde::{Deserialize, Serialize};

use crate::{Thresholds, WidgetId, WidgetKind};

/// One dashboard, as declared in `pulseboard.toml` (or built in, like `host`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardSpec {
    /// Its route: `/d/{name}`. Same rules as a widget id.
    pub name: WidgetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Declared widgets, in display order.
    #[serde(default)]
    pub widgets: Vec<WidgetSpec>,
    /// This dashboard also shows every published widget that no dashboard
    /// declares, in an "unsorted" section (true for the default dashboard).
    #[serde(default)]
    pub unsorted: bool,
    /// Shown as on a wall screen (no header, no cursor, the grid fitted to
    /// the screen), as `?kiosk` does for any dashboard.
    #[serde(default, skip_serializing_if = "is_false")]
    pub kiosk: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl DashboardSpec {
    pub fn declares(&self, id: &WidgetId) -> bool {
        self.widgets.iter().any(|w| &w.id == id)
    }
}

/// How a declared widget looks. Everything but the id is a default: a value's
/// own title, unit, thresholds or `expect_every` win over these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WidgetSpec {
    pub id: WidgetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The kind publishes to this widget get when they do not say, and must
    /// match when they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WidgetKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default)]
    pub size: Size,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Seconds within which an update is expected before it looks stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<u32>,
}

/// Grid cells a widget spans: `[columns, rows]`, each 1 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Size(pub u8, pub u8);

impl Default for Size {
    fn default() -> Size {
        Size(1, 1)
    }
}

/// A wall screen's rotation, as declared in `pulseboard.toml`: dashboards
/// shown one after the other, each for its time, round and round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaylistSpec {
    /// Chosen with `?playlist=<name>`. Same rules as a widget id.
    pub name: WidgetId,
    /// In order; never empty, each naming a declared dashboard.
    pub entries: Vec<PlaylistEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaylistEntry {
    pub dashboard: WidgetId,
    /// How long it stays on screen.
    pub seconds: u32,
}
