#!/usr/bin/env bash
# Installs everything Pulseboard's build and tests need, idempotently: each
# step first checks whether its tool is already there at the right version,
# so a second run takes seconds. Safe to run from any directory, without a
# terminal (CI=true), as root or as a sudo-capable user.
#
#   1. Debian packages: a Chromium for the e2e test, chromedriver, build tools,
#      nginx (the reverse-proxy tests run the real one in front of the server),
#      redis-server (the shared-log tests start their own).
#   2. The wasm32 route: rustup's target, or Debian's rustc-web as a fallback.
#      The choice goes to .tools/wasm-env.sh for run.sh / test.sh / dev.sh.
#   3. trunk 0.21.14 and wasm-bindgen-cli at the version in Cargo.lock.
#   4. wasm-opt (npm binaryen@123.0.0) into .tools/.
#   5. The e2e test's node packages (frontend/e2e).
#   6. cargo fetch, so the --offline wasm build has every crate it needs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=123.0.0
WASM_TARGET=wasm32-unknown-unknown

started=$(now)

# --- 1. Debian packages ------------------------------------------------------
# Checked by command rather than by package name, so a machine that has the
# tool some other way (GitHub's runner images ship Chrome and chromedriver, the
# latter in $CHROMEWEBDRIVER) is left alone: Ubuntu's apt packages for them
# are snap wrappers.
apt_updated=false
apt_install() {
	if [ "$apt_updated" = false ]; then
		log "apt-get update"
		as_root apt-get update -qq
		apt_updated=true
	fi
	# With recommends, as on the machines these steps were proven on
	# (chromium's include its fonts; rustc-web's include rust-web-llvm).
	log "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

have_chromium() {
	local bin
	for bin in "${CHROMIUM_BIN:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
		[ -n "$bin" ] && [ -x "$bin" ] && return 0
	done
	return 1
}

have_chromedriver() {
	command -v chromedriver >/dev/null 2>&1 || [ -x "${CHROMEWEBDRIVER:-/nonexistent}/chromedriver" ]
}

missing=()
have_chromium || missing+=(chromium)
have_chromedriver || missing+=(chromium-driver)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v gzip >/dev/null 2>&1 || missing+=(gzip)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# scripts/demo.sh speaks to the API with curl, and a test runs it.
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The proxy tests (crates/server/tests/proxy.rs, frontend/e2e/failover.test.mjs)
# start nginx with deploy/nginx/pulseboard.conf. Debian puts it in /usr/sbin,
# which a non-root PATH often lacks.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The tests of --redis-url (crates/server/tests/common/redis.rs) start their
# own redis-server, on a free loopback port with a temp dir: they need the
# binary, never the system service. Debian puts it in /usr/bin.
redis_missing=false
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ] && [ ! -x /usr/sbin/redis-server ]; then
	missing+=(redis-server)
	redis_missing=true
fi
if [ "${#missing[@]}" -gt 0 ]; then
	apt_install "${missing[@]}"
else
	log "system packages: present (chromium, chromedriver, cc, pkg-config, gzip, node, npm, curl, nginx, redis-server)"
fi
# Debian's package starts its service on install. Under systemd it is a
# managed service and may stay (nothing here uses it). Without systemd (a
# container without a policy-rc.d that forbids it) the init script starts a
# daemon that nothing manages: stop it, so it does not linger on port 6379.
# Only right after this run installed the package: a Redis someone runs on
# purpose is left alone.
if [ "$redis_missing" = true ] && [ ! -d /run/systemd/system ] &&
	[ -x /etc/init.d/redis-server ] && /etc/init.d/redis-server status >/dev/null 2>&1; then
	log "redis-server: stopping the daemon the package started (no systemd here; the tests start their own)"
	as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || warn "could not stop the redis-server daemon; the tests do not need it"
fi

# --- 2. wasm32 route -----------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first"

# fmt and clippy are part of test.sh; minimal rustup profiles lack them.
if command -v rustup >/dev/null 2>&1; then
	for comp in rustfmt clippy; do
		if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
			log "rustup component add $comp"
			rustup component add "$comp"
		fi
	done
fi

write_wasm_env() {
	mkdir -p "$TOOLS_DIR"
	printf '# Written by scripts/setup.sh: how to build the wasm32 bundle here.\nPULSEBOARD_WASM_ROUTE=%s\n' "$1" >"$WASM_ENV_FILE.tmp"
	mv "$WASM_ENV_FILE.tmp" "$WASM_ENV_FILE"
}

# PULSEBOARD_WASM_ROUTE=debian forces the fallback (to test it on a machine
# where rustup works); otherwise rustup's target is tried first.
route=""
case "${PULSEBOARD_WASM_ROUTE:-}" in
"" | rustup) ;;
debian) log "PULSEBOARD_WASM_ROUTE=debian: using the Debian route" ;;
*) die "PULSEBOARD_WASM_ROUTE must be rustup or debian, not '$PULSEBOARD_WASM_ROUTE'" ;;
esac
if [ "${PULSEBOARD_WASM_ROUTE:-}" != debian ] && command -v rustup >/dev/null 2>&1; then
	if rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
		route=rustup
	else
		log "rustup target add $WASM_TARGET (60 s limit)"
		if timeout 60 rustup target add "$WASM_TARGET"; then
			route=rustup
		else
			warn "rustup could not add $WASM_TARGET; falling back to Debian's rustc-web"
		fi
	fi
fi
if [ -z "$route" ]; then
	# Debian's Rust 1.96 builds std for wasm32 from source (nightly-only
	# build-std, unlocked with RUSTC_BOOTSTRAP). The wasm linker
	# /usr/bin/rust-lld comes from rust-web-llvm (only a Recommends of
	# rustc-web, so named explicitly) and points to lld-22.
	deb_missing=()
	for pkg in rustc-web cargo-web rust-web-src rust-web-llvm lld-22; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || deb_missing+=("$pkg")
	done
	if [ "${#deb_missing[@]}" -gt 0 ]; then
		apt_install "${deb_missing[@]}"
	fi
	route=debian
fi
if [ ! -f "$WASM_ENV_FILE" ] || ! grep -qx "PULSEBOARD_WASM_ROUTE=$route" "$WASM_ENV_FILE"; then
	write_wasm_env "$route"
fi
log "wasm route: $route (recorded in ${WASM_ENV_FILE#"$ROOT"/})"

# --- 3. cargo-installed tools --------------------------------------------------
installed_version() { # prints the second word of `$1 --version`, or nothing
	"$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }' || true
}

have=$(installed_version trunk)
if [ "$have" = "$TRUNK_VERSION" ]; then
	log "trunk $have: present"
else
	log "cargo install trunk $TRUNK_VERSION (was: ${have:-none}; takes ~10 min cold)"
	cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# The CLI must match the wasm-bindgen library exactly, so take its version from
# Cargo.lock. No --locked: for 0.2.130 its lockfile pins a crate version
# (webpki-roots 1.0.11) that the registry lacks; the unlocked resolve builds.
wbg_version=$(awk '
	$0 == "name = \"wasm-bindgen\"" { found = 1; next }
	found && /^version = / { gsub(/"/, "", $3); print $3; exit }
	/^\[\[package\]\]/ { found = 0 }
' "$ROOT/Cargo.lock")
if [ -z "$wbg_version" ]; then
	warn "no wasm-bindgen in Cargo.lock yet; skipping wasm-bindgen-cli"
else
	have=$(installed_version wasm-bindgen)
	if [ "$have" = "$wbg_version" ]; then
		log "wasm-bindgen-cli $have: present"
	else
		log "cargo install wasm-bindgen-cli =$wbg_version (was: ${have:-none}; takes ~4 min cold)"
		cargo install wasm-bindgen-cli --version "=$wbg_version"
	fi
fi

# --- 4. wasm-opt ------------------------------------------------------------------
# Debian's binaryen (108) cannot read current rustc output; npm's binaryen
# package runs wasm-opt under Node and needs no download beyond the registry.
wasm_opt="$TOOLS_DIR/node_modules/.bin/wasm-opt"
if [ -x "$wasm_opt" ] && "$wasm_opt" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
	log "wasm-opt $("$wasm_opt" --version | head -n1): present"
else
	log "npm install binaryen@$BINARYEN_VERSION into .tools/"
	mkdir -p "$TOOLS_DIR"
	[ -f "$TOOLS_DIR/package.json" ] || printf '{ "private": true }\n' >"$TOOLS_DIR/package.json"
	npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --save-exact "binaryen@$BINARYEN_VERSION"
fi

# --- 5. e2e node packages --------------------------------------------------------
e2e="$ROOT/frontend/e2e"
if [ -f "$e2e/package-lock.json" ]; then
	stamp="$e2e/node_modules/.pulseboard-lock.sha256"
	want=$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		log "e2e node_modules: up to date"
	else
		log "npm ci in frontend/e2e"
		(cd "$e2e" && npm ci --no-audit --no-fund)
		printf '%s\n' "$want" >"$stamp"
	fi
else
	warn "frontend/e2e/package-lock.json missing; skipping npm ci"
fi

# --- 6. crates for the offline wasm build -------------------------------------------
# `trunk build --offline` also passes --offline to cargo, so every crate the
# wasm32 build needs must already be in cargo's cache. `cargo fetch` gets the
# workspace's crates for all targets (a no-op when they are there); on the
# Debian route, std's own dependencies too (build-std compiles std from source
# with library/Cargo.lock).
log "cargo fetch (workspace crates for every target)"
(cd "$ROOT" && cargo fetch --quiet)
if [ "$route" = debian ]; then
	log "cargo fetch std's dependencies (Debian route)"
	(cd "$ROOT" && /usr/bin/cargo fetch --quiet --manifest-path /usr/lib/rustlib/src/rust/library/Cargo.toml) ||
		warn "could not fetch std's dependencies; the first wasm build may need to run without --offline"
fi

log "setup done in $(($(now) - started)) s"
