//! `GET /healthz` (the process is alive) and `GET /readyz` (send viewers here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{web, HttpResponse};

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

pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.is_ready() {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "shutting_down",
            "message": "this instance is shutting down; connect to another",
        }))
    }
}
