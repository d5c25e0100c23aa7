//! `GET /api/events`: the one SSE stream per tab.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use actix_web_lab::sse::{self, Sse};
use futures_util::stream::{self, Stream};
use protocol::WidgetId;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::small_chunks::SmallChunks;
use crate::access::viewer::{unix_now, Viewer};
use crate::access::{TrustedProxies, ViewerAccess};
use crate::dashboards::Filter;
use crate::error::ApiError;
use crate::frame::{EventName, Frame};
use crate::hub::{Hub, ResetReason, Subscription};
use crate::limits::{StreamSlot, StreamSlots};
use crate::log::SessionRecords;

/// How long a browser waits before reconnecting on its own after a drop.
const RETRY: Duration = Duration::from_secs(2);

/// Where a reconnecting client left off: the browser's own reconnects send the
/// `Last-Event-ID` header; the SPA's reconnects after a fatal close cannot set
/// headers, so they pass `?last_event_id=`. The header wins: a browser
/// reconnecting an EventSource opened with a query sends a newer header.
fn resume_position(req: &HttpRequest, query: &StreamQuery) -> Option<String> {
    let header = req
        .headers()
        .get("last-event-id")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
        .filter(|id| !id.is_empty());
    header.or_else(|| {
        query
            .last_event_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    })
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    last_event_id: Option<String>,
    /// Only this dashboard's widgets; empty for the default dashboard.
    dashboard: Option<String>,
    /// Only these widgets, comma-separated.
    topics: Option<String>,
    /// Only these dashboards' widgets, comma-separated (a wall screen's rotation).
    dashboards: Option<String>,
    /// Only the widgets of this playlist's dashboards.
    playlist: Option<String>,
    /// The SPA build the viewer runs: one other than the build served
    /// resumes with a `reset` (which names the build) instead of a replay.
    build: Option<String>,
    /// Present (any value): consecutive updates that are ready together go
    /// out as one `updates` event (see [`group_updates`]).
    grouped: Option<String>,
}

/// The most JSON one `updates` event gathers (a single bigger update goes
/// out alone). Each grouped stream builds its own copy of the group, where
/// a lone event is shared by every stream, and a slow viewer holds it until
/// it has read it: bounded like this, ten thousand such viewers hold at most
/// 160 MiB, and a batch of 200 numbers (about 20 KiB) is two events.
const MAX_GROUP_BYTES: usize = 16 * 1024;

/// What the query narrows the stream to.
fn filter(hub: &Hub, query: &StreamQuery) -> Result<Filter, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_filter", message);
    let dashboards = hub.dashboards();
    let given = [
        query.dashboard.as_ref(),
        query.topics.as_ref(),
        query.dashboards.as_ref(),
        query.playlist.as_ref(),
    ];
    if given.iter().flatten().count() > 1 {
        return Err(bad(
            "use one of `dashboard`, `dashboards`, `playlist` and `topics`".into(),
        ));
    }
    if let Some(name) = &query.dashboard {
        return Ok(dashboards.filter_for(name.trim()));
    }
    if let Some(names) = &query.dashboards {
        return Ok(dashboards.filter_for_list(names));
    }
    if let Some(name) = &query.playlist {
        return Ok(dashboards.filter_for_playlist(name.trim()));
    }
    match &query.topics {
        None => Ok(Filter::All),
        Some(topics) => topics
            .split(',')
            .map(|id| WidgetId::parse(id.trim()).map_err(|e| bad(format!("`topics`: {e}"))))
            .collect::<Result<_, _>>()
            .map(Filter::Topics),
    }
}

/// The event stream (Server-Sent Events): `init` or `reset`, then every
/// change. Format: docs/protocol.md.
#[utoipa::path(get, path = "/api/events", tag = "stream",
    params(
        ("dashboard" = Option<String>, Query, description = "only this dashboard's widgets; empty for the default one"),
        ("topics" = Option<String>, Query, description = "only these widgets, comma-separated"),
        ("dashboards" = Option<String>, Query, description = "only these dashboards' widgets, comma-separated (a rotation on one stream)"),
        ("playlist" = Option<String>, Query, description = "only the widgets of this playlist's dashboards"),
        ("build" = Option<String>, Query, description = "the SPA build the viewer runs: another than the one served resumes with a `reset`"),
        ("last_event_id" = Option<String>, Query, description = "resume after this event (the `Last-Event-ID` header wins)"),
        ("grouped" = Option<String>, Query, description = "present: consecutive updates that are ready together come as one `updates` event (a JSON array, with the last one's id)"),
    ),
    responses(
        (status = 200, description = "an endless `text/event-stream`", content_type = "text/event-stream", body = String),
        (status = 400, description = "invalid_filter", body = crate::error::ErrorBody),
        (status = 401, description = "unauthorized: viewer tokens are set and this request has no session", body = crate::error::ErrorBody),
        (status = 429, description = "rate_limited: too many failed token checks from this address, with `Retry-After`", body = crate::error::ErrorBody),
        (status = 503, description = "too_many_streams, with `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn stream_events(
    hub: web::Data<Hub>,
    limits: web::Data<StreamLimits>,
    viewers: web::Data<ViewerAccess>,
    slots: web::Data<StreamSlots>,
    proxies: web::Data<TrustedProxies>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // The stream is outside the middleware (see startup.rs), so its refusals
    // are reported to the refusal log here.
    open_stream(hub, limits, viewers, slots, proxies, req.clone())
        .await
        .inspect_err(|error| crate::refusal_log::record(&req, error))
}

async fn open_stream(
    hub: web::Data<Hub>,
    limits: web::Data<StreamLimits>,
    viewers: web::Data<ViewerAccess>,
    slots: web::Data<StreamSlots>,
    proxies: web::Data<TrustedProxies>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewers.check(&req)?;
    let query = web::Query::<StreamQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_filter", e.to_string()))?
        .into_inner();
    let filter = filter(&hub, &query)?;
    let slot = slots.acquire(proxies.client_ip(&req)).map_err(|full| {
        hub.metrics()
            .requests_refused
            .with_label_values(&[full.as_str()])
            .inc();
        full.into_error()
    })?;
    let resume = resume_position(&req, &query);
    if let Some(raw) = resume.as_deref() {
        hub.catch_up(raw, limits.catch_up).await;
    }
    let subscription = hub
        .subscribe(
            resume.as_deref(),
            query.build.as_deref().map(str::trim),
            &filter,
        )
        .map_err(|error| {
            tracing::error!(%error, "could not build the first event");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not build the dashboard snapshot",
            )
        })?;
    let mut deadline = limits
        .max_stream_age
        .map(|age| Instant::now() + jittered(age));
    let session = match viewer {
        Viewer::Session(session) => {
            // The stream ends when its session does: the browser's reconnect
            // is then refused, and the SPA shows its login form.
            let left = Duration::from_secs(session.expires.saturating_sub(unix_now()));
            let expiry = Instant::now() + left;
            deadline = Some(deadline.map_or(expiry, |d| d.min(expiry)));
            Some(SessionWatch::new(session.id, viewers.sessions().clone()))
        }
        Viewer::Open | Viewer::Token => None,
    };
    let events = subscriber_events(
        hub.get_ref().clone(),
        subscription,
        filter,
        query.grouped.is_some(),
        deadline,
        session,
        slot,
    );
    Ok(Sse::from_stream(events)
        .with_retry_duration(RETRY)
        .customize()
        // Rule 3 of docs/design: `no-transform` keeps CDNs from recompressing or
        // buffering; `X-Accel-Buffering: no` turns off nginx's proxy buffering.
        .insert_header(CacheControl(vec![
            CacheDirective::NoCache,
            CacheDirective::Extension("no-transform".into(), None),
        ]))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header((
            actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
            crate::security::NOSNIFF,
        ))
        .respond_to(&req)
        .map_body(|_, body| SmallChunks::new(body))
        .map_into_boxed_body())
}

/// Per-stream settings from the config.
#[derive(Clone, Copy)]
pub struct StreamLimits {
    pub max_stream_age: Option<Duration>,
    /// How long a resume from an event this instance has not read yet waits
    /// for it (a shared log: another instance took it a moment ago) before
    /// it counts as an id never handed out. Zero for a local log.
    pub catch_up: Duration,
}

/// The session a stream was opened with, watched for its revocation.
struct SessionWatch {
    id: Box<str>,
    records: Arc<SessionRecords>,
    /// The revocation generation last looked at: the set is only searched
    /// when it changed, not on every event.
    seen: u64,
}

impl SessionWatch {
    fn new(id: String, records: Arc<SessionRecords>) -> SessionWatch {
        SessionWatch {
            seen: records.generation(),
            id: id.into(),
            records,
        }
    }

    fn revoked(&mut self) -> bool {
        let generation = self.records.generation();
        if generation == self.seen {
            return false;
        }
        self.seen = generation;
        self.records.is_revoked(&self.id)
    }
}

/// Between 90 % and 100 % of `age`, so streams opened together (after a deploy)
/// do not all end, and reconnect, together.
fn jittered(age: Duration) -> Duration {
    age.mul_f64(rand::random_range(0.9..=1.0))
}

/// One subscriber's events: its backlog (`init`, `reset` or replayed events),
/// then everything broadcast after it. The stream (and with it the receiver and
/// the open-stream count) is dropped by actix as soon as the client's
/// connection is found closed.
fn subscriber_events(
    hub: Hub,
    subscription: Subscription,
    filter: Filter,
    grouped: bool,
    deadline: Option<Instant>,
    session: Option<SessionWatch>,
    slot: StreamSlot,
) -> impl Stream<Item = Result<sse::Event, Infallible>> {
    let metrics = hub.metrics();
    metrics.open_streams.inc();
    metrics.streams_opened.inc();
    tracing::debug!("stream opened");
    let state = Subscriber {
        opened: Instant::now(),
        hub,
        backlog: subscription.backlog,
        receiver: subscription.receiver,
        held: None,
        filter,
        deadline,
        session,
        finished: false,
        uncounted: 0,
        _slot: slot,
    };
    stream::unfold(state, move |mut state| async move {
        let event = state.next_event().await?;
        if grouped && event.name == EventName::Update {
            let group = state.ready_updates(event);
            state.uncounted += group.len() as u64;
            return Some((Ok(group_updates(&group)), state));
        }
        state.uncounted += 1;
        Some((Ok(to_sse(&event)), state))
    })
}

struct Subscriber {
    hub: Hub,
    /// Sent before reading the receiver again.
    backlog: std::vec::IntoIter<Arc<Frame>>,
    receiver: broadcast::Receiver<Arc<Frame>>,
    /// What was read while gathering updates but is not one: sent next.
    held: Option<Result<Arc<Frame>, RecvError>>,
    /// The widgets this stream carries.
    filter: Filter,
    /// When the stream should end (`--max-stream-age`, or when its session
    /// expires).
    deadline: Option<Instant>,
    /// The viewer session it was opened with, if any: its revocation ends it.
    session: Option<SessionWatch>,
    finished: bool,
    /// Deliveries not yet added to `events_delivered_total`: counted in bulk
    /// whenever the stream catches up, rather than contending for one shared
    /// counter on every delivery of every stream.
    uncounted: u64,
    /// The stream counts as open (`open_streams`) from this moment until the
    /// subscriber is dropped.
    opened: Instant,
    /// Its place under `--max-streams` and `--max-streams-per-ip`, given back
    /// when the stream ends.
    _slot: StreamSlot,
}

impl Subscriber {
    /// The next event this stream carries; `None` when it ends.
    async fn next_event(&mut self) -> Option<Arc<Frame>> {
        loop {
            let event = self.next_any().await?;
            if self.hub.admits(&self.filter, &event) {
                return Some(event);
            }
        }
    }

    /// `first`, then the updates for this stream that are ready right after
    /// it (in its backlog or its receiver), up to [`MAX_GROUP_BYTES`].
    /// Whatever else is read is held, and sent next. The deadline and the
    /// session are checked at the next event that is waited for, not for
    /// each of these.
    fn ready_updates(&mut self, first: Arc<Frame>) -> Vec<Arc<Frame>> {
        let mut bytes = first.data.len();
        let mut group = vec![first];
        loop {
            let next = match self.next_from_backlog() {
                Some(event) => Ok(event),
                None => match self.try_receive() {
                    Some(next) => next,
                    None => break,
                },
            };
            match next {
                Ok(event) if event.name == EventName::Update => {
                    if !self.hub.admits(&self.filter, &event) {
                        continue;
                    }
                    bytes += event.data.len() + 1;
                    if bytes > MAX_GROUP_BYTES {
                        self.held = Some(Ok(event));
                        break;
                    }
                    group.push(event);
                }
                other => {
                    self.held = Some(other);
                    break;
                }
            }
        }
        group
    }

    /// What the receiver has without waiting: `None` when it is empty.
    fn try_receive(&mut self) -> Option<Result<Arc<Frame>, RecvError>> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Lagged(missed)) => Some(Err(RecvError::Lagged(missed))),
            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        }
    }

    fn next_from_backlog(&mut self) -> Option<Arc<Frame>> {
        let event = self.backlog.next()?;
        if self.backlog.len() == 0 {
            // Free the drained buffer: a replay can leave a big one behind.
            self.backlog = Vec::new().into_iter();
        }
        Some(event)
    }

    /// The next event for anyone.
    async fn next_any(&mut self) -> Option<Arc<Frame>> {
        if self.finished {
            return None;
        }
        // Held back while gathering updates: it came before the rest.
        let next = if let Some(held) = self.held.take() {
            held
        } else if let Some(event) = self.next_from_backlog() {
            return Some(event);
        } else if let Some(next) = self.try_receive() {
            next
        } else {
            self.count_deliveries();
            self.receiver.recv().await
        };
        match next {
            Ok(event) if event.name == EventName::Shutdown => {
                // The stream ends after it, so the browser reconnects now (to
                // another instance) instead of waiting for a timeout.
                self.finished = true;
                Some(event)
            }
            Ok(event) if event.name == EventName::NewEpoch => {
                self.resubscribe(ResetReason::NewEpoch)
            }
            Ok(event) => {
                let expired = self
                    .deadline
                    .is_some_and(|deadline| Instant::now() >= deadline);
                let revoked = self.session.as_mut().is_some_and(SessionWatch::revoked);
                if expired || revoked {
                    // Checked when an event is due (a heartbeat at the latest;
                    // a revocation sends one at once), which needs no timer per
                    // stream. The event is not sent: it is in the history, so
                    // the client's resume replays it.
                    return None;
                }
                Some(event)
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "subscriber lagged; sending a reset");
                self.resubscribe(ResetReason::Lagged)
            }
            Err(RecvError::Closed) => None,
        }
    }

    /// Starts over from a `reset` of the current state.
    fn resubscribe(&mut self, reason: ResetReason) -> Option<Arc<Frame>> {
        match self.hub.resync(reason, &self.filter) {
            Ok(Subscription { backlog, receiver }) => {
                self.backlog = backlog;
                self.receiver = receiver;
                self.backlog.next()
            }
            Err(error) => {
                tracing::error!(%error, "could not build a reset; closing stream");
                None
            }
        }
    }
}

impl Subscriber {
    fn count_deliveries(&mut self) {
        if self.uncounted > 0 {
            let metrics = self.hub.metrics();
            metrics.events_delivered.inc_by(self.uncounted);
            self.uncounted = 0;
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.count_deliveries();
        // A stream that ends while hopelessly behind was a stuck viewer, cut off
        // (by the kernel's TCP_USER_TIMEOUT or the client giving up) before it
        // could drain and be reset.
        if self.hub.has_lagged(&self.receiver) {
            self.hub
                .metrics()
                .subscribers_dropped
                .with_label_values(&[ResetReason::Lagged.as_str()])
                .inc();
        }
        // Last: whoever sees the stream closed also sees its counts.
        self.hub.metrics().open_streams.dec();
        tracing::debug!(after = ?self.opened.elapsed(), "stream closed");
    }
}

/// Updates as one `updates` event: their JSON, already encoded, in an array,
/// with the last one's id (a viewer that resumes from it has them all). A
/// lone update goes out as it is. One event instead of one per widget: a
/// browser dispatches, and the SPA decodes, each event on its own, which was
/// a third of what a 200-widget batch cost a viewer's page.
fn group_updates(group: &[Arc<Frame>]) -> sse::Event {
    if let [update] = group {
        return to_sse(update);
    }
    let mut json = String::with_capacity(group.iter().map(|u| u.data.len() + 1).sum::<usize>() + 1);
    json.push('[');
    for (i, update) in group.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&update.data);
    }
    json.push(']');
    let mut data = sse::Data::new(json).event(EventName::Updates.as_str());
    if let Some(id) = group.last().and_then(|update| update.id.clone()) {
        data.set_id(id);
    }
    sse::Event::Data(data)
}

fn to_sse(event: &Frame) -> sse::Event {
    // Cloning a ByteString bumps a reference count: the JSON is shared.
    let mut data = sse::Data::new(event.data.clone()).event(event.name.as_str());
    if let Some(id) = &event.id {
        data.set_id(id.clone());
    }
    sse::Event::Data(data)
}
