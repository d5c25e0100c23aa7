use pulseboard::config::ConfigError;
use pulseboard::{shutdown, telemetry, Application, Config};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let config = match Config::load() {
        Ok(config) => config,
        // clap prints usage and exits with its usual codes.
        Err(ConfigError::Args(error)) => error.exit(),
        Err(error) => {
            eprintln!("pulseboard: {error}");
            std::process::exit(2);
        }
    };
    telemetry::init();
    ignore_file_size_signal();
    let app = match Application::build(config, shutdown::signal()) {
        Ok(app) => app,
        Err(error) => {
            // One line, plain, on stderr: what is wrong and what to do.
            eprintln!("pulseboard: {error}");
            std::process::exit(1);
        }
    };
    // Scripts and tests read this line to find the port (the address may be :0).
    println!("Pulseboard listening on http://{}", app.addr());
    if let Some(token) = app.generated_token() {
        // On stdout only (never logged): publishing is never open by accident,
        // and a first run still works without configuration. A kept token is
        // shown at every start, so `scripts/run.sh` can always say it.
        match &token.file {
            Some(file) if token.new => println!(
                "Publish token (generated, kept in {}; set PULSEBOARD_PUBLISH_TOKEN to choose your own): {}",
                file.display(),
                token.value
            ),
            Some(file) => println!(
                "Publish token (kept in {}; set PULSEBOARD_PUBLISH_TOKEN to choose your own): {}",
                file.display(),
                token.value
            ),
            None => println!(
                "Publish token (generated for this run only; set PULSEBOARD_PUBLISH_TOKEN to keep one): {}",
                token.value
            ),
        }
        println!("Try it: {}", try_it(app.addr(), &token.value));
    }
    tracing::info!(addr = %app.addr(), epoch = %app.hub().epoch(), "started");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// A ready-to-paste first publish, to the address a local shell can reach.
fn try_it(addr: std::net::SocketAddr, token: &str) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!(
        "curl -H 'Authorization: Bearer {token}' -d '{{\"value\": 42}}' http://{addr}/api/widgets/hello"
    )
}

/// Past a file size limit (`ulimit -f`), the kernel sends SIGXFSZ, whose
/// default action kills the process. Ignored, the write fails with EFBIG
/// instead, which the log reports as a storage failure (503 to publishers)
/// and recovers from once the limit is lifted.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread
    // that could be writing files is started.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
