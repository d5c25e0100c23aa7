//! Builds the application: binds the listener, wires hub, sources and routes.
//! Tests call [`Application::build`] with `--addr 127.0.0.1:0` and talk HTTP to
//! the port it reports.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpResponse, HttpServer};
use tokio::task::JoinHandle;

use std::sync::Arc;

use crate::access::tokens::{check_lengths, TokenTooShort};
use crate::access::viewer::ViewerSettings;
use crate::access::{TrustedProxies, ViewerAccess};
use crate::api::{self, request_body::BodyLimits, GeneratedToken, PublishTokens};
use crate::config::{Config, StorageKind};
use crate::dashboards::Dashboards;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::limits::{request_head, GuessLimit, RateLimits, StreamSlots};
use crate::log::{self, Log};
use crate::metrics::Metrics;
use crate::refusal_log::RefusalLog;
use crate::request_log;
use crate::routes::{self, events::StreamLimits, health::Readiness};
use crate::security;
use crate::sources;
use crate::static_files;

pub struct Application {
    addr: SocketAddr,
    hub: Hub,
    generated_token: Option<GeneratedToken>,
    log: Log,
    refusals: web::Data<RefusalLog>,
    server: Server,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the application cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Storage(#[from] log::StartError),
    #[error(transparent)]
    TokenTooShort(#[from] TokenTooShort),
    #[error(transparent)]
    PublishToken(#[from] crate::secret_file::SecretError),
    #[error(transparent)]
    Playlist(#[from] crate::dashboards::UnknownDashboard),
}

impl Application {
    /// Binds `config.addr` and prepares the server; nothing is served until
    /// [`Application::run_until_stopped`]. When `shutdown` resolves, every stream
    /// is sent a `shutdown` event and the server stops gracefully.
    pub fn build(
        mut config: Config,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Application, BuildError> {
        check_lengths(&config.publish_tokens, "publish")?;
        check_lengths(&config.viewer_tokens, "viewer")?;
        let dashboards = dashboards(&config)?;
        let listener = listen(&config.addr)?;
        let addr = listener.local_addr()?;
        // Reads and compresses the SPA once, before any worker starts (the
        // wasm's brotli copy follows from a background thread): every worker
        // serves the same bytes from memory. Its build id goes into every
        // `init`, unless `--build-id` says otherwise.
        let spa = web::Data::from(static_files::Spa::load(&config.static_dir));
        if config.build_id.is_none() {
            config.build_id = spa.build_id();
        }
        let (hub, log) = log::start(&config, dashboards, Metrics::new())?;
        let proxies = TrustedProxies::new(
            config.trusted_proxies.clone(),
            config.client_ip_header.clone(),
        );
        let guesses = Arc::new(GuessLimit::new(hub.metrics().clone()));
        // A generated token is kept where the log keeps its data; with
        // nothing kept, a new one every start.
        let keep_token_in = (config.storage == StorageKind::Sqlite).then(|| config.data_dir());
        let (tokens, generated_token) = PublishTokens::from_config(
            &config.publish_tokens,
            keep_token_in.as_deref(),
            guesses.clone(),
            proxies.clone(),
        )?;
        let tokens = web::Data::new(tokens);
        let readiness = Readiness::default();
        let limits = StreamLimits {
            max_stream_age: config.max_stream_age,
            catch_up: if config.redis_url.is_some() {
                log::redis::CATCH_UP
            } else {
                std::time::Duration::ZERO
            },
        };
        let stuck_timeout = config.stuck_stream_timeout;

        let mut tasks = vec![
            spawn_heartbeat(hub.clone(), config.heartbeat_interval),
            crate::memory::spawn_reclaimer(hub.metrics().clone()),
        ];
        if config.host_metrics {
            tasks.push(sources::host::spawn(log.clone(), config.sample_interval));
        }
        let body_limits = web::Data::new(BodyLimits {
            max_bytes: config.max_body_bytes,
            timeout: config.body_timeout,
        });
        let max_head = web::Data::new(request_head::MaxHeadBytes(config.max_header_bytes));
        let viewers = web::Data::new(ViewerAccess::new(
            ViewerSettings {
                tokens: &config.viewer_tokens,
                lifetime: config.session_lifetime,
                always_secure: config.secure_cookie,
            },
            log.sessions(),
            guesses.clone(),
            proxies.clone(),
        ));
        let rates = web::Data::new(RateLimits::new(
            config.publish_rate,
            config.publish_burst,
            hub.metrics().clone(),
        ));
        tasks.push(spawn_rate_janitor(rates.clone(), guesses));
        let slots = web::Data::new(StreamSlots::new(
            config.max_streams,
            config.max_streams_per_ip,
        ));
        let proxies = web::Data::new(proxies);
        let refusals = web::Data::new(RefusalLog::new(
            config.refusal_log_interval,
            hub.metrics().clone(),
        ));
        tasks.push(RefusalLog::spawn_summaries(refusals.clone()));
        let app_refusals = refusals.clone();
        let cors_origins = config.cors_origins.clone();
        let security_headers =
            web::Data::new(security::SecurityHeaders::new(&config.frame_ancestors));

        let shutdown_hub = hub.clone();
        let shutdown_readiness = readiness.clone();
        let app_hub = web::Data::new(hub.clone());
        let app_log = web::Data::new(log.clone());
        let app_readiness = web::Data::new(readiness.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_hub.clone())
                .app_data(app_log.clone())
                .app_data(app_readiness.clone())
                .app_data(tokens.clone())
                .app_data(body_limits.clone())
                .app_data(max_head.clone())
                .app_data(viewers.clone())
                .app_data(rates.clone())
                .app_data(slots.clone())
                .app_data(proxies.clone())
                .app_data(app_refusals.clone())
                .app_data(security_headers.clone())
                .app_data(web::Data::new(limits))
                // The last wrap is the outermost: CORS answers preflights
                // before the head limit is checked.
                .wrap(from_fn(request_head::limit))
                .wrap(security::cors(&cors_origins))
                // The stream stays outside the middleware below (it sets its
                // own `nosniff`; CSP is for documents): Compress would only
                // wrap every event of every viewer in an identity encoder (the
                // SSE responder sets `Content-Encoding: identity`), and the
                // request log would add a layer to every delivery and a line
                // per reconnect of every viewer. Streams are logged (at debug)
                // by the route, and its refusals reported to the refusal log.
                .route("/api/events", web::get().to(routes::events::stream_events))
                .service(
                    web::scope("")
                        // Static files, JSON and metrics.
                        .wrap(from_fn(security::add_headers))
                        // Compresses JSON and metrics. It leaves a response
                        // that names its encoding alone: static files are
                        // compressed once, at start, or say `identity`.
                        .wrap(Compress::default())
                        // Outermost of the three: it sees the final status
                        // and the bytes sent, and every API error.
                        .wrap(from_fn(request_log::log))
                        .route("/healthz", web::get().to(routes::health::healthz))
                        .route("/readyz", web::get().to(routes::health::readyz))
                        .route("/metrics", web::get().to(routes::metrics::metrics))
                        .service(
                            web::scope("/api")
                                .service(api_resource("/widgets").get(api::widgets::list))
                                .service(
                                    api_resource("/widgets/{id}")
                                        .get(api::widgets::get)
                                        .post(api::widgets::publish)
                                        .delete(api::widgets::delete),
                                )
                                .service(api_resource("/batch").post(api::widgets::publish_batch))
                                .service(api_resource("/dashboards").get(api::dashboards::list))
                                .service(
                                    api_resource("/session")
                                        .get(api::session::status)
                                        .post(api::session::login)
                                        .delete(api::session::logout),
                                )
                                .service(
                                    api_resource("/openapi.json").get(api::openapi::openapi_json),
                                )
                                .default_service(web::to(api_not_found)),
                        )
                        .service(
                            web::scope("")
                                .wrap(from_fn(static_files::close_connection))
                                .service(static_files::service(spa.clone())),
                        ),
                )
        })
        // Without this, a client that closed its socket is noticed only at the
        // second write after it left, holding its fd and buffers meanwhile.
        .h1_allow_half_closed(false)
        // A client that connects and trickles its request head (slowloris)
        // is cut off after this long.
        .client_request_timeout(config.head_timeout)
        .h1_write_buffer_size(routes::small_chunks::WRITE_BUFFER_THRESHOLD)
        // A burst of events (a batch, a replay) leaves in several writes of
        // at most the write buffer's size. With Nagle's algorithm on, each
        // write after the first waits for the client to acknowledge it, and
        // clients delay acknowledgements by up to 40 ms: the second half of a
        // 200-widget batch reached the page 40 ms after the first. Events are
        // written whole, so nothing is gained by holding them back.
        .tcp_nodelay(true)
        .on_connect(move |connection, _| tune_socket(connection, stuck_timeout))
        // actix counts whole seconds: round up, so 500ms still grants a grace period.
        .shutdown_timeout(config.shutdown_timeout.as_millis().div_ceil(1000) as u64)
        .shutdown_signal(async move {
            shutdown.await;
            shutdown_readiness.set(false);
            tracing::info!("shutting down: telling every stream to reconnect");
            shutdown_hub.shutdown();
        })
        .listen(listener)?;
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        readiness.set(true);
        Ok(Application {
            addr,
            hub,
            generated_token,
            log,
            refusals,
            server: server.run(),
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Where changes are published.
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// The publish token made by the server because none was configured.
    pub fn generated_token(&self) -> Option<&GeneratedToken> {
        self.generated_token.as_ref()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in self.tasks {
            task.abort();
        }
        // The refusals counted since the last summary, before the process
        // ends.
        self.refusals.summarize();
        // Every publish answered was committed already; this waits for the
        // ones still in the log's queue and closes the database cleanly. It
        // blocks, so off the async workers.
        let log = self.log.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || log.close()).await {
            tracing::error!(%error, "could not close the log");
        }
        result
    }
}

/// The dashboards of the config file, then the built-in `host` one when host
/// metrics are on (unless the file declares its own `host`), and the
/// playlists, which may name any of them.
fn dashboards(config: &Config) -> Result<Dashboards, BuildError> {
    let mut specs = config.dashboards.clone();
    if config.host_metrics && !specs.iter().any(|d| d.name.as_str() == "host") {
        specs.push(sources::host::dashboard());
    }
    Ok(Dashboards::new(specs).with_playlists(config.playlists.clone())?)
}

/// Connections the kernel queues until they are accepted (capped by
/// net.core.somaxconn). std's `bind` uses 128, which drops SYNs when thousands
/// of viewers reconnect at once after a restart, costing them a 1 s retry.
const LISTEN_BACKLOG: i32 = 4096;

fn listen(addr: &str) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{addr} resolves to no address"),
        )
    })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server can take its port back while old connections linger
    // in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Every minute, the rate limiters forget clients that are back to a full
/// burst, so their memory follows current clients, not every client ever.
fn spawn_rate_janitor(rates: web::Data<RateLimits>, guesses: Arc<GuessLimit>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            ticker.tick().await;
            rates.forget_idle();
            guesses.forget_idle();
        }
    })
}

fn spawn_heartbeat(hub: Hub, interval: std::time::Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await; // the first tick is immediate; init was just sent
        loop {
            ticker.tick().await;
            hub.heartbeat();
        }
    })
}

/// Kernel send buffer per connection. Linux would otherwise grow it to 4 MiB
/// for a viewer that stopped reading, hiding thousands of events from the
/// backpressure accounting and holding that memory until the connection dies.
const SEND_BUFFER_BYTES: usize = 64 * 1024;

/// Bounds what a viewer that stops reading (a frozen tab, a dead phone behind
/// NAT) can cost: a small kernel send buffer, and TCP_USER_TIMEOUT, with which
/// the kernel closes the connection once nothing it sent was taken for
/// `stuck_timeout` (zero-window probes included, on Linux >= 5.11).
fn tune_socket(connection: &dyn std::any::Any, stuck_timeout: std::time::Duration) {
    let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    let socket = socket2::SockRef::from(stream);
    if let Err(error) = socket.set_tcp_user_timeout(Some(stuck_timeout)) {
        tracing::warn!(%error, "could not set TCP_USER_TIMEOUT");
    }
    if let Err(error) = socket.set_send_buffer_size(SEND_BUFFER_BYTES) {
        tracing::warn!(%error, "could not set SO_SNDBUF");
    }
}

/// An API route: a method it does not have gets a JSON 405, not actix's
/// empty one.
fn api_resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
}

async fn api_not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no endpoint {} {}", req.method(), req.path()),
    ))
}
