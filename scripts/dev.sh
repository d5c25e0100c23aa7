#!/usr/bin/env bash
# Development loop: the backend (cargo run, debug) in the background on
# 127.0.0.1:8080, and `trunk serve` in the foreground, which rebuilds the SPA on
# every edit and proxies /api/ to the backend (see frontend/Trunk.toml).
# Extra arguments go to `trunk serve` (e.g. --port 3000). Ctrl-C stops both.
# The backend must listen where Trunk.toml's proxy points, so leave
# PULSEBOARD_ADDR unset (or 127.0.0.1:8080).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/setup.sh"

cd "$ROOT"
log "starting the backend (cargo run -p pulseboard-server)"
cargo run -p pulseboard-server &
backend=$!

stop_backend() {
	if kill -0 "$backend" 2>/dev/null; then
		log "stopping the backend (pid $backend)"
		kill "$backend" 2>/dev/null || true
		wait "$backend" 2>/dev/null || true
	fi
}
trap stop_backend EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting trunk serve (SPA with live reload; /api/ proxied to the backend)"
trunk_frontend serve "$@"
