//! Structured logs through `tracing`; `RUST_LOG` overrides the default filter.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,pulseboard::http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::stderr().is_terminal())
        // When stderr cannot be written (a full disk, a file-size limit on a
        // log file), the line is lost; by default tracing would then report
        // it with `eprintln!`, which panics on the same failed write and
        // would take the logging thread (the log's sequencer, say) with it.
        .log_internal_errors(false)
        .init();
}
