#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (libFuzzer, nightly):
# protocol_decode (the SPA's ServerEvent::decode and the encode/decode round
# trip) and publish_body (the server's publish and batch body parsers). The
# targets and their seeds are in fuzz/; docs in fuzz/src/*.rs.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Runs each target (default: all) for SECONDS_PER_TARGET (default 60), one
# after the other. Installs cargo-fuzz first if it is missing; needs the
# nightly toolchain. libFuzzer grows its corpus in fuzz/.corpus/<target>
# (git-ignored), reading the committed seeds of fuzz/corpus/<target> too.
# A crash, timeout or out-of-memory input is copied to
# fuzz/regressions/<target>/ (rename it after what it shows, fix the bug, keep
# it: `cargo test` replays that directory) and the script exits non-zero.
# Not part of scripts/test.sh. FUZZ_TIMEOUT (default 10) is libFuzzer's
# per-input time limit in seconds.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

usage() {
	sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

ALL_TARGETS=(protocol_decode publish_body)
seconds=60
targets=()
for arg in "$@"; do
	case "$arg" in
	-h | --help) usage 0 ;;
	*[!0-9]*)
		if [[ " ${ALL_TARGETS[*]} " == *" $arg "* ]]; then
			targets+=("$arg")
		else
			warn "unknown argument: $arg"
			usage 2
		fi
		;;
	*) seconds=$arg ;;
	esac
done
[ "$seconds" -gt 0 ] || die "SECONDS_PER_TARGET must be positive"
if [ "${#targets[@]}" -eq 0 ]; then
	targets=("${ALL_TARGETS[@]}")
fi

if ! rustup toolchain list | grep -q '^nightly'; then
	log "installing the nightly toolchain (rustup toolchain install nightly --profile minimal)"
	rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
	log "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
	cargo install cargo-fuzz --locked
fi

# The sanitizer build is unlike any other: it gets its own target directory
# (fuzz/target) whatever the caller's CARGO_TARGET_DIR.
unset CARGO_TARGET_DIR

log "building the fuzz targets (cargo +nightly fuzz build)"
cargo +nightly fuzz build

failed=()
for target in "${targets[@]}"; do
	artifacts="fuzz/artifacts/$target"
	scratch="fuzz/.corpus/$target"
	mkdir -p "$artifacts" "$scratch"
	# Only what this run finds is copied, not what an earlier run left.
	marker="$(mktemp)"
	log "fuzzing $target for ${seconds}s"
	status=0
	# The scratch corpus comes first: libFuzzer writes new inputs there and
	# only reads the committed seeds.
	cargo +nightly fuzz run "$target" "$scratch" "fuzz/corpus/$target" -- \
		-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 ||
		status=$?
	found=()
	while IFS= read -r -d '' artifact; do
		found+=("$artifact")
	done < <(find "$artifacts" -maxdepth 1 -type f -newer "$marker" \
		\( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print0)
	rm -f "$marker"
	if [ "${#found[@]}" -gt 0 ]; then
		mkdir -p "fuzz/regressions/$target"
		cp "${found[@]}" "fuzz/regressions/$target/"
		for artifact in "${found[@]}"; do
			warn "$target: saved fuzz/regressions/$target/$(basename "$artifact")"
		done
	fi
	if [ "$status" -ne 0 ] || [ "${#found[@]}" -gt 0 ]; then
		warn "$target failed (exit status $status)"
		failed+=("$target")
	fi
done

if [ "${#failed[@]}" -gt 0 ]; then
	die "failed: ${failed[*]} (replay an input: cargo +nightly fuzz run <target> <file>)"
fi
log "no failure in ${targets[*]} (${seconds}s each)"
