#!/usr/bin/env bash
# Builds and starts Pulseboard: the SPA (trunk, release) and the server
# (cargo, release), then runs the server in the foreground serving the SPA.
# Extra arguments go to the server, e.g. `scripts/run.sh --addr 0.0.0.0:9000`;
# PULSEBOARD_ADDR (read by the server) also sets the address; the default is
# 127.0.0.1:8080. Ctrl-C stops it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/setup.sh"

log "building the SPA (trunk build --release)"
trunk_frontend build --release --offline

log "building the server (cargo build --release)"
cd "$ROOT"
cargo build --release -p pulseboard-server

log "starting Pulseboard on http://${PULSEBOARD_ADDR:-127.0.0.1:8080}/ (--addr overrides; the server prints the address it bound)"
exec "$(target_dir)/release/pulseboard" --static-dir "$ROOT/frontend/dist" "$@"
