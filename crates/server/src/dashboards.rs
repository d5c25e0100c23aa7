//! The declared dashboards and playlists, and which widgets a stream narrowed
//! to some of them (or to a list of widgets) carries.

use std::collections::{HashMap, HashSet};

use protocol::{DashboardSpec, PlaylistSpec, WidgetId, WidgetKind};

#[derive(Debug)]
pub struct Dashboards {
    /// In menu order; never empty. The first is the default dashboard, and the
    /// only one with `unsorted` set.
    specs: Vec<DashboardSpec>,
    /// The widgets each dashboard declares, by index in `specs`: looked up for
    /// every event of every narrowed stream.
    members: Vec<HashSet<WidgetId>>,
    /// Every widget some dashboard declares, with its declared kind if any.
    declared: HashMap<WidgetId, Option<WidgetKind>>,
    /// Wall-screen rotations; each names only dashboards of `specs`.
    playlists: Vec<PlaylistSpec>,
}

/// A playlist names a dashboard nobody declared.
#[derive(Debug, thiserror::Error)]
#[error("playlist `{playlist}` names dashboard `{dashboard}`, which is not declared")]
pub struct UnknownDashboard {
    pub playlist: String,
    pub dashboard: String,
}

/// What a stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every widget (no `?dashboard=` or `?topics=`).
    All,
    /// The widgets of `dashboards[i]`.
    Dashboard(usize),
    /// The widgets of several dashboards (`?dashboards=a,b` or
    /// `?playlist=`): a wall screen rotating through them on one stream.
    Dashboards(Vec<usize>),
    /// A dashboard name nobody declared: nothing.
    UnknownDashboard,
    /// `?topics=a,b`: just these widgets.
    Topics(HashSet<WidgetId>),
}

impl Dashboards {
    /// `specs` in menu order; with none, a single empty `main` dashboard, so
    /// published widgets always have a place to show.
    pub fn new(mut specs: Vec<DashboardSpec>) -> Dashboards {
        if specs.is_empty() {
            specs.push(DashboardSpec {
                name: WidgetId::parse("main").expect("a valid name"),
                title: Some("Dashboard".into()),
                widgets: Vec::new(),
                unsorted: true,
                kiosk: false,
            });
        }
        for (i, spec) in specs.iter_mut().enumerate() {
            spec.unsorted = i == 0;
        }
        let mut declared = HashMap::new();
        for widget in specs.iter().flat_map(|d| &d.widgets) {
            let kind = declared.entry(widget.id.clone()).or_insert(None);
            *kind = kind.or(widget.kind);
        }
        let members = specs
            .iter()
            .map(|spec| spec.widgets.iter().map(|w| w.id.clone()).collect())
            .collect();
        Dashboards {
            specs,
            members,
            declared,
            playlists: Vec::new(),
        }
    }

    /// Adds the playlists, once each is checked to name declared dashboards.
    pub fn with_playlists(
        mut self,
        playlists: Vec<PlaylistSpec>,
    ) -> Result<Dashboards, UnknownDashboard> {
        for playlist in &playlists {
            for entry in &playlist.entries {
                if self.index_of(entry.dashboard.as_str()).is_none() {
                    return Err(UnknownDashboard {
                        playlist: playlist.name.to_string(),
                        dashboard: entry.dashboard.to_string(),
                    });
                }
            }
        }
        self.playlists = playlists;
        Ok(self)
    }

    pub fn playlists(&self) -> &[PlaylistSpec] {
        &self.playlists
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.specs
            .iter()
            .position(|spec| spec.name.as_str() == name)
    }

    /// The filter of `?dashboards=a,b`: the named dashboards that exist (an
    /// empty name is the default one); none at all carries nothing.
    pub fn filter_for_list(&self, names: &str) -> Filter {
        let mut indices: Vec<usize> = names
            .split(',')
            .map(str::trim)
            .filter_map(|name| match name {
                "" => Some(0),
                name => self.index_of(name),
            })
            .collect();
        indices.sort_unstable();
        indices.dedup();
        if indices.is_empty() {
            Filter::UnknownDashboard
        } else {
            Filter::Dashboards(indices)
        }
    }

    /// The filter of `?playlist=<name>`: its dashboards' widgets.
    pub fn filter_for_playlist(&self, name: &str) -> Filter {
        let Some(playlist) = self.playlists.iter().find(|p| p.name.as_str() == name) else {
            return Filter::UnknownDashboard;
        };
        let mut indices: Vec<usize> = playlist
            .entries
            .iter()
            .filter_map(|entry| self.index_of(entry.dashboard.as_str()))
            .collect();
        indices.sort_unstable();
        indices.dedup();
        Filter::Dashboards(indices)
    }

    pub fn specs(&self) -> &[DashboardSpec] {
        &self.specs
    }

    /// The kind a widget is declared with, which a publish may leave out.
    pub fn declared_kind(&self, id: &WidgetId) -> Option<WidgetKind> {
        self.declared.get(id).copied().flatten()
    }

    /// The filter of `?dashboard=<name>`: an empty name means the default one.
    pub fn filter_for(&self, name: &str) -> Filter {
        if name.is_empty() {
            return Filter::Dashboard(0);
        }
        self.index_of(name)
            .map_or(Filter::UnknownDashboard, Filter::Dashboard)
    }

    /// The dashboard a filter names, for the `init` that starts the stream.
    pub fn name_of(&self, filter: &Filter) -> Option<String> {
        match filter {
            Filter::Dashboard(i) => Some(self.specs[*i].name.to_string()),
            _ => None,
        }
    }

    pub fn admits(&self, filter: &Filter, id: &WidgetId) -> bool {
        match filter {
            Filter::All => true,
            Filter::Dashboard(i) => self.dashboard_admits(*i, id),
            Filter::Dashboards(indices) => indices.iter().any(|i| self.dashboard_admits(*i, id)),
            Filter::UnknownDashboard => false,
            Filter::Topics(ids) => ids.contains(id),
        }
    }
}

impl Dashboards {
    fn dashboard_admits(&self, i: usize, id: &WidgetId) -> bool {
        self.members[i].contains(id) || (self.specs[i].unsorted && !self.declared.contains_key(id))
    }
}

impl Filter {
    /// Where the `init`/`reset` of this filter is cached: one slot for every
    /// widget and one per dashboard. Other filters are rare and cheap to build.
    pub fn cache_slot(&self) -> Option<usize> {
        match self {
            Filter::All => Some(0),
            Filter::Dashboard(i) => Some(i + 1),
            Filter::Dashboards(_) | Filter::UnknownDashboard | Filter::Topics(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Size, WidgetSpec};

    fn id(s: &str) -> WidgetId {
        WidgetId::parse(s).unwrap()
    }

    fn dashboard(name: &str, widgets: &[(&str, Option<WidgetKind>)]) -> DashboardSpec {
        DashboardSpec {
            name: id(name),
            title: None,
            widgets: widgets
                .iter()
                .map(|(w, kind)| WidgetSpec {
                    id: id(w),
                    title: None,
                    kind: *kind,
                    unit: None,
                    size: Size::default(),
                    thresholds: None,
                    expect_every: None,
                })
                .collect(),
            unsorted: false,
            kiosk: false,
        }
    }

    #[test]
    fn the_first_dashboard_also_shows_undeclared_widgets() {
        let dashboards = Dashboards::new(vec![
            dashboard("ops", &[("orders", Some(WidgetKind::Series))]),
            dashboard("host", &[("host.cpu", None)]),
        ]);
        let ops = dashboards.filter_for("ops");
        assert_eq!(ops, dashboards.filter_for(""));
        assert!(dashboards.admits(&ops, &id("orders")));
        assert!(dashboards.admits(&ops, &id("adhoc")));
        assert!(!dashboards.admits(&ops, &id("host.cpu")));
        let host = dashboards.filter_for("host");
        assert!(dashboards.admits(&host, &id("host.cpu")));
        assert!(!dashboards.admits(&host, &id("adhoc")));
        assert!(!dashboards.admits(&dashboards.filter_for("nope"), &id("orders")));
        assert_eq!(
            dashboards.declared_kind(&id("orders")),
            Some(WidgetKind::Series)
        );
        assert_eq!(dashboards.declared_kind(&id("host.cpu")), None);
        assert!(dashboards.specs()[0].unsorted && !dashboards.specs()[1].unsorted);
    }

    #[test]
    fn with_nothing_declared_there_is_one_dashboard_for_everything() {
        let dashboards = Dashboards::new(Vec::new());
        assert_eq!(dashboards.specs().len(), 1);
        assert!(dashboards.admits(&dashboards.filter_for(""), &id("anything")));
        assert_eq!(
            dashboards.name_of(&dashboards.filter_for("")).as_deref(),
            Some("main")
        );
    }

    #[test]
    fn several_dashboards_on_one_stream() {
        let dashboards = Dashboards::new(vec![
            dashboard("ops", &[("orders", None)]),
            dashboard("host", &[("host.cpu", None)]),
            dashboard("sales", &[("revenue", None)]),
        ]);
        let both = dashboards.filter_for_list("sales, nope,host,host");
        assert_eq!(both, Filter::Dashboards(vec![1, 2]));
        assert!(dashboards.admits(&both, &id("host.cpu")));
        assert!(dashboards.admits(&both, &id("revenue")));
        assert!(!dashboards.admits(&both, &id("orders")));
        assert!(!dashboards.admits(&both, &id("adhoc")));
        // The default dashboard brings the undeclared widgets along.
        let with_default = dashboards.filter_for_list(",sales");
        assert!(dashboards.admits(&with_default, &id("adhoc")));
        assert_eq!(dashboards.filter_for_list("nope"), Filter::UnknownDashboard);
        assert_eq!(both.cache_slot(), None);
    }

    #[test]
    fn playlists_name_declared_dashboards() {
        let specs = || {
            vec![
                dashboard("ops", &[("orders", None)]),
                dashboard("host", &[("host.cpu", None)]),
            ]
        };
        let playlist = |entries: &[&str]| PlaylistSpec {
            name: id("lobby"),
            entries: entries
                .iter()
                .map(|name| protocol::PlaylistEntry {
                    dashboard: id(name),
                    seconds: 5,
                })
                .collect(),
        };
        let dashboards = Dashboards::new(specs())
            .with_playlists(vec![playlist(&["host", "ops", "host"])])
            .unwrap();
        assert_eq!(dashboards.playlists().len(), 1);
        let lobby = dashboards.filter_for_playlist("lobby");
        assert_eq!(lobby, Filter::Dashboards(vec![0, 1]));
        assert_eq!(
            dashboards.filter_for_playlist("nope"),
            Filter::UnknownDashboard
        );
        let error = Dashboards::new(specs())
            .with_playlists(vec![playlist(&["ops", "sales"])])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "playlist `lobby` names dashboard `sales`, which is not declared"
        );
    }
}
