//! `GET /metrics`: Prometheus text format.

use actix_web::{web, HttpResponse};

use crate::hub::Hub;

pub async fn metrics(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(hub.metrics().render())
}
