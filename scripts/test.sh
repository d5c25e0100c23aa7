#!/usr/bin/env bash
# Every check of the project, in the order CI runs them; exits non-zero if any
# fails. Works from any directory, without a terminal, on a fresh clone.
#
#   setup        scripts/setup.sh (tools; fast when already there)
#   fmt          cargo fmt --all -- --check
#   clippy       cargo clippy --workspace --all-targets -- -D warnings
#   cargo-test   cargo test --workspace
#   wasm-build   trunk build --release (prints the wasm size, raw and gzipped)
#   wasm-test    cargo test -p frontend --target wasm32-unknown-unknown: the
#                SPA's browser tests (the render path) in headless Chromium
#   server-build cargo build --workspace --all-targets: the debug server
#                binary for the e2e test. Same package set and features as
#                `cargo test --workspace`, so it reuses what that built and
#                takes seconds; `-p pulseboard-server` alone resolves features
#                differently and recompiles ~1 min, a release build several.
#   e2e          node --test frontend/e2e: real server + SPA in Chromium
#
# A failing check does not stop the independent ones after it, so one run
# reports everything; the e2e test is skipped when a build it needs failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The server reads PULSEBOARD_* settings from the environment; a stray one in
# the caller's shell must not change the servers the tests start.
unset "${!PULSEBOARD_@}"

steps=()
results=()
failed=()
total_started=$(now)

# step NAME COMMAND...: runs the command, times it, records the result.
step() {
	local name=$1 started rc
	shift
	printf '\n==> [%s] %s\n' "$name" "$*"
	started=$(now)
	set +e
	"$@"
	rc=$?
	set -e
	local secs=$(($(now) - started))
	steps+=("$name")
	if [ "$rc" -eq 0 ]; then
		results+=("ok      ${secs}s")
		printf '==> [%s] ok in %ss\n' "$name" "$secs"
	else
		results+=("FAILED  ${secs}s (exit $rc)")
		failed+=("$name")
		printf '==> [%s] FAILED (exit %s) after %ss\n' "$name" "$rc" "$secs"
	fi
	return "$rc"
}

skip() {
	steps+=("$1")
	results+=("skipped ($2)")
	failed+=("$1")
	printf '\n==> [%s] skipped: %s\n' "$1" "$2"
}

summary() {
	printf '\n==> summary (%ss in all)\n' "$(($(now) - total_started))"
	local i
	for i in "${!steps[@]}"; do
		printf '    %-13s %s\n' "${steps[$i]}" "${results[$i]}"
	done
	if [ "${#failed[@]}" -eq 0 ]; then
		printf 'test.sh: OK, all %s steps succeeded\n' "${#steps[@]}"
	else
		printf 'test.sh: FAILED: %s\n' "${failed[*]}"
	fi
	# The plain closing line CI reads: steps, each of which runs many tests.
	printf 'steps: %s passed, %s failed\n' "$((${#steps[@]} - ${#failed[@]}))" "${#failed[@]}"
}

wasm_build() {
	trunk_frontend build --release --offline || return
	local wasm
	wasm=$(find "$ROOT/frontend/dist" -maxdepth 1 -name '*.wasm' | head -n1)
	[ -n "$wasm" ] || {
		echo "no .wasm in frontend/dist" >&2
		return 1
	}
	printf 'wasm bundle %s: %s bytes raw, %s bytes gzipped (-9)\n' \
		"$(basename "$wasm")" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
}

# The SPA's #[wasm_bindgen_test]s, in headless Chromium through
# wasm-bindgen-test-runner (.cargo/config.toml); run from frontend/, where
# the runner finds webdriver.json (Chromium's flags).
wasm_test() {
	wasm_env_cmd
	(cd "$ROOT/frontend" && CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo "${CHROMEWEBDRIVER:-}/chromedriver")}" \
		"${WASM_ENV_CMD[@]}" cargo test -p frontend --target wasm32-unknown-unknown)
}

e2e() {
	PULSEBOARD_BIN="$(target_dir)/debug/pulseboard" \
		PULSEBOARD_STATIC_DIR="$ROOT/frontend/dist" \
		node --test "$ROOT"/frontend/e2e/*.test.mjs
}

if ! step setup bash "$ROOT/scripts/setup.sh"; then
	summary
	exit 1
fi
step fmt cargo fmt --all -- --check || true
step clippy cargo clippy --workspace --all-targets -- -D warnings || true
step cargo-test cargo test --workspace || true
wasm_ok=true
step wasm-build wasm_build || wasm_ok=false
step wasm-test wasm_test || true
server_ok=true
step server-build cargo build --workspace --all-targets || server_ok=false
if [ "$wasm_ok" = true ] && [ "$server_ok" = true ]; then
	step e2e e2e || true
else
	skip e2e "a build it needs failed"
fi

summary
[ "${#failed[@]}" -eq 0 ]
