#!/usr/bin/env bash
# Benchmarks the release server with the load generator (crates/loadgen) and
# prints markdown tables. Not a test: numbers only (docs/benchmarks.md says
# what each scenario measures and what the targets are).
#
#   scripts/bench.sh [--quick] [--baseline] [--dashboard] [idle] [fanout] [findrate] [churn] [floor]
#                    [publish] [restart]
#   scripts/bench.sh [--quick] [--spa-before=REF] spa
#   scripts/bench.sh [--quick] [--soak-minutes=N] soak
#   scripts/bench.sh [--quick] [--scaleout-rounds=N] scaleout
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
# `scaleout` compares, in one run with the same client, one embedded instance
# (fresh --data-dir, --sync full) with instances sharing a private
# redis-server (free loopback port, temp dir, --save "" --appendonly yes
# --appendfsync always): fan-out of 10,000 viewers x 10 events/s (two
# instances with the viewers split and the publishes alternating, then all
# viewers on one), publish throughput (2 h2load x 32 clients at once, one
# per instance) and latency at 1,000/s, Redis's commands per publish, and
# the throughput again with --appendonly no. --scaleout-rounds=N repeats the
# fan-out rows N times, alternating, for a noisy machine.
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
	sed -n '2,46p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

quick=false
baseline=false
spa_before=""
soak_minutes=60
scaleout_rounds=1
stream_path=/api/events
scenarios=()
for arg in "$@"; do
	case "$arg" in
	--quick) quick=true ;;
	--baseline) baseline=true ;;
	--dashboard) stream_path='/api/events?dashboard=' ;;
	--spa-before=*) spa_before=${arg#--spa-before=} ;;
	--soak-minutes=*) soak_minutes=${arg#--soak-minutes=} ;;
	--scaleout-rounds=*) scaleout_rounds=${arg#--scaleout-rounds=} ;;
	idle | fanout | churn | floor | publish | restart | spa | soak | scaleout) scenarios+=("$arg") ;;
	findrate | find-rate) scenarios+=(findrate) ;;
	-h | --help) usage 0 ;;
	*)
		warn "unknown argument: $arg"
		usage 2
		;;
	esac
done
[[ $scaleout_rounds =~ ^[1-9][0-9]*$ ]] || die "--scaleout-rounds wants a whole number ≥ 1, got '$scaleout_rounds'"
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

# stop_pid PID NAME: SIGTERM, then SIGKILL if it has not exited 15 s later.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		warn "$2 did not exit 15 s after SIGTERM; killing it"
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

# stop_server: stops the current server (stop_pid).
stop_server() {
	stop_pid "$SERVER_PID" "the server"
	SERVER_PID=""
}

# fresh_data_dir: sets DATA_DIR to a new empty directory for a durable server
# (on the disk, like /var/lib/pulseboard; removed at exit).
DATA_DIR=""
fresh_data_dir() {
	DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pulseboard-bench.XXXXXX")"
	DATA_DIRS+=("$DATA_DIR")
}

# scaleout: the redis-server and the instances on it (stopped at exit), and
# the RSS sampler.
REDIS_PID=""
REDIS_PORT=""
INSTANCE_PIDS=()
INSTANCE_ADDRS=()
RSS_SAMPLER=""

# stop_scaleout: stops the instances, then their redis-server.
stop_scaleout() {
	local pid
	stop_pid "$RSS_SAMPLER" "the RSS sampler"
	RSS_SAMPLER=""
	for pid in "${INSTANCE_PIDS[@]}"; do
		stop_pid "$pid" "an instance"
	done
	INSTANCE_PIDS=()
	INSTANCE_ADDRS=()
	stop_pid "$REDIS_PID" "redis-server"
	REDIS_PID=""
	REDIS_PORT=""
}

cleanup() {
	stop_server
	stop_scaleout
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

# --- scaleout: several instances on one Redis (issue 13) ---

# start_redis NAME yes|no: a private redis-server on a free loopback port, in
# a temp dir (removed at exit), without RDB snapshots (--save ""), the AOF
# on and fsynced before every reply (--appendfsync always) or off; sets
# REDIS_PID and REDIS_PORT. Log: target/bench/redis-NAME.log.
start_redis() {
	local aof=$2 logfile="$BENCH_DIR/redis-$1.log" dir port answer
	dir="$(mktemp -d "${TMPDIR:-/tmp}/pulseboard-bench-redis.XXXXXX")"
	DATA_DIRS+=("$dir")
	local args=(--bind 127.0.0.1 --protected-mode no --dir "$dir" --save ""
		--appendonly "$aof" --daemonize no --logfile "$logfile")
	[ "$aof" = yes ] && args+=(--appendfsync always)
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 40000))
		redis-server --port "$port" "${args[@]}" &
		REDIS_PID=$!
		for _ in $(seq 50); do
			kill -0 "$REDIS_PID" 2>/dev/null || break
			# Ours, not another redis-server that holds the port.
			answer="$(redis-cli -p "$port" info server 2>/dev/null |
				sed -n 's/^process_id:\([0-9]*\).*/\1/p')" || answer=""
			if [ "$answer" = "$REDIS_PID" ]; then
				REDIS_PORT=$port
				return 0
			fi
			sleep 0.1
		done
		stop_pid "$REDIS_PID" redis-server
		REDIS_PID=""
	done
	die "redis-server did not start on a free port in 20 tries (see $logfile)"
}

# rcli ARGS...: redis-cli against the bench's redis-server, without CRs.
rcli() {
	redis-cli -p "$REDIS_PORT" "$@" | tr -d '\r'
}

# redis_seq: the shared log's last sequence number (events appended so far).
redis_seq() {
	local seq
	seq="$(rcli hget pulseboard:meta seq)"
	echo "${seq:-0}"
}

# redis_commands: "name calls usec" for each command Redis ran since the last
# CONFIG RESETSTAT, the commands scripts run included (INFO commandstats;
# subcommands as script/load), leaving out the bench's own INFO and CONFIG.
redis_commands() {
	rcli info commandstats |
		sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p' |
		tr '|' '/' | grep -v -e '^info ' -e '^config'
}

# start_instances N: N more instances on the bench's redis-server (each as
# start_server), named a, b, c, d; appends to INSTANCE_PIDS and
# INSTANCE_ADDRS.
start_instances() {
	local i first=${#INSTANCE_PIDS[@]} names=(a b c d)
	for ((i = first; i < first + $1; i++)); do
		start_server "scaleout-${names[i]}" --redis-url "redis://127.0.0.1:$REDIS_PORT/"
		INSTANCE_PIDS+=("$SERVER_PID")
		INSTANCE_ADDRS+=("$SERVER_ADDR")
		SERVER_PID=""
	done
}

# rss_kib PID: resident memory of a process, KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# rss_sampler_start PID...: samples their RSS every 200 ms in the background
# until rss_sampler_stop, which sets PEAK_RSS[PID] (KiB).
declare -A PEAK_RSS=()
rss_sampler_start() {
	local file="$BENCH_DIR/rss-samples.txt"
	: >"$file"
	(
		while :; do
			for pid in "$@"; do
				printf '%s %s\n' "$pid" "$(rss_kib "$pid" 2>/dev/null || echo 0)"
			done
			sleep 0.2
		done
	) >>"$file" &
	RSS_SAMPLER=$!
}
rss_sampler_stop() {
	local pid kib
	stop_pid "$RSS_SAMPLER" "the RSS sampler"
	RSS_SAMPLER=""
	PEAK_RSS=()
	while read -r pid kib; do
		PEAK_RSS[$pid]=$kib
	done < <(awk '$2 > max[$1] { max[$1] = $2 } END { for (p in max) print p, max[p] }' \
		"$BENCH_DIR/rss-samples.txt")
}

# scaleout_fanout LABEL LOADGEN ARGS...: one fan-out row of the scaleout
# table (loadgen's, with a first column naming the setup).
scaleout_fanout() {
	local label=$1
	shift
	"$LOADGEN" --stream-path "$stream_path" "$@" |
		awk -v label="$label" -v title="$SCALEOUT_FANOUT_TITLE" '
			/^### / { print "### " title; next }
			/^\| subscribers/ { print "| setup " $0; next }
			/^\|-/ { print "|---" $0; next }
			/^\| / { print "| " label " " $0; next }
			{ print }' | tee -a "$RESULTS"
}

# machine_ticks: "busy total" clock ticks of the whole machine (all cores,
# every process; idle and iowait are not busy), from /proc/stat.
machine_ticks() {
	head -n 1 /proc/stat | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }'
}

# CPU_NAMES / CPU_PIDS: the processes whose CPU h2load_spread measures.
CPU_NAMES=()
CPU_PIDS=()

# h2load_spread OUT CLIENTS REQUESTS "ADDR..." [H2LOAD ARGS...]: one h2load
# per address, all at once, the clients and requests split evenly among
# them, each publishing the bench body to its address (with SPREAD_LOG set,
# also --log-file SPREAD_LOG.<i>). Sets SP_TOTAL, SP_2XX, SP_WALL (of the
# whole), SP_RPS (2xx over that wall time), SP_EACH (each h2load's own
# requests/s), SP_H2CPU (all h2loads', % of a core), SP_CPU (each of
# CPU_NAMES and the sum, % of a core), SP_CPU_PCT (name -> %, one decimal) and
# SP_MACHINE (the whole machine, every process, % of a core).
declare -A SP_CPU_PCT=()
h2load_spread() {
	local out=$1 clients=$2 requests=$3 addrs i n t0=() t1=() pids=() failed=0 real user sys m0 m1
	read -r -a addrs <<<"$4"
	shift 4
	n=${#addrs[@]}
	for i in "${!CPU_PIDS[@]}"; do t0[i]=$(cpu_ticks "${CPU_PIDS[i]}"); done
	m0=$(machine_ticks)
	local TIMEFORMAT='%R %U %S'
	{ time {
		for i in "${!addrs[@]}"; do
			local log_args=()
			[ -z "${SPREAD_LOG:-}" ] || log_args=(--log-file "$SPREAD_LOG.$i")
			h2load --h1 -d "$PUBLISH_BODY" -H "Authorization: Bearer $TOKEN" \
				-H 'Content-Type: application/json' -c "$((clients / n))" \
				-n "$((requests / n))" "${log_args[@]}" "$@" \
				"http://${addrs[i]}/api/widgets/bench" >"$out.$i" 2>&1 &
			pids+=($!)
		done
		for i in "${!pids[@]}"; do
			wait "${pids[i]}" || failed=$((failed + 1))
		done
	}; } 2>"$out.time"
	for i in "${!CPU_PIDS[@]}"; do t1[i]=$(cpu_ticks "${CPU_PIDS[i]}"); done
	m1=$(machine_ticks)
	SP_MACHINE=$(awk -v a="$m0" -v b="$m1" -v cores="$(nproc)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%.0f", (y[2] > x[2] ? 100 * cores * (y[1] - x[1]) / (y[2] - x[2]) : 0) }')
	[ "$failed" -eq 0 ] || warn "$failed h2load runs failed (see $out.*)"
	read -r real user sys <"$out.time"
	SP_WALL=$real
	read -r SP_TOTAL SP_2XX SP_EACH < <(for i in "${!addrs[@]}"; do cat "$out.$i"; done | awk '
		/^finished in/ { each = each (each == "" ? "" : " + ") sprintf("%.0f", $4) }
		/^requests:/ { total += $2 }
		/^status codes:/ { ok += $3 }
		END { printf "%d %d %s\n", total, ok, each }')
	SP_RPS=$(awk -v ok="$SP_2XX" -v real="$real" 'BEGIN { printf "%.0f", ok / real }')
	SP_H2CPU=$(awk -v u="$user" -v s="$sys" -v real="$real" 'BEGIN { printf "%.0f", 100 * (u + s) / real }')
	local hz sum=0 pct parts=()
	hz=$(getconf CLK_TCK)
	SP_CPU_PCT=()
	for i in "${!CPU_PIDS[@]}"; do
		SP_CPU_PCT[${CPU_NAMES[i]}]=$(awk -v a="${t0[i]}" -v b="${t1[i]}" -v hz="$hz" \
			-v real="$real" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / real }')
		pct=$(printf '%.0f' "${SP_CPU_PCT[${CPU_NAMES[i]}]}")
		parts+=("${CPU_NAMES[i]} $pct")
		sum=$((sum + pct))
	done
	if [ "${#parts[@]}" -eq 1 ]; then
		SP_CPU="$sum %"
	else
		SP_CPU="$(printf '%s + ' "${parts[@]}")"
		SP_CPU="${SP_CPU% + } = $sum %"
	fi
}

# frame_bytes VIEW_ADDR PUBLISH_ADDR: the bytes of one `update` event of the
# bench widget (a 16-digit number, as loadgen publishes) on a viewer's
# stream at VIEW_ADDR, published through PUBLISH_ADDR (SSE text, without the
# chunked coding's few bytes).
frame_bytes() {
	local out="$BENCH_DIR/frame.txt" curl_pid
	curl -sN --max-time 2 -o "$out" "http://$1$stream_path" &
	curl_pid=$!
	sleep 0.5
	curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' \
		--data '{"kind":"number","value":1765432101234567.0}' \
		"http://$2/api/widgets/bench.latency"
	wait "$curl_pid" 2>/dev/null || true
	LC_ALL=C awk 'BEGIN { RS = "" } /event: update/ { n = length($0) + 2 } END { print n + 0 }' "$out"
}

run_scaleout() {
	if $baseline; then
		warn "scaleout: baseline-server has no shared log; skipped"
		return 0
	fi
	ensure_h2load
	command -v redis-server >/dev/null || die "scaleout needs redis-server (scripts/setup.sh installs it)"
	local viewers=10000 rate=10 seconds=20 warmup=2 requests=100000 clients=64
	local lat_rate=1000 lat_seconds=10 lat_connections=8
	if $quick; then
		viewers=1000
		seconds=3
		warmup=1
		requests=10000
		lat_seconds=3
	fi
	PUBLISH_BODY="$BENCH_DIR/publish-body.json"
	printf '%s' '{"kind":"number","value":42.5}' >"$PUBLISH_BODY"
	SCALEOUT_FANOUT_TITLE="Scale-out fan-out: $viewers viewers × $rate events/s, ${seconds}s (same client; redis-server: --appendonly yes --appendfsync always)"
	local fanout=(fanout --subscribers "$viewers" --rate "$rate" --seconds "$seconds" --warmup "$warmup")
	local throughput=() latency=() memory=() commands=() notes=() line
	local rest started wall seq0 seq1 published a b addr_a addr_b pid_a pid_b name calls usec frame
	local hz label inst count rest_kib peak_kib total ok r each w cpu h2 machine
	hz=$(getconf CLK_TCK)

	# scaleout_publish LABEL "ADDR..." KEY: publish throughput (CLIENTS over
	# the addresses, REQUESTS in all) and latency (LAT_RATE/s over
	# LAT_CONNECTIONS) with h2load_spread and CPU_NAMES / CPU_PIDS; with a
	# redis-server running, also its commands and CPU during the throughput.
	scaleout_publish() {
		local label=$1 addrs=$2 key=$3 p50 p99 max seq0 seq1 ticks0 ticks1 name calls usec
		log "scaleout ($label): publish throughput, $requests requests, $clients clients"
		if [ -n "$REDIS_PORT" ]; then
			seq0=$(redis_seq)
			rcli config resetstat >/dev/null
			ticks0=$(cpu_ticks "$REDIS_PID")
		fi
		h2load_spread "$BENCH_DIR/h2load-scaleout-$key" "$clients" "$requests" "$addrs"
		[ "$SP_2XX" -eq "$requests" ] ||
			warn "scaleout ($label): only $SP_2XX of $requests publishes got a 2xx (see $BENCH_DIR/h2load-scaleout-$key.*)"
		throughput+=("$label|$SP_TOTAL|$SP_2XX|$SP_RPS|$SP_EACH|${SP_WALL}s|$SP_CPU|$SP_H2CPU %|$SP_MACHINE %")
		if [ -n "$REDIS_PORT" ]; then
			ticks1=$(cpu_ticks "$REDIS_PID")
			redis_commands >"$BENCH_DIR/redis-commands-$key.txt"
			seq1=$(redis_seq)
			published=$((seq1 - seq0))
			while read -r name calls usec; do
				commands+=("$label: throughput ($published events in ${SP_WALL}s)|$name|$calls|$(awk -v c="$calls" \
					-v p="$published" -v w="$SP_WALL" -v u="$usec" 'BEGIN { printf "%.2f|%.0f|%.1f", c / p, c / w, u / c }')")
			done < <(sort -k2,2nr "$BENCH_DIR/redis-commands-$key.txt")
			notes+=("$label, throughput run: $(awk -v t0="$ticks0" -v t1="$ticks1" -v hz="$hz" -v w="$SP_WALL" -v p="$published" 'BEGIN {
				cpu = (t1 - t0) / hz
				printf "redis-server used %.0f %% of a core for %d publishes in %.2f s: %.1f µs of its CPU per publish; at 100 %% of its one core that is ≈ %.0f publishes/s (extrapolated)", 100 * cpu / w, p, w, 1e6 * cpu / p, p / cpu }'). Redis then held $(rcli info memory | sed -n 's/^used_memory_human://p') (used_memory), a stream of $(rcli xlen pulseboard:events) events (--history-size 10000), $(rcli info persistence | sed -n 's/^aof_current_size:\(.*\)/an AOF of \1 bytes/p' | grep . || echo 'no AOF').")
		fi
		sleep 1
		log "scaleout ($label): $lat_rate publishes/s for ${lat_seconds}s"
		rm -f "$BENCH_DIR/h2load-scaleout-$key-latency.log".*
		SPREAD_LOG="$BENCH_DIR/h2load-scaleout-$key-latency.log"
		h2load_spread "$BENCH_DIR/h2load-scaleout-$key-latency" "$lat_connections" \
			"$((lat_rate * lat_seconds))" "$addrs" --rps "$((lat_rate / lat_connections))"
		SPREAD_LOG=""
		cat "$BENCH_DIR/h2load-scaleout-$key-latency.log".* >"$BENCH_DIR/h2load-scaleout-$key-latency.log"
		read -r p50 p99 max < <(latency_quantiles "$BENCH_DIR/h2load-scaleout-$key-latency.log")
		[ "$SP_2XX" -eq "$((lat_rate * lat_seconds))" ] ||
			warn "scaleout ($label): only $SP_2XX of $((lat_rate * lat_seconds)) paced publishes got a 2xx"
		latency+=("$label|$SP_RPS|$SP_2XX of $SP_TOTAL|$p50 ms|$p99 ms|$max ms|$SP_CPU|$SP_MACHINE %")
	}

	# Fan-out: one embedded instance, the shipped default (fresh --data-dir,
	# --sync full); then a fresh redis-server with two fresh instances:
	# viewers split between a and b, publishes alternating; then all viewers
	# on a, publishes to a (b only tails the log). Round 1 also measures
	# memory, Redis's commands and an event's size.
	local round suffix header=() cpu_pids
	for ((round = 1; round <= scaleout_rounds; round++)); do
		suffix=""
		[ "$scaleout_rounds" -le 1 ] || suffix=" (round $round)"
		log "scaleout: fan-out$suffix, one embedded instance"
		fresh_data_dir
		start_server scaleout-embedded --data-dir "$DATA_DIR" --sync full
		rest=$(rss_kib "$SERVER_PID")
		rss_sampler_start "$SERVER_PID"
		scaleout_fanout "embedded, one instance$suffix" "${header[@]}" --addr "$SERVER_ADDR" \
			--pid "$SERVER_PID" --cpu-pid "server=$SERVER_PID" "${fanout[@]}"
		header=(--no-header)
		rss_sampler_stop
		[ "$round" -gt 1 ] ||
			memory+=("embedded, one instance|the instance|$viewers|$rest|${PEAK_RSS[$SERVER_PID]}")
		stop_server

		log "scaleout: fan-out$suffix, two instances on one redis-server (--appendonly yes --appendfsync always)"
		start_redis scaleout-fanout yes
		start_instances 2
		addr_a=${INSTANCE_ADDRS[0]}
		addr_b=${INSTANCE_ADDRS[1]}
		pid_a=${INSTANCE_PIDS[0]}
		pid_b=${INSTANCE_PIDS[1]}
		cpu_pids="a=$pid_a,b=$pid_b,redis=$REDIS_PID"
		a=$(rss_kib "$pid_a")
		b=$(rss_kib "$pid_b")
		rss_sampler_start "$pid_a" "$pid_b"
		seq0=$(redis_seq)
		rcli config resetstat >/dev/null
		started=$(date +%s.%N)
		scaleout_fanout "two instances on Redis, viewers split$suffix" --no-header --addr "$addr_a" \
			--pid "$pid_a" --subscribe-addr "$addr_a,$addr_b" --publish-addr "$addr_a,$addr_b" \
			--cpu-pid "$cpu_pids" "${fanout[@]}"
		wall=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
		redis_commands >"$BENCH_DIR/redis-commands-fanout.txt"
		seq1=$(redis_seq)
		rss_sampler_stop
		if [ "$round" -eq 1 ]; then
			memory+=("two instances on Redis|a|$((viewers / 2))|$a|${PEAK_RSS[$pid_a]}")
			memory+=("two instances on Redis|b|$((viewers - viewers / 2))|$b|${PEAK_RSS[$pid_b]}")
			published=$((seq1 - seq0))
			while read -r name calls usec; do
				commands+=("fan-out, 2 instances ($published events in ${wall}s)|$name|$calls|$(awk -v c="$calls" \
					-v p="$published" -v w="$wall" -v u="$usec" 'BEGIN { printf "%.2f|%.1f|%.1f", c / p, c / w, u / c }')")
			done < <(sort -k2,2nr "$BENCH_DIR/redis-commands-fanout.txt")
		fi
		scaleout_fanout "one instance on Redis, all viewers (b only tails)$suffix" --no-header \
			--addr "$addr_a" --pid "$pid_a" --cpu-pid "$cpu_pids" "${fanout[@]}"
		if [ "$round" -eq 1 ]; then
			frame=$(frame_bytes "$addr_b" "$addr_a")
			notes+=("One \`update\` of the bench widget (a 16-digit number) as a viewer of b receives it, published through a: $frame bytes of SSE (plus the chunked coding's 4–8 bytes when sent alone).")
		fi
		stop_scaleout
	done

	# Publishing: one embedded instance (fresh), then two fresh instances on a
	# fresh redis-server, h2load split over them.
	fresh_data_dir
	start_server scaleout-embedded-publish --data-dir "$DATA_DIR" --sync full
	CPU_NAMES=(server)
	CPU_PIDS=("$SERVER_PID")
	scaleout_publish "embedded, one instance (--sync full)" "$SERVER_ADDR $SERVER_ADDR" embedded
	stop_server

	log "scaleout: publishing, two instances on one redis-server (--appendonly yes --appendfsync always)"
	start_redis scaleout-publish yes
	start_instances 2
	CPU_NAMES=(a b redis)
	CPU_PIDS=("${INSTANCE_PIDS[0]}" "${INSTANCE_PIDS[1]}" "$REDIS_PID")
	scaleout_publish "two instances on Redis, AOF always" "${INSTANCE_ADDRS[0]} ${INSTANCE_ADDRS[1]}" redis
	# Diagnostic: more publishers in flight. If 2xx/s grows with them, the
	# bound at 64 is each publish's round trips (the wait), not a resource.
	log "scaleout (Redis, AOF always): $((clients * 4)) publishers (diagnostic)"
	h2load_spread "$BENCH_DIR/h2load-scaleout-redis-x4" "$((clients * 4))" "$requests" \
		"${INSTANCE_ADDRS[0]} ${INSTANCE_ADDRS[1]}"
	throughput+=("two instances on Redis, AOF always, $((clients * 4)) publishers (diagnostic)|$SP_TOTAL|$SP_2XX|$SP_RPS|$SP_EACH|${SP_WALL}s|$SP_CPU|$SP_H2CPU %|$SP_MACHINE %")
	# What following the log costs an instance: a third one, c, with no
	# viewers and no publishes, while a and b take LAT_RATE publishes/s.
	sleep 1
	start_instances 1
	log "scaleout (Redis, AOF always): $lat_rate publishes/s to a and b; c only follows the log"
	CPU_NAMES=(a b c redis)
	CPU_PIDS=("${INSTANCE_PIDS[@]}" "$REDIS_PID")
	h2load_spread "$BENCH_DIR/h2load-scaleout-follow" "$lat_connections" "$((lat_rate * lat_seconds))" \
		"${INSTANCE_ADDRS[0]} ${INSTANCE_ADDRS[1]}" --rps "$((lat_rate / lat_connections))"
	notes+=("Following the log: with $SP_RPS publishes/s to a and b (AOF always), a third instance c with no viewers and no publishes used ${SP_CPU_PCT[c]} % of a core: $(awk -v p="${SP_CPU_PCT[c]}" -v r="$SP_RPS" 'BEGIN { printf "%.0f", 1e4 * p / r }') µs per event (its tail: XREAD, parsing, folding into its hub). CPU then: $SP_CPU (machine $SP_MACHINE %).")
	stop_scaleout

	# The same without the AOF: what the fsync costs.
	log "scaleout: two instances on one redis-server (--appendonly no)"
	start_redis scaleout-noaof no
	start_instances 2
	CPU_NAMES=(a b redis)
	CPU_PIDS=("${INSTANCE_PIDS[0]}" "${INSTANCE_PIDS[1]}" "$REDIS_PID")
	scaleout_publish "two instances on Redis, no AOF" "${INSTANCE_ADDRS[0]} ${INSTANCE_ADDRS[1]}" redis-noaof
	stop_scaleout

	{
		echo
		echo "### Scale-out memory during the fan-out"
		echo
		echo "| setup | instance | viewers | RSS at rest | peak RSS | per viewer |"
		echo "|---|---|---|---|---|---|"
		for line in "${memory[@]}"; do
			IFS='|' read -r label inst count rest_kib peak_kib <<<"$line"
			awk -v l="$label" -v i="$inst" -v c="$count" -v r="$rest_kib" -v p="$peak_kib" 'BEGIN {
				printf "| %s | %s | %d | %.1f MiB | %.1f MiB | %.1f KiB |\n", l, i, c, r / 1024, p / 1024, (p - r) / c }'
		done
		echo
		echo "### Scale-out publish throughput: 2 × h2load --h1 -c $((clients / 2)) -n $((requests / 2)) at once ($clients publishers), 30-byte number body"
		echo
		echo "| setup | requests | 2xx | 2xx/s (all, over the wall time) | vs 10,000/s target | each h2load's req/s | wall | server-side CPU (% of a core) | h2load CPU | machine CPU (every process) |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		for line in "${throughput[@]}"; do
			IFS='|' read -r label total ok r each w cpu h2 machine <<<"$line"
			echo "| $label | $total | $ok | $r | $(awk -v r="$r" 'BEGIN { printf "%.2f×", r / 10000 }') | $each | $w | $cpu | $h2 | $machine |"
		done
		echo
		echo "### Scale-out publish latency at $lat_rate publishes/s (h2load --rps $((lat_rate / lat_connections)) × $lat_connections connections, split over the instances, ${lat_seconds}s)"
		echo
		echo "| setup | requests/s | 2xx | p50 | p99 | max | server-side CPU | machine CPU |"
		echo "|---|---|---|---|---|---|---|---|"
		for line in "${latency[@]}"; do
			echo "| ${line//|/ | } |"
		done
		echo
		echo "### Redis commands (INFO commandstats; commands run by scripts included)"
		echo
		echo "| run | command | calls | per event appended | per second | µs per call (inside Redis) |"
		echo "|---|---|---|---|---|---|"
		for line in "${commands[@]}"; do
			echo "| ${line//|/ | } |"
		done
		echo
		for line in "${notes[@]}"; do
			echo "- $line"
		done
	} | tee -a "$RESULTS"
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
