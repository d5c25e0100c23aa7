#!/usr/bin/env bash
# Development loop: the backend (cargo run, debug) on 127.0.0.1:8080, where
# frontend/Trunk.toml's proxy points, and `trunk serve` on
# http://127.0.0.1:8081/ (TRUNK_SERVE_PORT overrides),
# which rebuilds the SPA on every edit and proxies /api/ to the backend.
# Extra arguments go to `trunk serve`. Ctrl-C stops both.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/setup.sh"

cd "$ROOT"
children=()
# shellcheck disable=SC2317 # called by the EXIT trap
stop_children() {
	local pid
	for pid in "${children[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting the backend (cargo run -p pulseboard-server) on 127.0.0.1:8080"
PULSEBOARD_ADDR=127.0.0.1:8080 cargo run -p pulseboard-server &
children+=($!)

# trunk serve's own default port is 8080 too, which the backend holds.
export TRUNK_SERVE_PORT="${TRUNK_SERVE_PORT:-8081}"
log "starting trunk serve on http://127.0.0.1:$TRUNK_SERVE_PORT/ (live reload; /api/ proxied to the backend)"
wasm_env_cmd
(cd "$ROOT/frontend" && exec "${WASM_ENV_CMD[@]}" trunk serve "$@") &
children+=($!)

# Both run in the background so that a signal to this script is handled at
# once (bash defers traps while a foreground child runs); when either one
# ends, the other is stopped too.
status=0
wait -n || status=$?
log "stopping (a child exited with status $status)"
exit "$status"
