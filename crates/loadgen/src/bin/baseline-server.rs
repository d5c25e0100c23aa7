//! The "straightforward actix SSE server" of shared/notes/perf-baseline.md,
//! rebuilt so the load generator can measure it and Pulseboard side by side,
//! with the same client on the same machine. Not a product: a reference.
//!
//! As the notes describe it: one `tokio::sync::mpsc::channel(64)` per
//! subscriber, fed with `try_send` by the publish handler (a full queue drops
//! the event), `Sse::from_infallible_receiver(rx).with_keep_alive(30 s)`, the
//! subscribers' senders in a `Vec` walked on every publish, actix defaults
//! (half-closed connections allowed), 2 workers. It speaks just enough of
//! Pulseboard's protocol for the load generator: `init` first, then `update`
//! events with `<epoch>-<seq>` ids.
//!
//!     baseline-server --addr 127.0.0.1:8090

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer, Responder};
use actix_web_lab::sse::{self, Sse};
use tokio::sync::mpsc;

const EPOCH: &str = "baseline";

struct Shared {
    subscribers: Mutex<Vec<mpsc::Sender<sse::Event>>>,
    last_seq: AtomicU64,
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

async fn events(shared: web::Data<Shared>) -> impl Responder {
    let (tx, rx) = mpsc::channel(64);
    let seq = shared.last_seq.load(Ordering::SeqCst);
    let init = sse::Data::new(format!(
        r#"{{"protocol_version":1,"epoch":"{EPOCH}","last_event_id":null,"heartbeat_ms":30000,"snapshot":{{"widgets":[]}}}}"#
    ))
    .event("init")
    .id(format!("{EPOCH}-{seq}"));
    let _ = tx.try_send(init.into());
    shared
        .subscribers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(tx);
    Sse::from_infallible_receiver(rx).with_keep_alive(Duration::from_secs(30))
}

async fn publish(
    shared: web::Data<Shared>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    // Ids race between workers here, which is what the notes measured.
    let seq = shared.last_seq.fetch_add(1, Ordering::SeqCst) + 1;
    let data = serde_json::json!({ "id": *id, "value": body.into_inner(), "at": unix_ms() as u64 });
    let event: sse::Event = sse::Data::new(data.to_string())
        .event("update")
        .id(format!("{EPOCH}-{seq}"))
        .into();
    let mut subscribers = shared.subscribers.lock().unwrap_or_else(|e| e.into_inner());
    // A full queue drops the event for that subscriber; a closed one is removed.
    subscribers.retain(|tx| {
        !matches!(
            tx.try_send(event.clone()),
            Err(mpsc::error::TrySendError::Closed(_))
        )
    });
    HttpResponse::Ok()
        .json(serde_json::json!({ "widget": *id, "event_id": format!("{EPOCH}-{seq}") }))
}

async fn metrics(shared: web::Data<Shared>) -> HttpResponse {
    let mut subscribers = shared.subscribers.lock().unwrap_or_else(|e| e.into_inner());
    subscribers.retain(|tx| !tx.is_closed());
    HttpResponse::Ok().body(format!("pulseboard_open_streams {}\n", subscribers.len()))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .skip_while(|arg| arg != "--addr")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let shared = web::Data::new(Shared {
        subscribers: Mutex::new(Vec::new()),
        last_seq: AtomicU64::new(0),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/api/events", web::get().to(events))
            .route("/api/widgets/{id}", web::post().to(publish))
            .route("/readyz", web::get().to(HttpResponse::Ok))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(2)
    .bind(&addr)?;
    for bound in server.addrs() {
        println!("Pulseboard listening on http://{bound}");
    }
    server.run().await
}
