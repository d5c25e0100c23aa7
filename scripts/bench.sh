#!/usr/bin/env bash
# Benchmarks the release server with the load generator (crates/loadgen) and
# prints markdown tables. Not a test: numbers only (docs/benchmarks.md says
# what each scenario measures and what the targets are).
#
#   scripts/bench.sh [--quick] [--baseline] [--dashboard] [idle] [fanout] [findrate] [churn] [floor]
#
# --dashboard opens every stream as the SPA does, narrowed to the default
# dashboard (`/api/events?dashboard=`), instead of the unfiltered stream.
# --baseline runs the same scenarios against baseline-server (crates/loadgen),
# the straightforward design of shared/notes/perf-baseline.md, so both are
# measured with the same client on the same machine.
# `floor` times the bare writes of a fan-out (no server; fanout-floor in
# crates/loadgen): the lower bound for any server on this machine.
# With no scenario, runs the four server scenarios (~3 min at full size). --quick uses small
# counts and short windows (< 1 min once built) to check that everything works.
# Each scenario gets a fresh server (random port, random publish token, host
# metrics off); the idle scenario one per stream count, so every count starts
# from a clean heap. Tables are also saved to target/bench/results-<time>.md,
# server logs to target/bench/server-<scenario>.log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# The server reads PULSEBOARD_* settings from the environment; a stray one in
# the caller's shell must not change the server under test.
unset "${!PULSEBOARD_@}"

usage() {
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

quick=false
baseline=false
stream_path=/api/events
scenarios=()
for arg in "$@"; do
	case "$arg" in
	--quick) quick=true ;;
	--baseline) baseline=true ;;
	--dashboard) stream_path='/api/events?dashboard=' ;;
	idle | fanout | churn | floor) scenarios+=("$arg") ;;
	findrate | find-rate) scenarios+=(findrate) ;;
	-h | --help) usage 0 ;;
	*)
		warn "unknown argument: $arg"
		usage 2
		;;
	esac
done
if [ "${#scenarios[@]}" -eq 0 ]; then
	scenarios=(idle fanout findrate churn)
fi

log "building (cargo build --release -p pulseboard-server -p pulseboard-loadgen)"
cargo build --release -p pulseboard-server -p pulseboard-loadgen

BIN="$(target_dir)/release/pulseboard"
LOADGEN="$(target_dir)/release/loadgen"
BENCH_DIR="$(target_dir)/bench"
mkdir -p "$BENCH_DIR"
RESULTS="$BENCH_DIR/results-$(date -u +%Y%m%dT%H%M%SZ).md"
# Given to the server on its command line and to the load generator through
# the environment (PULSEBOARD_BENCH_TOKEN is not a server setting).
TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export PULSEBOARD_BENCH_TOKEN="$TOKEN"

SERVER_PID=""
SERVER_ADDR=""

# start_server NAME [SERVER ARGS...]: starts the release server on a free port
# and waits for /readyz; sets SERVER_PID and SERVER_ADDR.
start_server() {
	local name=$1 out="$BENCH_DIR/server.out" logfile="$BENCH_DIR/server-$1.log"
	shift
	: >"$out"
	if $baseline; then
		# The reference design of shared/notes/perf-baseline.md; it takes no
		# other settings and publishes without a token.
		"$(target_dir)/release/baseline-server" --addr 127.0.0.1:0 >"$out" 2>"$logfile" &
	else
		# Every simulated viewer comes from 127.0.0.1 and every publish from
		# one token: the per-address and per-token limits are lifted, so the
		# bench measures the server, not its limits.
		"$BIN" --addr 127.0.0.1:0 --host-metrics false --persist false --static-dir /nonexistent \
			--publish-token "$TOKEN" --max-streams 10000000 --max-streams-per-ip 10000000 \
			--publish-rate 1000000 --publish-burst 10000000 "$@" >"$out" 2>"$logfile" &
	fi
	SERVER_PID=$!
	SERVER_ADDR=""
	for _ in $(seq 100); do
		SERVER_ADDR="$(sed -n 's|^Pulseboard listening on http://||p' "$out")"
		[ -n "$SERVER_ADDR" ] && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			tail -n 20 "$logfile" >&2
			die "the server ($name) exited at start"
		fi
		sleep 0.1
	done
	[ -n "$SERVER_ADDR" ] || die "the server ($name) printed no address in 10 s (see $logfile)"
	"$LOADGEN" --addr "$SERVER_ADDR" wait-ready --timeout 20
}

# stop_server: SIGTERM, then SIGKILL if it has not exited 15 s later.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		warn "the server did not exit 15 s after SIGTERM; killing it"
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
trap stop_server EXIT

# loadgen ARGS...: runs the load generator against the current server; tables
# go to the terminal and to the results file.
loadgen() {
	"$LOADGEN" --addr "$SERVER_ADDR" --pid "$SERVER_PID" --stream-path "$stream_path" "$@" |
		tee -a "$RESULTS"
}

# busy_warning NAME: samples /proc/stat for a second (no server running) and
# warns when something else keeps the CPU more than 10 % busy.
busy_warning() {
	local before after busy
	before="$(head -n 1 /proc/stat)"
	sleep 1
	after="$(head -n 1 /proc/stat)"
	busy="$(awk -v a="$before" -v b="$after" 'BEGIN {
		n = split(a, x); split(b, y); total = 0
		for (i = 2; i <= n; i++) total += y[i] - x[i]
		idle = (y[5] - x[5]) + (y[6] - x[6])
		printf "%d", (total > 0 ? 100 * (total - idle) / total : 0)
	}')"
	if [ "$busy" -gt 10 ]; then
		warn "the CPU was ${busy} % busy before '$1' without the benchmark: numbers will be noisy"
		echo "(warning: the CPU was ${busy} % busy with other work before '$1')" >>"$RESULTS"
	fi
}

run_idle() {
	local counts=(1000 10000 19000) header=() count
	$quick && counts=(500 2000)
	for count in "${counts[@]}"; do
		start_server idle
		loadgen "${header[@]}" idle --counts "$count"
		header=(--no-header)
		stop_server
	done
}

run_fanout() {
	# subscribers rate seconds; the second row is the 10k × 10/s baseline.
	local runs=("1000 50 20" "10000 10 20") header=() run subscribers rate seconds warmup=2
	if $quick; then
		runs=("300 50 3")
		warmup=1
	fi
	for run in "${runs[@]}"; do
		read -r subscribers rate seconds <<<"$run"
		start_server fanout
		loadgen "${header[@]}" fanout --subscribers "$subscribers" --rate "$rate" \
			--seconds "$seconds" --warmup "$warmup"
		header=(--no-header)
		stop_server
	done
}

run_findrate() {
	start_server findrate
	if $quick; then
		loadgen find-rate --subscribers 1000 --p99-ms 100 --rates 10,50,100 --seconds 2
	else
		loadgen find-rate --subscribers 10000 --p99-ms 100 \
			--rates 10,20,30,50,75,100,150,200 --seconds 10
	fi
	stop_server
}

run_churn() {
	start_server churn
	if $quick; then
		loadgen churn --cycles 3 --per-cycle 300
	else
		loadgen churn --cycles 20 --per-cycle 1000
	fi
	stop_server
}

{
	echo "# Pulseboard benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)'),"
	echo "$(nproc) cores, $(uname -r), open files $(ulimit -Hn) (hard), load average $(cut -d' ' -f1-3 /proc/loadavg)$($quick && echo ', --quick')."
} | tee "$RESULTS"

started=$(now)
run_floor() {
	local connections=9000
	$quick && connections=2000
	echo "### Floor: bare loopback writes, one 150-byte message per connection" | tee -a "$RESULTS"
	echo | tee -a "$RESULTS"
	# Two sockets per connection in one process: raise the soft fd limit.
	ulimit -n "$(ulimit -Hn)"
	"$(target_dir)/release/fanout-floor" --connections "$connections" --writers 2 --rounds 5 | tee -a "$RESULTS"
	"$(target_dir)/release/fanout-floor" --connections "$connections" --writers 1 --rounds 3 | tail -n 3 | tee -a "$RESULTS"
}

for scenario in "${scenarios[@]}"; do
	log "scenario: $scenario"
	busy_warning "$scenario"
	"run_$scenario"
done

printf '\n==> all results (%ss; saved to %s)\n' "$(($(now) - started))" "$RESULTS"
cat "$RESULTS"
