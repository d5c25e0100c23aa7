//! `GET /healthz` (the process is alive) and `GET /readyz` (send viewers and
//! publishers here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{web, HttpResponse};

use crate::log::{Health, Log};

/// Whether this instance should get new streams: true from start until
/// shutdown begins, so a load balancer stops routing viewers to an instance
/// that is about to close their streams.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// 200 while this instance takes streams and publishes; 503 once shutdown
/// began, or while its storage fails (publishes are refused then).
pub async fn readyz(readiness: web::Data<Readiness>, log: web::Data<Log>) -> HttpResponse {
    if !readiness.is_ready() {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "shutting_down",
            "message": "this instance is shutting down; connect to another",
        }));
    }
    match log.health() {
        Health::Available => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Health::Unavailable(problem) => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "status": "storage_unavailable",
                "message": format!("publishes are refused: {problem}"),
            }))
        }
    }
}
