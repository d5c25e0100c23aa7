//! `GET /api/events`: the one SSE stream per tab.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpResponse, Responder};
use actix_web_lab::sse::{self, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::hub::{Hub, Published, Subscription};
use crate::metrics::Metrics;

/// How long a browser waits before reconnecting on its own after a drop.
const RETRY: Duration = Duration::from_secs(2);

pub async fn stream_events(hub: web::Data<Hub>, req: actix_web::HttpRequest) -> HttpResponse {
    let subscription = match hub.subscribe() {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::error!(%error, "could not build the init event");
            return HttpResponse::InternalServerError().json(serde_json::json!({
                "error": "internal",
                "message": "could not build the dashboard snapshot",
            }));
        }
    };
    let events = subscriber_events(hub.get_ref().clone(), subscription);
    Sse::from_stream(events)
        .with_retry_duration(RETRY)
        .customize()
        // Rule 3 of docs/design: `no-transform` keeps CDNs from recompressing or
        // buffering; `X-Accel-Buffering: no` turns off nginx's proxy buffering.
        .insert_header(CacheControl(vec![
            CacheDirective::NoCache,
            CacheDirective::Extension("no-transform".into(), None),
        ]))
        .insert_header(("X-Accel-Buffering", "no"))
        .respond_to(&req)
        .map_into_boxed_body()
}

/// One subscriber's events: its `init`, then everything broadcast after it. The
/// stream (and with it the receiver and the open-stream count) is dropped by
/// actix as soon as the client's connection is found closed.
fn subscriber_events(
    hub: Hub,
    subscription: Subscription,
) -> impl Stream<Item = Result<sse::Event, Infallible>> {
    let state = Subscriber {
        _open: OpenStream::new(hub.metrics()),
        hub,
        receiver: subscription.receiver,
        next: Some(subscription.first),
        finished: false,
    };
    stream::unfold(state, |mut state| async move {
        let event = state.next_event().await?;
        Some((Ok(to_sse(&event)), state))
    })
}

struct Subscriber {
    hub: Hub,
    receiver: broadcast::Receiver<Arc<Published>>,
    /// An event to send before reading the receiver again (`init` or `reset`).
    next: Option<Arc<Published>>,
    finished: bool,
    /// Held only for its `Drop`: the stream counts as open while this lives.
    _open: OpenStream,
}

impl Subscriber {
    async fn next_event(&mut self) -> Option<Arc<Published>> {
        if self.finished {
            return None;
        }
        if let Some(event) = self.next.take() {
            return Some(event);
        }
        match self.receiver.recv().await {
            Ok(event) => {
                // After `shutdown` the stream ends, so the browser reconnects now
                // (to another instance) instead of waiting for a timeout.
                self.finished = event.name == "shutdown";
                Some(event)
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "subscriber lagged; sending a reset");
                match self.hub.resubscribe("lagged") {
                    Ok(Subscription { first, receiver }) => {
                        self.receiver = receiver;
                        Some(first)
                    }
                    Err(error) => {
                        tracing::error!(%error, "could not build a reset; closing stream");
                        None
                    }
                }
            }
            Err(RecvError::Closed) => None,
        }
    }
}

fn to_sse(event: &Published) -> sse::Event {
    // Cloning a ByteString bumps a reference count: the JSON is shared.
    let mut data = sse::Data::new(event.data.clone()).event(event.name);
    if let Some(id) = &event.id {
        data.set_id(id.clone());
    }
    sse::Event::Data(data)
}

/// Counts a stream as open for exactly as long as it lives.
struct OpenStream {
    metrics: Metrics,
}

impl OpenStream {
    fn new(metrics: &Metrics) -> OpenStream {
        metrics.open_streams.inc();
        metrics.streams_opened.inc();
        OpenStream {
            metrics: metrics.clone(),
        }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.metrics.open_streams.dec();
    }
}
