//! The built SPA, served at `/` from memory; unknown paths get `index.html` so
//! client-side routes survive a reload, but for hashed asset names, which get
//! a 404 (an asset of another build).
//!
//! Every file of the static dir is read and compressed once, at start (brotli
//! and gzip at their highest levels, kept only when smaller; brotli of the
//! big files, ~1 s for the wasm, on a background thread so the server starts
//! at once and sends gzip meanwhile), and each request
//! is answered with shared bytes: no file system access, no compression and no
//! buffers per request. Trunk's hashed names (`app-0123456789abcdef.js`) are
//! cached for a year as `immutable`; everything else, `index.html` first, is
//! `no-cache`, so a deploy is seen at the next page load, revalidated with a
//! strong `ETag` (a `304` costs a few hundred bytes).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, Method};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// Files larger than this are not served (and a warning says so): the SPA is
/// a few hundred KiB, and everything is held in memory, compressed twice.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many files are loaded, ...
pub const MAX_FILES: usize = 4096;
/// ... from at most this many directory levels below the static dir.
const MAX_DEPTH: usize = 8;
/// Files up to this size are brotli-compressed before the server starts
/// (milliseconds); bigger ones (the wasm) on a background thread.
const BROTLI_AT_START_BYTES: usize = 64 * 1024;

/// For names with trunk's content hash: they never change.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For `index.html` (and client routes) and unhashed files: revalidate each time.
pub const CACHE_REVALIDATE: &str = "no-cache";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    fn header(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
            // Said explicitly: the Compress middleware (and nginx's gzip) leave
            // a response alone that names its encoding, so nothing compresses
            // an incompressible file again per request.
            Encoding::Identity => "identity",
        }
    }
}

/// One encoding of one file.
#[derive(Clone)]
struct Variant {
    encoding: Encoding,
    body: Bytes,
    etag: HeaderValue,
}

/// One file, in every encoding worth sending, best first (identity last).
struct Asset {
    content_type: &'static str,
    cache_control: &'static str,
    /// The strong ETag of the file's bytes; each encoding adds a suffix.
    tag: String,
    compressible: bool,
    variants: Vec<Variant>,
}

/// The SPA, in memory. Built once at start and shared by every worker; the
/// background compression replaces assets as their brotli copies are ready.
pub struct Spa {
    dir: PathBuf,
    files: RwLock<HashMap<String, Arc<Asset>>>,
}

impl Spa {
    /// Reads every file of `dir` and compresses it with gzip, and with
    /// brotli the small ones; the big ones get their brotli copy from a
    /// background thread, started here. A missing dir or `index.html` is a
    /// warning, not an error: the API works, `/` answers a clear 404.
    pub fn load(dir: &Path) -> Arc<Spa> {
        let started = Instant::now();
        let mut found = Vec::new();
        if dir.is_dir() {
            collect(dir, dir, 0, &mut found);
        }
        let mut later = Vec::new();
        let mut files = HashMap::with_capacity(found.len());
        for (key, bytes) in found {
            let brotli_now = bytes.len() <= BROTLI_AT_START_BYTES;
            let asset = asset(&key, bytes, brotli_now);
            if !brotli_now && asset.compressible {
                later.push(key.clone());
            }
            files.insert(key, Arc::new(asset));
        }
        // brotli at quality 11 uses several MiB per MiB of input: give it back.
        crate::memory::release_free_pages();
        let spa = Arc::new(Spa {
            dir: dir.to_owned(),
            files: RwLock::new(files),
        });
        if spa.get("index.html").is_some() {
            tracing::info!(dir = %dir.display(), files = spa.read().len(),
                took_ms = started.elapsed().as_millis() as u64, "SPA loaded");
            if !later.is_empty() {
                spa.compress_in_background(later);
            }
        } else {
            tracing::warn!(
                dir = %dir.display(),
                "no SPA found (index.html missing): the API works, `/` answers 404 until it is built"
            );
        }
        spa
    }

    /// Adds the brotli copies of `keys` one by one, then logs the sizes.
    fn compress_in_background(self: &Arc<Spa>, keys: Vec<String>) {
        let spa = self.clone();
        let spawned = std::thread::Builder::new()
            .name("pulseboard-spa-brotli".into())
            .spawn(move || {
                let started = Instant::now();
                for key in keys {
                    let Some(current) = spa.get(&key) else {
                        continue;
                    };
                    let with_brotli = current.with_brotli();
                    spa.files
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key, Arc::new(with_brotli));
                }
                crate::memory::release_free_pages();
                spa.log_sizes(started);
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the SPA's brotli compression; gzip only");
        }
    }

    fn log_sizes(&self, started: Instant) {
        let files = self.read();
        let size = |encoding: Encoding| -> usize {
            files
                .values()
                .filter_map(|a| a.variants.iter().find(|v| v.encoding == encoding))
                .map(|v| v.body.len())
                .sum()
        };
        let best: usize = files.values().map(|a| a.variants[0].body.len()).sum();
        tracing::info!(
            dir = %self.dir.display(),
            identity_bytes = size(Encoding::Identity),
            brotli_bytes = size(Encoding::Brotli),
            gzip_bytes = size(Encoding::Gzip),
            best_bytes = best,
            took_ms = started.elapsed().as_millis() as u64,
            "SPA compressed (best_bytes: each file in its smallest encoding)"
        );
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Asset>>> {
        self.files.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The SPA build served: the hash in the bundle's name that `index.html`
    /// preloads (see `protocol::build_id_in_html`). `None` without an SPA.
    pub fn build_id(&self) -> Option<String> {
        let index = self.get("index.html")?;
        let html = &index.variants.last()?.body;
        let html = std::str::from_utf8(html).ok()?;
        protocol::build_id_in_html(html).map(str::to_owned)
    }

    /// The file served at `path` (relative, `/`-separated, decoded), if any.
    fn get(&self, path: &str) -> Option<Arc<Asset>> {
        self.read().get(path).cloned()
    }
}

/// Walks `dir`, bounded in depth, count and file size, skipping hidden names.
fn collect(root: &Path, dir: &Path, depth: usize, found: &mut Vec<(String, Vec<u8>)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "static dir not readable: skipped");
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!(file = %path.display(), "static file name is not UTF-8: skipped");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // Follows symlinks, as a deploy may link the dist in.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                tracing::warn!(dir = %path.display(), "static dir nested too deep: skipped");
            } else {
                collect(root, &path, depth + 1, found);
            }
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            tracing::warn!(
                file = %path.display(),
                bytes = meta.len(),
                max = MAX_FILE_BYTES,
                "static file too large: not served"
            );
            continue;
        }
        if found.len() >= MAX_FILES {
            tracing::warn!(
                dir = %root.display(),
                max = MAX_FILES,
                "too many static files: the rest are not served"
            );
            return;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let key = relative
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect::<Vec<_>>()
            .join("/");
        match std::fs::read(&path) {
            Ok(bytes) => found.push((key, bytes)),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "static file not readable: skipped")
            }
        }
    }
}

fn asset(key: &str, bytes: Vec<u8>, with_brotli: bool) -> Asset {
    let name = key.rsplit('/').next().unwrap_or(key);
    let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
    let extension = extension.to_ascii_lowercase();
    let compressible = compressible(&extension);
    let mut asset = Asset {
        content_type: content_type(&extension),
        cache_control: if is_hashed(name) {
            CACHE_IMMUTABLE
        } else {
            CACHE_REVALIDATE
        },
        tag: strong_tag(&bytes),
        compressible,
        variants: Vec::with_capacity(3),
    };
    if compressible {
        let gzip = gzip_bytes(&bytes);
        if gzip.len() < bytes.len() {
            asset.variants.push(asset.variant(Encoding::Gzip, gzip));
        }
    }
    asset
        .variants
        .push(asset.variant(Encoding::Identity, bytes));
    if compressible && with_brotli {
        asset = asset.with_brotli();
    }
    asset
}

impl Asset {
    fn variant(&self, encoding: Encoding, body: Vec<u8>) -> Variant {
        let suffix = match encoding {
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Identity => "",
        };
        let etag = HeaderValue::from_str(&format!("\"{}{suffix}\"", self.tag))
            .expect("hex is a valid header");
        Variant {
            encoding,
            body: Bytes::from(body),
            etag,
        }
    }

    /// This file with its brotli copy first, if that is smaller.
    fn with_brotli(&self) -> Asset {
        let identity = self.variants.last().expect("identity is always there");
        let mut variants: Vec<Variant> = self
            .variants
            .iter()
            .filter(|v| v.encoding != Encoding::Brotli)
            .cloned()
            .collect();
        let brotli = brotli_bytes(&identity.body);
        if brotli.len() < identity.body.len() {
            variants.insert(0, self.variant(Encoding::Brotli, brotli));
        }
        Asset {
            content_type: self.content_type,
            cache_control: self.cache_control,
            tag: self.tag.clone(),
            compressible: self.compressible,
            variants,
        }
    }
}

/// Hex of the first 16 bytes of the SHA-256 of the file.
fn strong_tag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(32);
    for byte in &digest[..16] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn brotli_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 3 + 64);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer
            .write_all(bytes)
            .expect("writing to a Vec does not fail");
    }
    // Held for the server's life: no spare capacity.
    out.shrink_to_fit();
    out
}

fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        flate2::Compression::best(),
    );
    encoder
        .write_all(bytes)
        .expect("writing to a Vec does not fail");
    let mut out = encoder.finish().expect("writing to a Vec does not fail");
    out.shrink_to_fit();
    out
}

/// Trunk names assets `<name>-<16 hex>.<ext>` (the wasm: `<name>-<16 hex>_bg.wasm`).
pub fn is_hashed(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'-'
            && bytes.len() > i + 17
            && bytes[i + 1..i + 17]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            && matches!(bytes[i + 17], b'.' | b'_')
    })
}

fn content_type(extension: &str) -> &'static str {
    match extension {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        _ => "application/octet-stream",
    }
}

/// Already-compressed formats gain nothing from brotli or gzip.
fn compressible(extension: &str) -> bool {
    !matches!(
        extension,
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "avif" | "woff" | "woff2" | "gz" | "br" | "zip"
    )
}

pub fn service(spa: web::Data<Spa>) -> impl HttpServiceFactory {
    web::scope("").app_data(spa).default_service(web::to(serve))
}

async fn serve(req: HttpRequest, spa: web::Data<Spa>) -> HttpResponse {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "GET, HEAD"))
            .finish();
    }
    let Some(mut path) = decode_path(req.path()) else {
        return HttpResponse::NotFound().json(serde_json::json!({
            "error": "not_found",
            "message": "no such file",
        }));
    };
    if path.is_empty() || path.ends_with('/') {
        path.push_str("index.html");
    }
    let asset = match spa.get(&path) {
        Some(asset) => asset,
        // A hashed asset that is not here belongs to another build (a page
        // from a cache, or an instance of another version behind the same
        // balancer): the entry point in its place would fail as a script or
        // style with a MIME error that names nothing. Say what it is.
        None if is_hashed(path.rsplit('/').next().unwrap_or_default()) => {
            return HttpResponse::NotFound().json(serde_json::json!({
                "error": "not_found",
                "message": "no such file in the SPA this server serves (an asset of another build?)",
            }));
        }
        // Client routes (and any other unknown path) get the SPA's entry point.
        None => match spa.get("index.html") {
            Some(index) => index,
            None => return not_built(&spa.dir.join("index.html")),
        },
    };
    let variant = choose(&asset, req.headers());
    let not_modified = none_match(req.headers(), &variant.etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, variant.etag.clone()))
        .insert_header((header::CACHE_CONTROL, asset.cache_control))
        .insert_header((header::VARY, "Accept-Encoding"));
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CONTENT_ENCODING, variant.encoding.header()))
        // Bytes are reference-counted: nothing is copied per request.
        .body(variant.body.clone())
}

/// The request path without its leading `/`, percent-decoded; `None` for
/// anything that is not a plain relative path (`..`, `.`, `\`, NUL, not UTF-8).
fn decode_path(raw: &str) -> Option<String> {
    let raw = raw.strip_prefix('/').unwrap_or(raw).as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(raw[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(decoded).ok()?;
    let bad = path.contains(['\\', '\0'])
        || path
            .split('/')
            .any(|segment| segment == ".." || segment == ".");
    (!bad).then_some(path)
}

/// The best variant the request's `Accept-Encoding` allows: highest q, then
/// br, gzip, identity. Identity when nothing else is acceptable.
fn choose<'a>(asset: &'a Asset, headers: &header::HeaderMap) -> &'a Variant {
    let accepted = parse_accept_encoding(headers);
    let q = |encoding: Encoding| -> f32 {
        let name = encoding.header();
        let explicit = accepted.iter().find(|(coding, _)| coding == name);
        let star = accepted.iter().find(|(coding, _)| coding == "*");
        match (explicit, star) {
            (Some((_, q)), _) => *q,
            (None, Some((_, q))) => *q,
            // Identity is acceptable unless refused; the others must be named.
            (None, None) if encoding == Encoding::Identity => 0.001,
            (None, None) => 0.0,
        }
    };
    let identity = asset.variants.last().expect("identity is always there");
    // Variants are in preference order: the first of the highest q wins.
    let mut best: Option<(&Variant, f32)> = None;
    for variant in &asset.variants {
        let q = q(variant.encoding);
        if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((variant, q));
        }
    }
    best.map_or(identity, |(variant, _)| variant)
}

/// `(coding, q)` pairs, codings lowercased.
fn parse_accept_encoding(headers: &header::HeaderMap) -> Vec<(String, f32)> {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            if coding.is_empty() {
                return None;
            }
            let mut q = 1.0;
            for param in parts {
                if let Some((key, value)) = param.split_once('=') {
                    if key.trim().eq_ignore_ascii_case("q") {
                        q = value.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
                    }
                }
            }
            Some((coding, q))
        })
        .collect()
}

/// Whether `If-None-Match` matches `etag` (weak comparison, lists, `*`).
fn none_match(headers: &header::HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .any(|value| entity_tags(value.as_bytes()).any(|tag| tag == b"*" || tag == ours))
}

/// The entity tags of an `If-None-Match` value (with their quotes, without
/// `W/`), or `*`.
fn entity_tags(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = value;
    std::iter::from_fn(move || loop {
        rest = rest.trim_ascii_start();
        match rest.first()? {
            b',' => rest = &rest[1..],
            b'*' => {
                rest = &rest[1..];
                return Some(&b"*"[..]);
            }
            _ => {
                if rest.starts_with(b"W/") {
                    rest = &rest[2..];
                }
                if rest.first() != Some(&b'"') {
                    // Malformed: skip to the next comma.
                    let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
                    rest = &rest[end..];
                    continue;
                }
                let end = rest[1..].iter().position(|&b| b == b'"')? + 2;
                let (tag, tail) = rest.split_at(end);
                rest = tail;
                return Some(tag);
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashes_are_recognised() {
        assert!(is_hashed("frontend-43891e33b6a47d53.js"));
        assert!(is_hashed("frontend-43891e33b6a47d53_bg.wasm"));
        assert!(is_hashed("styles-857f41adced8fc1c.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("app.js"));
        assert!(!is_hashed("app-43891e33b6a47d5.js"));
        assert!(!is_hashed("app-43891E33B6A47D53.js"));
    }

    #[test]
    fn paths_are_decoded_and_traversal_refused() {
        assert_eq!(decode_path("/a%20b.js").as_deref(), Some("a b.js"));
        assert_eq!(decode_path("/").as_deref(), Some(""));
        assert_eq!(decode_path("/../etc/passwd"), None);
        assert_eq!(decode_path("/%2e%2e/etc/passwd"), None);
        assert_eq!(decode_path("/a/%2E%2E%2fb"), None);
        assert_eq!(decode_path("/a%5c..%5cb"), None);
        assert_eq!(decode_path("/a%zz"), None);
        assert_eq!(decode_path("/a%ff"), None);
    }

    #[test]
    fn entity_tags_are_parsed() {
        let tags: Vec<_> = entity_tags(br#"W/"a", "b,c" ,* , junk, "d""#).collect();
        assert_eq!(tags, vec![&b"\"a\""[..], b"\"b,c\"", b"*", b"\"d\""],);
    }
}
