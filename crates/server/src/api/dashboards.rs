//! `GET /api/dashboards`: the declared dashboards, the default one first.

use actix_web::{web, HttpResponse};
use protocol::DashboardSpec;
use serde::Serialize;

use crate::hub::Hub;

#[derive(Serialize)]
pub struct DashboardList<'a> {
    pub dashboards: &'a [DashboardSpec],
}

pub async fn list(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok().json(DashboardList {
        dashboards: hub.dashboards().specs(),
    })
}
