//! The SPA is served at `/`, with index.html for client routes, from memory:
//! compressed once at start, cached by file class, revalidated by ETag.

mod common;

use std::io::Read;

use common::{spawn, test_config, TestServer};

/// Trunk's name for a hashed script, as in `frontend/dist`.
const HASHED_JS: &str = "app-0123456789abcdef.js";
const HASHED_WASM: &str = "app-0123456789abcdef_bg.wasm";
const HASHED_CSS: &str = "styles-fedcba9876543210.css";

fn spa_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // As trunk writes it: big enough to be worth compressing.
    let preloads = format!(
        "<link rel=\"modulepreload\" href=\"/{HASHED_JS}\" crossorigin=\"anonymous\">\n\
         <link rel=\"preload\" href=\"/{HASHED_WASM}\" crossorigin=\"anonymous\" as=\"fetch\" type=\"application/wasm\">\n"
    );
    std::fs::write(
        dir.path().join("index.html"),
        format!(
            "<!doctype html><title>Pulseboard</title>\n{}",
            preloads.repeat(4)
        ),
    )
    .unwrap();
    let script = "console.log('pulseboard');\n".repeat(200);
    std::fs::write(dir.path().join("app.js"), script).unwrap();
    let hashed: String = (0..400)
        .map(|i| format!("export function widget{i}(value) {{ return value * {i}; }}\n"))
        .collect();
    std::fs::write(dir.path().join(HASHED_JS), hashed).unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend((0..20_000u32).map(|i| (i % 251) as u8 ^ (i / 97) as u8));
    std::fs::write(dir.path().join(HASHED_WASM), wasm).unwrap();
    std::fs::write(
        dir.path().join(HASHED_CSS),
        "body { margin: 0; }\n.widget { padding: 1rem; }\n".repeat(50),
    )
    .unwrap();
    // Too small to gain anything from compression.
    std::fs::write(dir.path().join("robots.txt"), "ok").unwrap();
    dir
}

/// A server whose static dir is a fresh fake SPA (kept alive by the TempDir).
async fn spawn_with_spa() -> (TestServer, tempfile::TempDir) {
    let dir = spa_dir();
    let mut config = test_config();
    config.static_dir = dir.path().to_owned();
    (spawn(config).await, dir)
}

async fn get_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request succeeds")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Whether `Vary` names `Accept-Encoding` (CORS adds its own names).
fn varies_on_encoding(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
}

fn brotli_decompress(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

fn gzip_decompress(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
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
async fn assets_of_another_build_are_404s_not_the_spa() {
    let (server, _dir) = spawn_with_spa().await;

    for path in [
        "/frontend-0123456789abcdef_bg.wasm",
        "/styles-00000000000000ff.css",
        "/app-1111111111111111.js",
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
        assert!(
            body["message"].as_str().unwrap().contains("another build"),
            "{path}: {body}"
        );
    }
    // A name that only looks a little like one is still a client route.
    assert_eq!(server.get("/d/build-2026").await.status(), 200);
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

#[actix_web::test]
async fn each_file_class_has_its_cache_policy_and_content_type() {
    let (server, _dir) = spawn_with_spa().await;

    let immutable = Some("public, max-age=31536000, immutable".to_owned());
    let no_cache = Some("no-cache".to_owned());
    let cases = [
        (format!("/{HASHED_JS}"), "text/javascript", &immutable),
        (format!("/{HASHED_WASM}"), "application/wasm", &immutable),
        (format!("/{HASHED_CSS}"), "text/css", &immutable),
        ("/".to_owned(), "text/html", &no_cache),
        ("/index.html".to_owned(), "text/html", &no_cache),
        ("/d/host".to_owned(), "text/html", &no_cache),
        ("/app.js".to_owned(), "text/javascript", &no_cache),
        ("/robots.txt".to_owned(), "text/plain", &no_cache),
    ];
    for (path, content_type, cache_control) in cases {
        for accept in [None, Some("gzip"), Some("br, gzip")] {
            let headers: Vec<_> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
            let response = get_with(&server, &path, &headers).await;
            assert_eq!(response.status(), 200, "{path} {accept:?}");
            assert_eq!(&header(&response, "cache-control"), cache_control, "{path}");
            let got = header(&response, "content-type").unwrap();
            assert!(got.starts_with(content_type), "{path}: {got}");
            assert!(varies_on_encoding(&response), "{path} {accept:?}");
            let etag = header(&response, "etag").expect("an ETag");
            assert!(
                etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
                "{path}: a strong ETag, not {etag}"
            );
        }
    }
}

/// Each encoding is byte-identical, once decoded, to the file on disk, and
/// says what it is; without `Accept-Encoding` the file goes out as it is.
#[actix_web::test]
async fn precompressed_bodies_decode_to_the_file_on_disk() {
    let (server, dir) = spawn_with_spa().await;

    for name in [HASHED_JS, HASHED_WASM, HASHED_CSS, "app.js", "index.html"] {
        let original = std::fs::read(dir.path().join(name)).unwrap();
        let path = format!("/{name}");

        let plain = get_with(&server, &path, &[]).await;
        assert_eq!(plain.status(), 200, "{name}");
        assert!(
            matches!(
                header(&plain, "content-encoding").as_deref(),
                None | Some("identity")
            ),
            "{name}: {:?}",
            header(&plain, "content-encoding")
        );
        let plain_etag = header(&plain, "etag").unwrap();
        assert_eq!(plain.bytes().await.unwrap(), original, "{name}: identity");

        let mut etags = vec![plain_etag];
        for (accept, encoding, decode) in [
            ("br", "br", brotli_decompress as fn(&[u8]) -> Vec<u8>),
            ("gzip", "gzip", gzip_decompress),
            ("gzip, deflate, br", "br", brotli_decompress),
            ("br;q=0, gzip", "gzip", gzip_decompress),
            ("gzip;q=1, br;q=0.5", "gzip", gzip_decompress),
        ] {
            let response = get_with(&server, &path, &[("Accept-Encoding", accept)]).await;
            assert_eq!(response.status(), 200, "{name} {accept}");
            assert_eq!(
                header(&response, "content-encoding").as_deref(),
                Some(encoding),
                "{name} {accept}"
            );
            assert!(varies_on_encoding(&response));
            etags.push(header(&response, "etag").unwrap());
            let length = header(&response, "content-length");
            let body = response.bytes().await.unwrap();
            assert_eq!(length, Some(body.len().to_string()), "{name} {accept}");
            assert!(body.len() < original.len(), "{name} {accept}: not smaller");
            assert!(
                decode(&body) == original,
                "{name} {accept}: decodes to another file"
            );
        }
        // The identity, brotli and gzip bytes differ, so do their tags.
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), 3, "{name}: {etags:?}");
    }
}

/// Files that compression cannot shrink go out as they are, labelled
/// `identity` so the Compress middleware does not try again per request.
#[actix_web::test]
async fn incompressible_files_are_not_compressed_per_request() {
    let (server, _dir) = spawn_with_spa().await;

    let response = get_with(&server, "/robots.txt", &[("Accept-Encoding", "br, gzip")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-encoding").as_deref(),
        Some("identity")
    );
    assert_eq!(header(&response, "content-length").as_deref(), Some("2"));
    assert_eq!(response.bytes().await.unwrap(), "ok");
}

#[actix_web::test]
async fn a_matching_etag_is_answered_304_without_a_body() {
    let (server, _dir) = spawn_with_spa().await;

    for path in [
        format!("/{HASHED_WASM}"),
        "/".to_owned(),
        "/d/host".to_owned(),
    ] {
        let accept = ("Accept-Encoding", "br, gzip");
        let first = get_with(&server, &path, &[accept]).await;
        assert_eq!(first.status(), 200);
        let etag = header(&first, "etag").unwrap();
        let cache_control = header(&first, "cache-control");

        for if_none_match in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"nope\", {etag}"),
            "*".to_owned(),
        ] {
            let again =
                get_with(&server, &path, &[accept, ("If-None-Match", &if_none_match)]).await;
            assert_eq!(again.status(), 304, "{path} {if_none_match}");
            assert_eq!(header(&again, "etag").as_ref(), Some(&etag), "{path}");
            assert_eq!(header(&again, "cache-control"), cache_control, "{path}");
            assert!(varies_on_encoding(&again));
            assert!(again.bytes().await.unwrap().is_empty(), "{path}");
        }

        // Another tag, or the tag of another encoding, gets the file.
        for if_none_match in ["\"nope\"".to_owned(), etag.clone()] {
            let other = get_with(
                &server,
                &path,
                &[
                    ("Accept-Encoding", "gzip"),
                    ("If-None-Match", &if_none_match),
                ],
            )
            .await;
            assert_eq!(other.status(), 200, "{path} {if_none_match}");
            assert_eq!(header(&other, "content-encoding").as_deref(), Some("gzip"));
            assert!(!other.bytes().await.unwrap().is_empty());
        }
    }
}

#[actix_web::test]
async fn head_gets_the_headers_of_get_without_the_body() {
    let (server, _dir) = spawn_with_spa().await;
    let path = format!("{}/{HASHED_JS}", server.base);
    let client = reqwest::Client::new();

    let get = client
        .get(&path)
        .header("Accept-Encoding", "br")
        .send()
        .await
        .unwrap();
    let head = client
        .head(&path)
        .header("Accept-Encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    for name in [
        "content-encoding",
        "content-type",
        "content-length",
        "etag",
        "cache-control",
    ] {
        assert!(header(&head, name).is_some(), "HEAD has no {name}");
        assert_eq!(header(&head, name), header(&get, name), "{name}");
    }
    assert!(head.bytes().await.unwrap().is_empty());
}

/// Only files loaded at start are served: an encoded `..` is refused, and
/// other methods are not allowed.
#[actix_web::test]
async fn traversal_and_other_methods_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (server, _dir) = spawn_with_spa().await;
    for path in [
        "/%2e%2e/%2e%2e/etc/passwd",
        "/a/..%2f..%2fetc%2fpasswd",
        "/%2E%2E%5cx",
    ] {
        let mut socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        socket
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(common::SOON, socket.read_to_end(&mut response))
            .await
            .expect("the server closed the connection")
            .unwrap();
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with("HTTP/1.1 404"),
            "{path}: {response:.300}"
        );
        assert!(!response.contains("root:"), "{path}");
    }

    let post = reqwest::Client::new()
        .post(format!("{}/{HASHED_JS}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

/// A big file (the wasm, in a real build) gets its brotli copy from a
/// background thread, so the server starts at once: gzip until then, brotli
/// after, each decoding to the file.
#[actix_web::test]
async fn big_files_get_their_brotli_copy_after_the_start() {
    let dir = spa_dir();
    let big: String = (0..4_000)
        .map(|i| format!("export const line{i} = \"{}\";\n", "pulse".repeat(i % 7)))
        .collect();
    assert!(
        big.len() > 100 * 1024,
        "bigger than what is compressed at start"
    );
    let name = "big-0123456789abcdef.js";
    std::fs::write(dir.path().join(name), &big).unwrap();
    let mut config = test_config();
    config.static_dir = dir.path().to_owned();
    let server = spawn(config).await;
    let path = format!("/{name}");
    let accept = [("accept-encoding", "br, gzip")];
    let started = std::time::Instant::now();
    loop {
        let response = get_with(&server, &path, &accept).await;
        let encoding = header(&response, "content-encoding");
        let body = response.bytes().await.unwrap();
        match encoding.as_deref() {
            Some("br") => {
                assert_eq!(brotli_decompress(&body), big.as_bytes());
                break;
            }
            Some("gzip") => assert_eq!(gzip_decompress(&body), big.as_bytes()),
            other => panic!("{other:?}: gzip until brotli is ready"),
        }
        assert!(
            started.elapsed() < common::SOON * 3,
            "no brotli copy within {:?}",
            common::SOON * 3
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
