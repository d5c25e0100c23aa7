#!/usr/bin/env bash
# Publishes realistic sample data to a running Pulseboard through its public
# HTTP API (docs/api.md), with curl, so every widget kind moves: revenue
# (number), orders per minute (series), queue depth (gauge), the build
# (status), top pages (list), deploys (log) and who is on call (text).
#
#   scripts/run.sh --config docs/examples/pulseboard.toml   # prints a token
#   PULSEBOARD_TOKEN=<token> scripts/demo.sh [--once] [URL]
#
# URL defaults to $PULSEBOARD_URL, else http://127.0.0.1:8080. The token comes
# from --token, else PULSEBOARD_TOKEN, else the first of
# PULSEBOARD_PUBLISH_TOKEN. One round every 2 s until Ctrl-C; --once publishes
# one round (every widget) and exits. The example config gives the widgets
# their titles, units, sizes and thresholds; without it they still appear, in
# the default dashboard's "Unsorted" section.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INTERVAL=2

usage() {
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

ONCE=false
URL=""
TOKEN="${PULSEBOARD_TOKEN:-}"
if [ -z "$TOKEN" ] && [ -n "${PULSEBOARD_PUBLISH_TOKEN:-}" ]; then
	TOKEN="${PULSEBOARD_PUBLISH_TOKEN%%,*}"
fi
while [ $# -gt 0 ]; do
	case "$1" in
	--once) ONCE=true ;;
	--token)
		[ $# -ge 2 ] || die "--token needs a value"
		TOKEN="$2"
		shift
		;;
	--token=*) TOKEN="${1#--token=}" ;;
	-h | --help)
		usage
		exit 0
		;;
	-*) die "unknown option $1 (see --help)" ;;
	*)
		[ -z "$URL" ] || die "give one URL (got $URL and $1)"
		URL="$1"
		;;
	esac
	shift
done
URL="${URL:-${PULSEBOARD_URL:-http://127.0.0.1:8080}}"
URL="${URL%/}"
command -v curl >/dev/null || die "curl is not installed"
[ -n "$TOKEN" ] || die "no publish token: pass --token or set PULSEBOARD_TOKEN (the server prints the token it generated when it starts)"

# The token goes to curl in a file, not on its command line, where any user
# could read it in the process list.
HEADERS="$(mktemp)"
trap 'rm -f "$HEADERS"' EXIT
trap 'printf "\n"; log "stopped after $ROUND rounds"; exit 0' INT TERM
chmod 600 "$HEADERS"
printf 'Authorization: Bearer %s\n' "$TOKEN" >"$HEADERS"

# POSTs a JSON body to a widget; dies with the server's JSON error if refused.
publish() {
	local id="$1" body="$2" response status
	if ! response="$(curl -sS --connect-timeout 3 --max-time 10 -w '\n%{http_code}' \
		-H "@$HEADERS" -H 'Content-Type: application/json' -d "$body" "$URL/api/widgets/$id")"; then
		die "cannot reach Pulseboard at $URL (is it running? scripts/run.sh starts it)"
	fi
	status="${response##*$'\n'}"
	response="${response%$'\n'*}"
	case "$status" in
	200) ;;
	401) die "the server refused the token (401): $response" ;;
	*) die "publishing to $id failed ($status): $response" ;;
	esac
}

# A random integer in [$1, $2].
rand() { printf '%d' $(($1 + RANDOM % ($2 - $1 + 1))); }

# $1 bounded to [$2, $3].
clamp() {
	local v="$1"
	((v < $2)) && v=$2
	((v > $3)) && v=$3
	printf '%d' "$v"
}

# Cents as a decimal: 745025 -> 7450.25.
money() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# --- the shop's state, drifting a little every round -------------------------

ROUND=0
REVENUE_CENTS=$((420000 + RANDOM % 150000)) # starts in the red: below 5000 €
WEB_ORDERS=$(rand 25 40)
APP_ORDERS=$(rand 10 20)
QUEUE=$(rand 150 350)
VERSION_MINOR=14
VERSION_PATCH=0
BUILD=1432
BUILD_STEP=0 # 0: idle, 1-3: running, then it finishes
PAGES=(/ /pricing /docs /blog/launch /signup /careers)
VIEWS=(1204 873 655 412 230 97)
PEOPLE=(Alice Bob Chidi Dana)

revenue() {
	REVENUE_CENTS=$((REVENUE_CENTS + (WEB_ORDERS + APP_ORDERS) * $(rand 60 240)))
	publish revenue "{\"value\": $(money "$REVENUE_CENTS")}"
}

orders() {
	WEB_ORDERS=$(clamp $((WEB_ORDERS + $(rand -4 4))) 5 90)
	APP_ORDERS=$(clamp $((APP_ORDERS + $(rand -3 3))) 2 60)
	publish orders "{\"lines\": {\"web\": [$WEB_ORDERS], \"app\": [$APP_ORDERS]}}"
}

queue() {
	if ((RANDOM % 12 == 0)); then
		QUEUE=$((QUEUE + $(rand 250 450))) # a batch of jobs lands
	else
		QUEUE=$((QUEUE + $(rand -40 15))) # workers drain it
	fi
	QUEUE=$(clamp "$QUEUE" 0 1000)
	publish queue "{\"value\": $QUEUE, \"max\": 1000}"
}

deploy() {
	publish deploys "{\"line\": \"$1\"}"
}

build() {
	local steps=("compiling" "running tests" "packaging") person outcome
	if ((BUILD_STEP == 0)); then
		BUILD=$((BUILD + 1))
		BUILD_STEP=1
	fi
	if ((BUILD_STEP <= 3)); then
		publish build "{\"level\": \"unknown\", \"message\": \"main #$BUILD: ${steps[BUILD_STEP - 1]} ($BUILD_STEP/3)\"}"
		BUILD_STEP=$((BUILD_STEP + 1))
		return
	fi
	BUILD_STEP=0
	person="${PEOPLE[RANDOM % ${#PEOPLE[@]}]}"
	outcome=$((RANDOM % 10))
	if ((outcome < 2)); then
		publish build "{\"level\": \"critical\", \"message\": \"main #$BUILD failed: 3 tests in checkout_test.rs\"}"
		deploy "#$BUILD not deployed: tests failed (pushed by ${person,,})"
		return
	fi
	if ((outcome < 4)); then
		publish build "{\"level\": \"warn\", \"message\": \"main #$BUILD passed on retry (flaky: search_test.rs)\"}"
	else
		publish build "{\"level\": \"ok\", \"message\": \"main #$BUILD passed in $(rand 4 9)m $(rand 10 59)s\"}"
	fi
	VERSION_PATCH=$((VERSION_PATCH + 1))
	deploy "v2.$VERSION_MINOR.$VERSION_PATCH deployed to production by ${person,,} (#$BUILD)"
}

top_pages() {
	local i rows=""
	for i in "${!PAGES[@]}"; do
		# Earlier pages are the popular ones; now and then one goes viral.
		VIEWS[i]=$((VIEWS[i] + RANDOM % (12 - i * 2) + (RANDOM % 40 == 0 ? 150 : 0)))
	done
	while read -r views page; do
		rows+="${rows:+, }{\"label\": \"$page\", \"value\": $views}"
	done < <(for i in "${!PAGES[@]}"; do printf '%d %s\n' "${VIEWS[i]}" "${PAGES[i]}"; done | sort -rn | head -5)
	publish top-pages "{\"rows\": [$rows]}"
}

oncall() {
	local n=${#PEOPLE[@]} shift=$((ROUND / 30))
	publish oncall "{\"text\": \"${PEOPLE[shift % n]} (primary), ${PEOPLE[(shift + 1) % n]} (backup)\"}"
}

round() {
	ROUND=$((ROUND + 1))
	revenue
	orders
	queue
	build
	top_pages
	if ((ROUND == 1)); then
		deploy "v2.$VERSION_MINOR.$VERSION_PATCH deployed to production by alice (#$((BUILD - 1)))"
	fi
	if ((ROUND % 30 == 1)); then
		oncall
	fi
}

curl -fs --connect-timeout 3 --max-time 10 -o /dev/null "$URL/healthz" ||
	die "cannot reach Pulseboard at $URL (is it running? scripts/run.sh starts it)"

round
if [ "$ONCE" = true ]; then
	log "published one round to $URL"
	exit 0
fi
log "publishing to $URL every ${INTERVAL}s; open $URL/d/demo (Ctrl-C stops)"
while true; do
	sleep "$INTERVAL"
	round
done
