//! The SPA's routes: `/` is the default dashboard, `/d/{name}` a named one.
//!
//! The server answers both paths with `index.html`; yew-router maps the path to
//! a [`Route`], and the route says which dashboard the tab's stream asks for.

use yew_router::Routable;

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    /// The first declared dashboard, whatever its name.
    #[at("/")]
    Default,
    /// A dashboard by name (declared or not: the server says which).
    #[at("/d/:name")]
    Named { name: String },
    /// Any other path the server answered with `index.html`.
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// The `?dashboard=` value of this route's stream: empty asks the server for
    /// the default dashboard. A path that is no route shows the default
    /// dashboard's menu, so it streams that one too.
    pub fn dashboard_param(&self) -> &str {
        match self {
            Route::Named { name } => name,
            Route::Default | Route::NotFound => "",
        }
    }

    /// The route that shows dashboard `name`: `/` for the default one (the
    /// first in the menu), so that one has a single address.
    pub fn to_dashboard(name: &str, default: Option<&str>) -> Route {
        if default == Some(name) {
            Route::Default
        } else {
            Route::Named {
                name: name.to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Route {
        Route::Named {
            name: name.to_owned(),
        }
    }

    #[test]
    fn paths_map_to_routes() {
        assert_eq!(Route::recognize("/"), Some(Route::Default));
        assert_eq!(Route::recognize("/d/ops"), Some(named("ops")));
        assert_eq!(
            Route::recognize("/d/host.metrics"),
            Some(named("host.metrics"))
        );
        // Percent-escapes are decoded: the name is what the user typed.
        assert_eq!(Route::recognize("/d/no%20such"), Some(named("no such")));
        assert_eq!(Route::recognize("/d/"), Some(Route::NotFound));
        assert_eq!(
            Route::recognize("/some/client/route"),
            Some(Route::NotFound)
        );
    }

    #[test]
    fn routes_map_to_paths() {
        assert_eq!(Route::Default.to_path(), "/");
        assert_eq!(named("sales").to_path(), "/d/sales");
    }

    #[test]
    fn the_stream_asks_for_the_routes_dashboard() {
        assert_eq!(Route::Default.dashboard_param(), "");
        assert_eq!(named("ops").dashboard_param(), "ops");
        assert_eq!(Route::NotFound.dashboard_param(), "");
    }

    #[test]
    fn the_default_dashboard_links_to_the_root() {
        assert_eq!(Route::to_dashboard("host", Some("host")), Route::Default);
        assert_eq!(Route::to_dashboard("ops", Some("host")), named("ops"));
        assert_eq!(Route::to_dashboard("ops", None), named("ops"));
    }
}
