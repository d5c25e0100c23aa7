//! Never stale after a deploy: a tab running another build of the SPA than
//! the one its server serves reloads itself, once.
//!
//! The server names its build in every `init` and `reset` (the hash in the
//! wasm bundle's name, read from the `index.html` it serves); the page knows
//! its own from the bundle its document preloads. Both are read with
//! `protocol::build_id_of_asset`, so they agree on what a build is. On a
//! mismatch the stream asks for a reload once the frame in progress is
//! rendered, so the page goes while nothing is half-applied.
//!
//! No reload loop, whatever the servers do ([`decide`], pure and tested): a
//! tab never reloads twice for the same server build (if the reload brought
//! the old page back, a cache or a proxy serves it, and reloading again would
//! not help), and at most once per [`MIN_INTERVAL_MS`] (behind a load
//! balancer whose instances run different builds, the build a tab is told
//! can change at every reconnect). What it did is kept in `sessionStorage`,
//! which lives as long as the tab and survives its reloads.

use wasm_bindgen::JsValue;

/// At most one reload for a new build per this long.
pub const MIN_INTERVAL_MS: f64 = 5.0 * 60_000.0;
/// How many server builds a tab remembers having reloaded for.
const REMEMBERED: usize = 8;
const STORAGE_KEY: &str = "pulseboard.build-reloads";

/// The tab's reloads for a changed build. Stored as text, `<at_ms> <build>…`
/// (build ids never hold spaces): serde's float formatting would cost the
/// bundle more than this whole module.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadLog {
    /// When the last one happened (browser clock, ms).
    pub at_ms: f64,
    /// The server builds reloaded for, oldest first.
    pub builds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Same build, no build known, or reloading would not help.
    Stay,
    Reload,
    /// Too soon after the last one: ask again at this time.
    Later {
        at_ms: f64,
    },
}

/// Whether a page of build `own` whose server serves `served` reloads now.
pub fn decide(own: Option<&str>, served: Option<&str>, log: &ReloadLog, now_ms: f64) -> Decision {
    let (Some(own), Some(served)) = (own, served) else {
        return Decision::Stay;
    };
    if own == served || log.builds.iter().any(|b| b == served) {
        return Decision::Stay;
    }
    let next_ms = log.at_ms + MIN_INTERVAL_MS;
    if log.at_ms > 0.0 && now_ms < next_ms {
        return Decision::Later { at_ms: next_ms };
    }
    Decision::Reload
}

impl ReloadLog {
    /// What [`ReloadLog::to_text`] wrote; anything else reads as no reloads.
    pub fn parse(text: &str) -> ReloadLog {
        let mut words = text.split_whitespace();
        let at_ms = words
            .next()
            .and_then(|w| w.parse::<u64>().ok())
            .map_or(0.0, |ms| ms as f64);
        ReloadLog {
            at_ms,
            builds: words.map(str::to_owned).collect(),
        }
    }

    pub fn to_text(&self) -> String {
        let mut text = (self.at_ms.max(0.0) as u64).to_string();
        for build in &self.builds {
            text.push(' ');
            text.push_str(build);
        }
        text
    }

    pub fn record(&mut self, served: &str, now_ms: f64) {
        self.at_ms = now_ms;
        self.builds.push(served.to_owned());
        let excess = self.builds.len().saturating_sub(REMEMBERED);
        self.builds.drain(..excess);
    }
}

/// The build of this page: the hash of the wasm bundle its document
/// preloads (trunk writes that link); `None` outside a trunk build.
pub fn own_build() -> Option<String> {
    let document = web_sys::window()?.document()?;
    let link = document
        .query_selector(r#"link[rel="preload"][href$="_bg.wasm"]"#)
        .ok()??;
    let href = link.get_attribute("href")?;
    protocol::build_id_of_asset(&href).map(str::to_owned)
}

/// Decides for `served` and, when it is time, records the reload and reloads
/// the page. Returns the decision, so a caller can ask again later.
pub fn reload_if_stale(own: Option<&str>, served: Option<&str>) -> Decision {
    let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    let mut log = storage
        .as_ref()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .map(|text| ReloadLog::parse(&text))
        .unwrap_or_default();
    let now_ms = js_sys::Date::now();
    let decision = decide(own, served, &log, now_ms);
    if let (Decision::Stay, Some(own), Some(served)) = (&decision, own, served) {
        if own != served {
            // Reloading for this build already brought this one back: a
            // cache in front serves an old index.html. Say so, once per
            // init or reset, rather than reload in a loop.
            warn(&format!(
                "the server serves build {served}, but reloading brought back build {own}                  (a cache serving an old index.html?): staying on this build"
            ));
        }
    }
    if let (Decision::Reload, Some(served)) = (&decision, served) {
        log.record(served, now_ms);
        let saved = storage
            .as_ref()
            .is_some_and(|storage| storage.set_item(STORAGE_KEY, &log.to_text()).is_ok());
        if !saved {
            // Without a record, the next page could not tell it already
            // reloaded: better stale than in a loop.
            warn("no sessionStorage to record a reload in: staying on this build");
            return Decision::Stay;
        }
        warn(&format!("the server now serves build {served}: reloading"));
        if let Some(location) = web_sys::window().map(|w| w.location()) {
            let _ = location.reload();
        }
    }
    decision
}

fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("pulseboard: {message}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_only_for_another_build() {
        let log = ReloadLog::default();
        assert_eq!(decide(Some("a"), Some("a"), &log, 0.0), Decision::Stay);
        assert_eq!(decide(None, Some("a"), &log, 0.0), Decision::Stay);
        assert_eq!(decide(Some("a"), None, &log, 0.0), Decision::Stay);
        assert_eq!(decide(Some("a"), Some("b"), &log, 0.0), Decision::Reload);
    }

    #[test]
    fn never_twice_for_the_same_build() {
        let mut log = ReloadLog::default();
        log.record("b", 1_000.0);
        // The reload brought back build a again (a cache): stay, even later.
        let much_later = 1_000.0 + 10.0 * MIN_INTERVAL_MS;
        assert_eq!(
            decide(Some("a"), Some("b"), &log, much_later),
            Decision::Stay
        );
    }

    #[test]
    fn at_most_once_per_interval_while_builds_keep_changing() {
        let mut log = ReloadLog::default();
        log.record("b", 1_000.0);
        assert_eq!(
            decide(Some("b"), Some("c"), &log, 2_000.0),
            Decision::Later {
                at_ms: 1_000.0 + MIN_INTERVAL_MS
            }
        );
        assert_eq!(
            decide(Some("b"), Some("c"), &log, 1_000.0 + MIN_INTERVAL_MS),
            Decision::Reload
        );
    }

    #[test]
    fn remembers_a_bounded_number_of_builds() {
        let mut log = ReloadLog::default();
        for i in 0..20 {
            log.record(&format!("build{i}"), f64::from(i));
        }
        assert_eq!(log.builds.len(), REMEMBERED);
        assert_eq!(log.builds.last().map(String::as_str), Some("build19"));
        assert_eq!(log.at_ms, 19.0);
    }

    #[test]
    fn the_log_survives_as_text() {
        let mut log = ReloadLog::default();
        log.record("0123abcd", 1_700_000_000_123.0);
        log.record("test-build-2", 1_700_000_000_456.0);
        assert_eq!(log.to_text(), "1700000000456 0123abcd test-build-2");
        assert_eq!(ReloadLog::parse(&log.to_text()), log);
        assert_eq!(ReloadLog::parse("garbage"), ReloadLog::default());
        assert_eq!(ReloadLog::parse(""), ReloadLog::default());
    }
}
