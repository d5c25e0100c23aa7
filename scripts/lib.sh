# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; don't run it.
#
# Sets ROOT (the repo root, whatever the caller's cwd), puts the project-local
# tools (.tools/node_modules/.bin: wasm-opt) and cargo-installed tools
# (~/.cargo/bin: trunk, wasm-bindgen) on PATH, and offers logging, timing and
# the wasm build wrapper that honours the route chosen by setup.sh.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$ROOT/.tools"
WASM_ENV_FILE="$TOOLS_DIR/wasm-env.sh"
export PATH="$TOOLS_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# Seconds since the epoch (integer); used for the per-step timings.
now() { date +%s; }

# The route for the wasm32 build, written by setup.sh:
#   rustup  - rustup's toolchain with the wasm32-unknown-unknown target (normal);
#   debian  - Debian's rustc-web 1.96 building std from source (fallback).
load_wasm_env() {
	PULSEBOARD_WASM_ROUTE=rustup
	if [ -f "$WASM_ENV_FILE" ]; then
		# shellcheck source=/dev/null
		. "$WASM_ENV_FILE"
	fi
}

# Sets WASM_ENV_CMD to the prefix that gives trunk the chosen route's
# environment: empty for rustup; `env RUSTC=... PATH=/usr/bin:...` for the
# Debian route. Only the wasm build gets these variables, so host builds
# (server, tests, clippy) keep using rustup's toolchain.
wasm_env_cmd() {
	load_wasm_env
	WASM_ENV_CMD=()
	if [ "$PULSEBOARD_WASM_ROUTE" = debian ]; then
		WASM_ENV_CMD=(env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
			"CARGO_UNSTABLE_BUILD_STD=std,panic_abort" "PATH=/usr/bin:$PATH")
	fi
}

# Runs trunk in frontend/ with the environment of the chosen wasm route.
trunk_frontend() {
	wasm_env_cmd
	(cd "$ROOT/frontend" && exec "${WASM_ENV_CMD[@]}" trunk "$@")
}

# The target directory cargo writes to (honours CARGO_TARGET_DIR).
target_dir() {
	local dir="${CARGO_TARGET_DIR:-$ROOT/target}"
	case "$dir" in
	/*) printf '%s\n' "$dir" ;;
	*) printf '%s\n' "$ROOT/$dir" ;;
	esac
}
