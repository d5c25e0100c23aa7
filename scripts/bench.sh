#!/usr/bin/env bash
# Benchmarks the release server with the load generator (crates/loadgen) and
# prints markdown tables. Not a test: numbers only (docs/benchmarks.md says
# what each scenario measures and what the targets are).
#
#   scripts/bench.sh [--quick] [--baseline] [--dashboard] [idle] [fanout] [findrate] [churn] [floor]
#                    [publish] [restart]
#   scripts/bench.sh [--quick] [--spa-before=REF] spa
#   scripts/bench.sh [--quick] [--soak-minutes=N] soak
#
# --dashboard opens every stream as the SPA does, narrowed to the default
# dashboard (`/api/events?dashboard=`), instead of the unfiltered stream.
# --baseline runs the same scenarios against baseline-server (crates/loadgen),
# the straightforward design of shared/notes/perf-baseline.md, so both are
# measured with the same client on the same machine.
# `floor` times the bare writes of a fan-out (no server; fanout-floor in
# crates/loadgen): the lower bound for any server on this machine.
# `publish` measures publish throughput (h2load, 64 keep-alive clients) and
# latency at 1,000 publishes/s, for the durable log with --sync full, with
# --sync normal, and in memory; `restart` restarts a durable server under
# 1,000 viewers (SIGTERM, then SIGKILL) and times their return.
# `spa` measures the SPA in headless Chromium (frontend/e2e/spa-bench.mjs):
# publish -> new value in the DOM for 1 and 200 widgets x 10 updates/s and
# the page's main-thread load, 60 widgets x 10/s with the CPU throttled 4x,
# and the server's RSS after 1,000 page loads. --spa-before=REF also builds
# the SPA of git ref REF (in a worktree under target/bench/spa-before) and
# measures both in the same run. `soak` keeps a series- and log-heavy page
# open for --soak-minutes (default 60) and samples its JS heap and wasm
# memory every minute. Both use the release server and build the SPA first.
# With no scenario, runs the six server scenarios (idle fanout findrate churn
# publish restart; ~4 min at full size). --quick uses small counts and short
# windows (~1 min once built) to check that everything works.
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
	sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

quick=false
baseline=false
spa_before=""
soak_minutes=60
stream_path=/api/events
scenarios=()
for arg in "$@"; do
	case "$arg" in
	--quick) quick=true ;;
	--baseline) baseline=true ;;
	--dashboard) stream_path='/api/events?dashboard=' ;;
	--spa-before=*) spa_before=${arg#--spa-before=} ;;
	--soak-minutes=*) soak_minutes=${arg#--soak-minutes=} ;;
	idle | fanout | churn | floor | publish | restart | spa | soak) scenarios+=("$arg") ;;
	findrate | find-rate) scenarios+=(findrate) ;;
	-h | --help) usage 0 ;;
	*)
		warn "unknown argument: $arg"
		usage 2
		;;
	esac
done
if [ "${#scenarios[@]}" -eq 0 ]; then
	scenarios=(idle fanout findrate churn publish restart)
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
# Every simulated viewer comes from 127.0.0.1 and every publish from one
# token: the per-address and per-token limits are lifted, so the bench
# measures the server, not its limits. Each scenario adds where its log is
# kept: a fresh data directory (the shipped default: durable, `--sync full`),
# and for the publish comparison also `--storage memory`.
SERVER_ARGS=(--host-metrics false --static-dir /nonexistent
	--publish-token "$TOKEN" --max-streams 10000000 --max-streams-per-ip 10000000
	--publish-rate 1000000 --publish-burst 10000000)
# Data directories made by fresh_data_dir, removed at exit.
DATA_DIRS=()

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
		"$BIN" --addr 127.0.0.1:0 "${SERVER_ARGS[@]}" "$@" >"$out" 2>"$logfile" &
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

# fresh_data_dir: sets DATA_DIR to a new empty directory for a durable server
# (on the disk, like /var/lib/pulseboard; removed at exit).
DATA_DIR=""
fresh_data_dir() {
	DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pulseboard-bench.XXXXXX")"
	DATA_DIRS+=("$DATA_DIR")
}

cleanup() {
	stop_server
	if [ "${#DATA_DIRS[@]}" -gt 0 ]; then
		rm -rf "${DATA_DIRS[@]}"
	fi
}
trap cleanup EXIT

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
		fresh_data_dir
		start_server idle --data-dir "$DATA_DIR"
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
		fresh_data_dir
		start_server fanout --data-dir "$DATA_DIR"
		loadgen "${header[@]}" fanout --subscribers "$subscribers" --rate "$rate" \
			--seconds "$seconds" --warmup "$warmup"
		header=(--no-header)
		stop_server
	done
}

run_findrate() {
	fresh_data_dir
	start_server findrate --data-dir "$DATA_DIR"
	if $quick; then
		loadgen find-rate --subscribers 1000 --p99-ms 100 --rates 10,50,100 --seconds 2
	else
		loadgen find-rate --subscribers 10000 --p99-ms 100 \
			--rates 10,20,30,50,75,100,150,200 --seconds 10
	fi
	stop_server
}

run_churn() {
	fresh_data_dir
	start_server churn --data-dir "$DATA_DIR"
	if $quick; then
		loadgen churn --cycles 3 --per-cycle 300
	else
		loadgen churn --cycles 20 --per-cycle 1000
	fi
	stop_server
}

# ensure_h2load: installs h2load (Debian's nghttp2-client) if it is missing.
ensure_h2load() {
	command -v h2load >/dev/null && return 0
	log "installing h2load (apt-get install nghttp2-client)"
	as_root apt-get install -y -q nghttp2-client >/dev/null ||
		{ as_root apt-get update -q >/dev/null && as_root apt-get install -y -q nghttp2-client >/dev/null; } ||
		die "could not install nghttp2-client (h2load)"
}

# cpu_ticks PID: utime + stime of a process (all threads), in clock ticks.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# publish_counters: "<commit seconds sum> <commits> <events published>" of the
# running server (pulseboard_storage_commit_seconds counts every commit of the
# log, including the idle checkpoints, at most one a second).
publish_counters() {
	"$LOADGEN" --addr "$SERVER_ADDR" metrics pulseboard_storage_commit_seconds_sum \
		pulseboard_storage_commit_seconds_count pulseboard_events_published_total |
		awk '{ printf "%s ", $2 } END { print "" }'
}

# h2load_publish OUTPUT H2LOAD ARGS...: runs h2load against the publish
# endpoint of the running server with the bench body and token; sets
# H2_RPS H2_TOTAL H2_2XX H2_WALL H2_CPU (h2load's, % of a core) SRV_CPU
# (the server's, % of a core) COMMITS GROUP (events per commit) COMMIT_MS
# (mean commit time).
h2load_publish() {
	local out=$1 sum0 count0 pub0 sum1 count1 pub1 cpu0 cpu1 real user sys
	shift
	read -r sum0 count0 pub0 <<<"$(publish_counters)"
	cpu0=$(cpu_ticks "$SERVER_PID")
	local TIMEFORMAT='%R %U %S'
	{ time h2load --h1 -d "$PUBLISH_BODY" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' "$@" \
		"http://$SERVER_ADDR/api/widgets/bench" >"$out" 2>&1; } 2>"$out.time" ||
		warn "h2load failed (see $out)"
	cpu1=$(cpu_ticks "$SERVER_PID")
	read -r sum1 count1 pub1 <<<"$(publish_counters)"
	read -r real user sys <"$out.time"
	read -r H2_RPS H2_TOTAL H2_2XX < <(awk '
		/^finished in/ { rps = $4 }
		/^requests:/ { total = $2 }
		/^status codes:/ { ok = $3 }
		END { printf "%.0f %d %d\n", rps, total, ok }' "$out")
	H2_WALL=$real
	read -r H2_CPU SRV_CPU COMMITS GROUP COMMIT_MS < <(awk -v real="$real" -v user="$user" \
		-v sys="$sys" -v c0="$cpu0" -v c1="$cpu1" -v hz="$(getconf CLK_TCK)" \
		-v s0="$sum0" -v n0="$count0" -v p0="$pub0" -v s1="$sum1" -v n1="$count1" -v p1="$pub1" '
		BEGIN {
			commits = n1 - n0
			printf "%.0f %.0f %d %.1f %.3f\n", 100 * (user + sys) / real,
				100 * (c1 - c0) / hz / real, commits,
				(commits > 0 ? (p1 - p0) / commits : 0),
				(commits > 0 ? 1000 * (s1 - s0) / commits : 0)
		}')
}

# latency_quantiles LOG: "p50 p99 max" in ms of the third column (µs) of an
# h2load --log-file.
latency_quantiles() {
	sort -n -k3,3 "$1" | awk '{ v[NR] = $3 } END {
		if (NR == 0) { print "- - -"; exit }
		i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
		printf "%.2f %.2f %.2f\n", v[i50] / 1000, v[i99] / 1000, v[NR] / 1000
	}'
}

run_publish() {
	if $baseline; then
		warn "publish: baseline-server keeps no log; skipped"
		return 0
	fi
	ensure_h2load
	# Throughput: 64 keep-alive clients, as in issue 11. Latency: 1,000
	# publishes/s spread over 8 connections (h2load --rps is per client).
	local requests=100000 clients=64 rate=1000 seconds=10 connections=8
	if $quick; then
		requests=10000
		seconds=3
	fi
	PUBLISH_BODY="$BENCH_DIR/publish-body.json"
	# 30 bytes, a number widget.
	printf '%s' '{"kind":"number","value":42.5}' >"$PUBLISH_BODY"
	local modes=(full normal memory) mode label args throughput=() latency=() memory_rps=0
	local -A rps
	for mode in "${modes[@]}"; do
		case "$mode" in
		full | normal)
			fresh_data_dir
			label="durable, --sync $mode"
			args=(--storage sqlite --data-dir "$DATA_DIR" --sync "$mode")
			;;
		memory)
			label="memory only (--storage memory)"
			args=(--storage memory)
			;;
		esac
		start_server "publish-$mode" "${args[@]}"
		log "publish ($label): h2load --h1 -c $clients -n $requests"
		h2load_publish "$BENCH_DIR/h2load-$mode.txt" -c "$clients" -n "$requests"
		rps[$mode]=$H2_RPS
		[ "$H2_2XX" -eq "$requests" ] ||
			warn "publish ($label): only $H2_2XX of $requests publishes got a 2xx (see $BENCH_DIR/h2load-$mode.txt)"
		throughput+=("$mode|$label|$H2_TOTAL|$H2_2XX|$H2_RPS|${H2_WALL}s|$SRV_CPU %|$H2_CPU %|$COMMITS|$GROUP|$COMMIT_MS ms")
		sleep 1
		log "publish ($label): $rate publishes/s for ${seconds}s over $connections connections"
		local log_file="$BENCH_DIR/h2load-$mode-latency.log" p50 p99 max
		rm -f "$log_file"
		h2load_publish "$BENCH_DIR/h2load-$mode-latency.txt" -c "$connections" \
			--rps "$((rate / connections))" -n "$((rate * seconds))" --log-file "$log_file"
		read -r p50 p99 max < <(latency_quantiles "$log_file")
		[ "$H2_2XX" -eq "$((rate * seconds))" ] ||
			warn "publish ($label): only $H2_2XX of $((rate * seconds)) paced publishes got a 2xx"
		latency+=("$label|$H2_RPS|$H2_2XX of $H2_TOTAL|$p50 ms|$p99 ms|$max ms|$COMMITS|$GROUP|$COMMIT_MS ms|$SRV_CPU %")
		stop_server
	done
	memory_rps=${rps[memory]}
	{
		echo
		echo "### Publish throughput: h2load --h1 -c $clients -n $requests, 30-byte number body"
		echo
		echo "| log | requests | 2xx | requests/s | vs memory only | wall | server CPU | h2load CPU | commits | events per commit | mean commit |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		local line
		for line in "${throughput[@]}"; do
			IFS='|' read -r mode label total ok r wall srv h2 commits group commit <<<"$line"
			echo "| $label | $total | $ok | $r | $(awk -v a="$r" -v b="$memory_rps" 'BEGIN { printf (b > 0 ? "%.0f %%" : "?"), 100 * a / b }') | $wall | $srv | $h2 | $commits | $group | $commit |"
		done
		echo
		echo "### Publish latency at $rate publishes/s (h2load --rps $((rate / connections)) × $connections connections, ${seconds}s)"
		echo
		echo "| log | requests/s | 2xx | p50 | p99 | max | commits | events per commit | mean commit | server CPU |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		for line in "${latency[@]}"; do
			echo "| ${line//|/ | } |"
		done
	} | tee -a "$RESULTS"
}

run_restart() {
	if $baseline; then
		warn "restart: baseline-server keeps no log; skipped"
		return 0
	fi
	local viewers=1000 rate=5 settle=3
	if $quick; then
		viewers=300
		settle=1
	fi
	fresh_data_dir
	local args=(--storage sqlite --data-dir "$DATA_DIR" --sync full)
	start_server restart "${args[@]}"
	# The same server again, on the same address and data directory; the load
	# generator signals the first one and starts this itself.
	loadgen restart --viewers "$viewers" --rate "$rate" --signals term,kill --settle "$settle" \
		--server-log "$BENCH_DIR/server-restart-again.log" \
		-- "$BIN" --addr "$SERVER_ADDR" "${SERVER_ARGS[@]}" "${args[@]}"
	# The load generator stopped the first server (and the ones it started).
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

{
	echo "# Pulseboard benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)'),"
	echo "$(nproc) cores, $(uname -r), open files $(ulimit -Hn) (hard), load average $(cut -d' ' -f1-3 /proc/loadavg)$($quick && echo ', --quick')."
} | tee "$RESULTS"

# build_spa: trunk's release build of this tree's SPA into frontend/dist.
build_spa() {
	log "building the SPA (trunk build --release)"
	trunk_frontend build --release --offline >"$BENCH_DIR/trunk.log" 2>&1 ||
		{ tail -n 30 "$BENCH_DIR/trunk.log" >&2; die "trunk build failed (see $BENCH_DIR/trunk.log)"; }
}

# spa_before_dist REF: builds the SPA of git ref REF in a worktree of its own
# (target/bench/spa-before/<commit>) and prints its dist. With a target dir
# of its own too: two checkouts of one workspace share cargo's fingerprints,
# so in one target dir the second build would take the first's as fresh.
spa_before_dist() {
	local sha dir
	sha=$(git rev-parse --short "$1^{commit}") || die "--spa-before: no such git ref: $1"
	dir="$BENCH_DIR/spa-before/$sha"
	if [ ! -d "$dir/src" ]; then
		git worktree add --detach "$dir/src" "$sha" >&2 || die "cannot check out $sha"
		ln -sfn "$TOOLS_DIR" "$dir/src/.tools"
	fi
	log "building the SPA of $1 ($sha) in $dir" >&2
	wasm_env_cmd
	(cd "$dir/src/frontend" && CARGO_TARGET_DIR="$dir/target" "${WASM_ENV_CMD[@]}" \
		trunk build --release --offline >"$dir/trunk.log" 2>&1) ||
		{ tail -n 30 "$dir/trunk.log" >&2; die "trunk build of $sha failed"; }
	printf '%s\n' "$dir/src/frontend/dist"
}

# spa_bench ARGS...: the SPA benchmark with the release server.
spa_bench() {
	node "$ROOT/frontend/e2e/spa-bench.mjs" --bin "$BIN" "$@" | tee -a "$RESULTS"
}

run_spa() {
	local spas=() seconds=20 loads=1000
	if $quick; then
		seconds=5
		loads=100
	fi
	if [ -n "$spa_before" ]; then
		spas+=(--spa "before=$(spa_before_dist "$spa_before")")
	fi
	build_spa
	spas+=(--spa "current=$ROOT/frontend/dist")
	spa_bench "${spas[@]}" --scenarios latency,throttled,loads --seconds "$seconds" --loads "$loads"
}

run_soak() {
	local minutes=$soak_minutes
	$quick && minutes=2
	build_spa
	spa_bench --spa "current=$ROOT/frontend/dist" --scenarios soak --soak-minutes "$minutes"
}

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
