//! A real server on port 0 and a real SSE client for black-box tests.

#![allow(dead_code)] // each test binary uses a different part of this

use std::pin::Pin;
use std::time::{Duration, Instant};

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use pulseboard::hub::Hub;
use pulseboard::{Application, Config};
use tokio::sync::oneshot;

/// Generous bound for anything that should happen "soon": CI machines are slow
/// and busy, and a correct server is far faster than this.
pub const SOON: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub base: String,
    pub hub: Hub,
    stop: Option<oneshot::Sender<()>>,
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Test defaults: an ephemeral port, no host metrics (so streams carry only what
/// the test publishes) and the static dir of the caller's choosing.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.addr = "127.0.0.1:0".into();
    config.host_metrics = false;
    config.workers = Some(2);
    config.static_dir = std::env::temp_dir().join("pulseboard-no-spa");
    config
}

pub async fn spawn(config: Config) -> TestServer {
    let (stop, stopped) = oneshot::channel::<()>();
    let app = Application::build(config, async move {
        let _ = stopped.await;
    })
    .expect("server builds");
    let base = format!("http://{}", app.addr());
    let hub = app.hub();
    let stopped = tokio::spawn(app.run_until_stopped());
    TestServer {
        base,
        hub,
        stop: Some(stop),
        stopped,
    }
}

impl TestServer {
    /// Asks the server to shut down, as SIGTERM would.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{}", self.base, path))
            .await
            .expect("request succeeds")
    }

    /// The value of a Prometheus metric without labels.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .get("/metrics")
            .await
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(' ')?;
                (key == name).then(|| value.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
    }

    /// Polls a metric until it has `expected`, or fails after `SOON`.
    pub async fn wait_for_metric(&self, name: &str, expected: f64) {
        let deadline = Instant::now() + SOON;
        loop {
            let value = self.metric(name).await;
            if value == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed {value}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn connect(&self) -> SseClient {
        SseClient::connect(&format!("{}/api/events", self.base)).await
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

/// An SSE client over a real HTTP connection, parsed by the `eventsource-stream`
/// crate (not by the code under test).
pub struct SseClient {
    pub headers: reqwest::header::HeaderMap,
    events: EventStream,
}

impl SseClient {
    pub async fn connect(url: &str) -> SseClient {
        let response = reqwest::Client::new()
            .get(url)
            .header("Accept", "text/event-stream")
            .header("Accept-Encoding", "gzip, deflate, br")
            .send()
            .await
            .expect("stream request succeeds");
        assert_eq!(response.status(), 200, "stream status");
        let headers = response.headers().clone();
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|e| e.map_err(|e| e.to_string()));
        SseClient {
            headers,
            events: Box::pin(events),
        }
    }

    /// The next event, or `None` if the stream ended. Fails after `SOON`.
    pub async fn next(&mut self) -> Option<Event> {
        match tokio::time::timeout(SOON, self.events.next()).await {
            Ok(Some(Ok(event))) => Some(event),
            Ok(Some(Err(error))) => panic!("stream error: {error}"),
            Ok(None) => None,
            Err(_) => panic!("no event within {SOON:?}"),
        }
    }

    /// The next event with this name, skipping others.
    pub async fn next_named(&mut self, name: &str) -> Event {
        let deadline = Instant::now() + SOON;
        loop {
            assert!(Instant::now() < deadline, "no {name} event within {SOON:?}");
            let event = self.next().await.expect("stream ended");
            if event.event == name {
                return event;
            }
        }
    }

    /// The next event that is not a heartbeat.
    pub async fn next_change(&mut self) -> Event {
        loop {
            let event = self.next().await.expect("stream ended");
            if event.event != "heartbeat" {
                return event;
            }
        }
    }
}

pub fn decode(event: &Event) -> protocol::ServerEvent {
    protocol::ServerEvent::decode(&event.event, &event.data)
        .unwrap_or_else(|e| panic!("undecodable {} event: {e}", event.event))
}

pub fn number_update(id: &str, value: f64) -> protocol::Update {
    protocol::Update {
        id: protocol::WidgetId::parse(id).expect("valid id"),
        title: None,
        value: protocol::WidgetValue::Number(protocol::Number {
            value,
            unit: None,
            previous: None,
        }),
        at: 1,
    }
}
