//! Prometheus metrics, one registry per server so tests running several servers
//! in one process do not see each other's counts.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub open_streams: IntGauge,
    pub streams_opened: IntCounter,
    pub events_published: IntCounter,
    pub events_delivered: IntCounter,
    pub events_replayed: IntCounter,
    pub heartbeats_sent: IntCounter,
    pub resets_sent: IntCounterVec,
    pub subscribers_dropped: IntCounterVec,
    pub history_len: IntGauge,
    pub requests_refused: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub error_responses: IntCounterVec,
    pub storage_available: IntGauge,
    pub storage_errors: IntCounter,
    pub storage_commit_seconds: Histogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("pulseboard".into()), None)
            .expect("static registry prefix is valid");
        let metrics = Metrics {
            open_streams: IntGauge::new("open_streams", "SSE streams open right now")
                .expect("static metric"),
            streams_opened: IntCounter::new("streams_opened_total", "SSE streams opened")
                .expect("static metric"),
            events_published: IntCounter::new(
                "events_published_total",
                "State-changing events published to the hub",
            )
            .expect("static metric"),
            events_delivered: IntCounter::new(
                "events_delivered_total",
                "Events handed to subscribers' connections (every kind, replays included)",
            )
            .expect("static metric"),
            events_replayed: IntCounter::new(
                "events_replayed_total",
                "Events replayed from history to subscribers that resumed",
            )
            .expect("static metric"),
            heartbeats_sent: IntCounter::new(
                "heartbeats_total",
                "Heartbeat events broadcast (once per interval, shared by all streams)",
            )
            .expect("static metric"),
            resets_sent: IntCounterVec::new(
                Opts::new(
                    "resets_sent_total",
                    "Snapshot resets sent instead of missed events",
                ),
                &["reason"],
            )
            .expect("static metric"),
            subscribers_dropped: IntCounterVec::new(
                Opts::new(
                    "subscribers_dropped_total",
                    "Streams that ended while their subscriber was too far behind",
                ),
                &["reason"],
            )
            .expect("static metric"),
            history_len: IntGauge::new("history_len", "Events kept in the replay history")
                .expect("static metric"),
            requests_refused: IntCounterVec::new(
                Opts::new(
                    "requests_refused_total",
                    "Requests refused by a limit (503 for streams, 429 for rates)",
                ),
                &["reason"],
            )
            .expect("static metric"),
            auth_failures: IntCounterVec::new(
                Opts::new(
                    "auth_failures_total",
                    "Failed checks of a presented credential (a wrong token), by kind; past a burst per address they turn into 429s (requests_refused_total{reason=\"auth_failures\"})",
                ),
                &["credential"],
            )
            .expect("static metric"),
            error_responses: IntCounterVec::new(
                Opts::new(
                    "error_responses_total",
                    "API error responses (every refusal, 4xx and 5xx), by status and code; \
                     the log summarizes them, this counts each",
                ),
                &["status", "code"],
            )
            .expect("static metric"),
            storage_available: IntGauge::new(
                "storage_available",
                "1 while the log's storage commits, 0 while it fails (publishes get 503)",
            )
            .expect("static metric"),
            storage_errors: IntCounter::new(
                "storage_errors_total",
                "Commits of the log's storage that failed (its probes while failing are not counted)",
            )
            .expect("static metric"),
            storage_commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "storage_commit_seconds",
                    "Time to commit one group of events (fsync included)",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ]),
            )
            .expect("static metric"),
            registry,
        };
        let collectors: [Box<dyn Collector>; 15] = [
            Box::new(metrics.open_streams.clone()),
            Box::new(metrics.streams_opened.clone()),
            Box::new(metrics.events_published.clone()),
            Box::new(metrics.events_delivered.clone()),
            Box::new(metrics.events_replayed.clone()),
            Box::new(metrics.heartbeats_sent.clone()),
            Box::new(metrics.resets_sent.clone()),
            Box::new(metrics.subscribers_dropped.clone()),
            Box::new(metrics.history_len.clone()),
            Box::new(metrics.requests_refused.clone()),
            Box::new(metrics.auth_failures.clone()),
            Box::new(metrics.error_responses.clone()),
            Box::new(metrics.storage_available.clone()),
            Box::new(metrics.storage_errors.clone()),
            Box::new(metrics.storage_commit_seconds.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("each metric is registered once");
        }
        // Labelled series appear only once used; create the known ones up front
        // so dashboards and alerts see zeros rather than gaps.
        for reason in ["lagged", "expired", "foreign_epoch", "invalid_id"] {
            metrics.resets_sent.with_label_values(&[reason]);
        }
        metrics.subscribers_dropped.with_label_values(&["lagged"]);
        for reason in [
            "max_streams",
            "max_streams_per_ip",
            "publish_rate",
            "login_rate",
            "storage_unavailable",
            "auth_failures",
        ] {
            metrics.requests_refused.with_label_values(&[reason]);
        }
        for credential in ["publish_token", "viewer_token", "login"] {
            metrics.auth_failures.with_label_values(&[credential]);
        }
        metrics
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "could not encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
