//! The SPA is served at `/`, with index.html for client routes, compressed.

mod common;

use common::{spawn, test_config, TestServer};

fn spa_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Pulseboard</title>",
    )
    .unwrap();
    let script = "console.log('pulseboard');\n".repeat(200);
    std::fs::write(dir.path().join("app.js"), script).unwrap();
    dir
}

/// A server whose static dir is a fresh fake SPA (kept alive by the TempDir).
async fn spawn_with_spa() -> (TestServer, tempfile::TempDir) {
    let dir = spa_dir();
    let mut config = test_config();
    config.static_dir = dir.path().to_owned();
    (spawn(config).await, dir)
}

#[actix_web::test]
async fn index_and_client_routes_serve_the_spa() {
    let (server, _dir) = spawn_with_spa().await;

    for path in ["/", "/d/host", "/some/deep/route"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert!(response.text().await.unwrap().contains("<title>Pulseboard"));
    }
}

#[actix_web::test]
async fn static_files_are_compressed_when_asked() {
    let (server, _dir) = spawn_with_spa().await;

    let response = reqwest::Client::new()
        .get(format!("{}/app.js", server.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[actix_web::test]
async fn unknown_api_paths_are_json_404s_not_the_spa() {
    let (server, _dir) = spawn_with_spa().await;

    let response = server.get("/api/nope").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(body["error"], "not_found");
}

#[actix_web::test]
async fn a_missing_spa_is_a_clear_404_and_the_api_still_works() {
    let server = spawn(test_config()).await;
    let response = server.get("/").await;
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("trunk build"), "{body}");
    assert_eq!(server.get("/healthz").await.status(), 200);
}

/// actix keeps a connection's write buffer at its largest for the
/// connection's life, and a browser opens its EventSource on an idle
/// keep-alive connection, such as the one that just sent the wasm bundle. So
/// static files end their connection, and no stream inherits a grown buffer.
#[actix_web::test]
async fn static_files_end_their_connection_so_no_stream_inherits_its_buffer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (server, _dir) = spawn_with_spa().await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(b"GET /app.js HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    // Reading to the end terminates only if the server closes the connection.
    tokio::time::timeout(common::SOON, socket.read_to_end(&mut response))
        .await
        .expect("the server closed the connection after the file")
        .unwrap();
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 200"), "{response:.200}");
    assert!(response.contains("connection: close"), "{response:.400}");
    assert!(response.contains("console.log('pulseboard');"));

    // The API keeps connections alive for publishers.
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert!(health
        .headers()
        .get("connection")
        .is_none_or(|v| v != "close"));
}
