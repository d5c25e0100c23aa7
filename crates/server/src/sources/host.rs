//! Live metrics of the machine the server runs on, sampled on a fixed interval.

use std::time::{Duration, Instant};

use protocol::{
    DashboardSpec, Gauge, List, ListRow, Number, Point, Series, SeriesLine, Update, WidgetId,
    WidgetValue,
};
use sysinfo::{Disks, Networks, System};
use tokio::task::JoinHandle;

use crate::hub::unix_ms;
use crate::log::{AppendError, Log};
use crate::publish::Change;

/// The built-in `host` dashboard: every widget this source publishes.
pub fn dashboard() -> DashboardSpec {
    let mut dashboards = crate::config_file::parse_dashboards(include_str!("host.toml"))
        .expect("host.toml is valid (checked by a test)");
    dashboards.remove(0)
}

/// The CPU and network charts show this much history.
const CHART_SPAN: Duration = Duration::from_secs(5 * 60);

/// Samples every `interval` and publishes the host widgets until the hub's
/// process ends.
pub fn spawn(log: Log, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sampler = match HostSampler::new(interval) {
            Ok(sampler) => sampler,
            Err(error) => {
                tracing::warn!(%error, "host metrics unavailable on this system");
                return;
            }
        };
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            // Reading /proc and statfs can block (a hung network mount), so it
            // runs off the async workers.
            let sampled = tokio::task::spawn_blocking(move || {
                let updates = sampler.sample(unix_ms());
                (sampler, updates)
            })
            .await;
            let updates;
            (sampler, updates) = match sampled {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(%error, "host sampler failed; host metrics stop");
                    return;
                }
            };
            // One append per sample: one commit, and viewers see the whole
            // sample change at once.
            match log
                .publish_all(updates.into_iter().map(Change::from).collect())
                .await
            {
                Ok(_) => {}
                // Already logged by the log, once, when storage started failing.
                Err(AppendError::Unavailable(_)) => {}
                Err(error) => tracing::warn!(%error, "could not publish the host metrics"),
            }
        }
    })
}

struct HostSampler {
    system: System,
    networks: Networks,
    disks: Disks,
    last_network_sample: Instant,
    /// Points kept per chart line: `CHART_SPAN` at the sample interval.
    chart_window: usize,
}

impl HostSampler {
    fn new(interval: Duration) -> Result<HostSampler, sysinfo::Error> {
        let mut system = System::new()?;
        // CPU usage is a difference between two readings: take the first now.
        system.refresh_cpu_usage();
        let chart_window = (CHART_SPAN.as_millis() / interval.as_millis().max(1)).clamp(2, 3600);
        Ok(HostSampler {
            system,
            networks: Networks::new_with_refreshed_list()?,
            disks: Disks::new_with_refreshed_list()?,
            last_network_sample: Instant::now(),
            chart_window: chart_window as usize,
        })
    }

    /// One reading of every host widget, in display order.
    fn sample(&mut self, now: i64) -> Vec<Update> {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.networks.refresh(true);
        self.disks.refresh(true);

        let elapsed = self.last_network_sample.elapsed().as_secs_f64().max(1e-3);
        self.last_network_sample = Instant::now();
        let (received, transmitted) = self
            .networks
            .iter()
            .filter(|(name, _)| name.to_str() != Some("lo"))
            .fold((0u64, 0u64), |(rx, tx), (_, data)| {
                (rx + data.received(), tx + data.transmitted())
            });
        let rx_rate = received as f64 / elapsed;
        let tx_rate = transmitted as f64 / elapsed;

        let cpu = finite(self.system.global_cpu_usage() as f64);
        let mut widgets = vec![
            (
                "host.cpu",
                "CPU",
                WidgetValue::Gauge(Gauge {
                    value: cpu,
                    min: 0.0,
                    max: 100.0,
                    unit: Some("%".into()),
                    thresholds: None,
                }),
            ),
            (
                "host.memory",
                "Memory",
                WidgetValue::Gauge(Gauge {
                    value: self.system.used_memory() as f64,
                    min: 0.0,
                    max: self.system.total_memory() as f64,
                    unit: Some("B".into()),
                    thresholds: None,
                }),
            ),
        ];
        if let Some(disk) = self
            .disks
            .iter()
            .find(|d| d.mount_point() == std::path::Path::new("/"))
        {
            let total = disk.total_space();
            widgets.push((
                "host.disk",
                "Disk /",
                WidgetValue::Gauge(Gauge {
                    value: total.saturating_sub(disk.available_space()) as f64,
                    min: 0.0,
                    max: total as f64,
                    unit: Some("B".into()),
                    thresholds: None,
                }),
            ));
        }
        if let Ok(load) = System::load_average() {
            let row = |label: &str, value: f64| ListRow {
                label: label.into(),
                value: format!("{value:.2}"),
            };
            widgets.push((
                "host.load",
                "Load average",
                WidgetValue::List(List {
                    rows: vec![
                        row("1 min", load.one),
                        row("5 min", load.five),
                        row("15 min", load.fifteen),
                    ],
                }),
            ));
        }
        let cores = self
            .system
            .cpus()
            .iter()
            .enumerate()
            .map(|(i, core)| ListRow {
                label: format!("cpu{i}"),
                value: format!("{:.1} %", finite(core.usage() as f64)),
            })
            .collect();
        widgets.push((
            "host.cpu_cores",
            "CPU cores",
            WidgetValue::List(List { rows: cores }),
        ));
        let rate = |value: f64| {
            WidgetValue::Number(Number {
                value: finite(value),
                unit: Some("B/s".into()),
                ..Number::default()
            })
        };
        widgets.push(("host.net_rx", "Network in", rate(rx_rate)));
        widgets.push(("host.net_tx", "Network out", rate(tx_rate)));
        if let Ok(uptime) = System::uptime() {
            widgets.push((
                "host.uptime",
                "Uptime",
                WidgetValue::Number(Number {
                    value: uptime as f64,
                    unit: Some("s".into()),
                    ..Number::default()
                }),
            ));
        }
        let line = |name: &str, value: f64| SeriesLine {
            name: name.into(),
            points: vec![Point(now, finite(value))],
        };
        widgets.push((
            "host.cpu_history",
            "CPU, last 5 min",
            WidgetValue::Series(Series {
                lines: vec![line("cpu", cpu)],
                window: self.chart_window,
                unit: Some("%".into()),
            }),
        ));
        widgets.push((
            "host.net_history",
            "Network, last 5 min",
            WidgetValue::Series(Series {
                lines: vec![line("rx", rx_rate), line("tx", tx_rate)],
                window: self.chart_window,
                unit: Some("B/s".into()),
            }),
        ));

        widgets
            .into_iter()
            .filter_map(|(id, title, value)| {
                let id = WidgetId::parse(id).ok()?;
                Some(Update {
                    id,
                    title: Some(title.into()),
                    value,
                    at: now,
                    expect_every: None,
                })
            })
            .collect()
    }
}

/// sysinfo reports NaN on some systems before it has two readings.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_dashboard_declares_every_widget_it_publishes_with_its_kind() {
        let dashboard = dashboard();
        let mut sampler = HostSampler::new(Duration::from_secs(1)).expect("sysinfo works here");
        let updates = sampler.sample(unix_ms());
        assert!(updates.len() >= 8, "{updates:?}");
        for update in updates {
            let spec = dashboard
                .widgets
                .iter()
                .find(|w| w.id == update.id)
                .unwrap_or_else(|| panic!("{} is not declared in host.toml", update.id));
            assert_eq!(spec.kind, update.value.kind(), "{}", update.id);
        }
    }
}
