//! The built SPA, served at `/`; unknown paths get `index.html` so client-side
//! routes survive a reload.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::body::MessageBody;
use actix_web::dev::{fn_service, HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// Ends the connection after each static file. actix keeps a connection's
/// write buffer at its largest size (up to 128 KiB) for as long as the
/// connection lives, and browsers open the EventSource on an idle keep-alive
/// connection: the one that just sent the 350 KiB wasm bundle, say. The stream
/// then pinned ~85 KiB instead of ~12 KiB per viewer, for weeks. A page load
/// costs a few more TCP handshakes instead, once.
pub async fn close_connection(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    response
        .response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(response)
}

/// Warns once, at start, when the SPA has not been built, instead of failing
/// every request silently.
pub fn check(dir: &Path) {
    if !dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "no SPA found (index.html missing): the API works, `/` answers 404 until it is built"
        );
    }
}

pub fn service(dir: &Path) -> impl HttpServiceFactory {
    let index = dir.join("index.html");
    if !dir.is_dir() {
        return web::scope("").default_service(web::to(move || {
            let index = index.clone();
            async move { not_built(&index) }
        }));
    }
    web::scope("").service(files(dir, index))
}

fn files(dir: &Path, index: PathBuf) -> Files {
    Files::new("/", dir)
        .index_file("index.html")
        .default_handler(fn_service(move |req: ServiceRequest| {
            let index = index.clone();
            async move {
                let (req, _) = req.into_parts();
                let response = match spa_entry(&index, &req).await {
                    Some(response) => response,
                    None => not_built(&index),
                };
                Ok(ServiceResponse::new(req, response))
            }
        }))
}

async fn spa_entry(index: &Path, req: &actix_web::HttpRequest) -> Option<HttpResponse> {
    let path: PathBuf = index.to_owned();
    // Opening a file is blocking I/O: keep it off the async worker.
    let file = actix_web::web::block(move || NamedFile::open(path))
        .await
        .ok()?
        .ok()?;
    Some(file.into_response(req))
}

fn not_built(index: &Path) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found",
        "message": format!(
            "no SPA at {}: build it with `trunk build --release` in frontend/ or set --static-dir",
            index.display()
        ),
    }))
}
