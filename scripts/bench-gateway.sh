#!/usr/bin/env bash
# bench-gateway.sh: issue 6's speed figures for `flowgate gateway`, each
# process apart so that its CPU shows (the broker is kfakeserver, a
# loopback kfake; a real Kafka would be on other hosts).
#
#   scripts/bench-gateway.sh [udp] [argus] [latency]     (default: all three)
#
#   udp      NetFlow v9 and IPFIX over UDP -> gateway -> kafka:// JSON: for
#            each rate of RATES, RUNS runs of DUR, formats interleaved; the
#            topic is counted at the end (every record numbered: lost and
#            duplicated ones), with the gateway's /metrics.
#   argus    a topic pre-filled with FILL argus5 records -> gateway (kafka://
#            source, format=argus) -> argus: file; timed until the sink has
#            them all, the file counted with codecs/argus.
#   latency  UDP IPFIX at LAT_RATE records/s for LAT_DUR -> gateway ->
#            kafka:// JSON, consumed as it goes: consume time minus each
#            record's send time (its flowEndNanoseconds).
#
# Environment (defaults): RUNS=3 DUR=15s RATES="200000 300000 400000"
# FORMATS="ipfix nf9" FILL=5000000 LAT_RATE=100000 LAT_DUR=15s PARTS=4
# EXPORTERS=8 SINK=kafka (json: a json: file sink instead, item udp only) GWOPTS="" (options of the UDP source, e.g.
# workers=2&rcvbuf=32M) REV=HEAD (the commit built, from git archive, so
# that nobody's uncommitted edits are measured; REV=worktree copies the
# working tree) TOOLS_REV="" (gwbench and kfakeserver from this commit
# instead) PATCH="" (patch files, comma-separated, applied to the
# REV copy: a proposed fix measured without touching the tree)
# PROFILE="" (1: the gateway serves net/http/pprof on 127.0.0.1:26060, and
# each udp/argus run saves a CPU profile of its measured window to
# cpu.pprof in its directory: go tool pprof -top bin/flowgate FILE)
# WORK=/tmp/bench-gateway.
#
# Output: one JSON line per process and step in $WORK/log.jsonl, and the
# summary table in $WORK/results.txt (also printed). CPU is user+system
# seconds of each process over the measured window (/proc/PID/stat).
# Input: the flows that `flowgate sensor` makes of .bench/gen-1000000.pcap
# (conformance/tools/genpcap makes it), numbered by gwbench (record i
# starts at 2020-01-01 + i ms; see conformance/tools/gwbench).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"
RUNS=${RUNS:-3}
DUR=${DUR:-15s}
RATES=${RATES:-"200000 300000 400000"}
FORMATS=${FORMATS:-"ipfix nf9"}
FILL=${FILL:-5000000}
LAT_RATE=${LAT_RATE:-100000}
LAT_DUR=${LAT_DUR:-15s}
PARTS=${PARTS:-4}
EXPORTERS=${EXPORTERS:-8}
SINK=${SINK:-kafka}
GWOPTS=${GWOPTS:-}
REV=${REV:-HEAD}
PATCH=${PATCH:-}
TOOLS_REV=${TOOLS_REV:-}
PROFILE=${PROFILE:-}
WORK=${WORK:-/tmp/bench-gateway}
items=${*:-udp argus latency}

mkdir -p "$WORK/bin"
log=$WORK/log.jsonl
res=$WORK/results.txt
: >"$res"
say() { echo "$*" | tee -a "$res"; }

# --- build -----------------------------------------------------------------
src=$WORK/src
rm -rf "$src" && mkdir -p "$src"
if [ "$REV" = worktree ]; then
	# A copy of the working tree as it is now, others' edits included.
	tar -C "$root" --exclude=./.git --exclude=./.bench -cf - . | tar -x -C "$src"
else
	git -C "$root" archive "$REV" | tar -x -C "$src"
fi
# TOOLS_REV: conformance/tools (gwbench, kfakeserver) from another commit,
# to measure an older gateway with the current bench.
if [ -n "$TOOLS_REV" ]; then
	rm -rf "$src/conformance/tools"
	git -C "$root" archive "$TOOLS_REV" conformance/tools | tar -x -C "$src"
fi
# PATCH: patches (-p1) applied to the copy, to measure a proposed fix
# without touching the tree.
for p in ${PATCH//,/ }; do
	patch -d "$src" -p1 <"$p" >/dev/null
done
if [ -n "$PROFILE" ]; then
	# net/http/pprof on its own port, in this copy only.
	cat >"$src/cmd/flowgate/zz_bench_pprof.go" <<-'EOF'
		package main

		import (
			"net/http"
			_ "net/http/pprof"
		)

		func init() { go http.ListenAndServe("127.0.0.1:26060", nil) }
	EOF
fi
(cd "$src" && go build -o "$WORK/bin/flowgate" ./cmd/flowgate &&
	go build -o "$WORK/bin/gwbench" ./conformance/tools/gwbench &&
	go build -o "$WORK/bin/kfakeserver" ./conformance/tools/kfakeserver)
fg=$WORK/bin/flowgate
gwb=$WORK/bin/gwbench
say "== bench-gateway $(date -u +%FT%TZ) rev $(git -C "$root" rev-parse --short "${REV/worktree/HEAD}") ($REV${PATCH:+ + $PATCH}) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- input -----------------------------------------------------------------
in=$WORK/gen.argus
if [ ! -s "$in" ]; then
	pcap=$root/.bench/gen-1000000.pcap
	[ -f "$pcap" ] || { echo "no $pcap: go run ./conformance/tools/genpcap (see scripts/bench-sensor.sh)" >&2; exit 1; }
	"$fg" sensor -r "$pcap" -w "$in"
fi

# --- processes ---------------------------------------------------------------
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# cpu PID: user+system clock ticks so far (fields 14 and 15 of stat; the
# command name in parentheses may hold spaces, so cut after it).
cpu() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $s
	echo $((${12} + ${13}))
}
hz=$(getconf CLK_TCK)
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
# field JSON KEY: a number or string of a one-line JSON object.
field() { sed -n "s/.*\"$2\":\\(\"[^\"]*\"\\|[-0-9.e+]*\\).*/\\1/p" <<<"$1" | tr -d '"'; }

"$WORK/bin/kfakeserver" -port 0 -partitions "$PARTS" >"$WORK/kfake.addr" 2>"$WORK/kfake.log" &
kpid=$!
pids+=("$kpid")
for _ in $(seq 100); do [ -s "$WORK/kfake.addr" ] && break; sleep 0.1; done
K=$(head -n1 "$WORK/kfake.addr")
[ -n "$K" ] || { echo "kfakeserver did not start" >&2; cat "$WORK/kfake.log" >&2; exit 1; }
say "broker: kfakeserver $K (pid $kpid, $PARTS partitions per topic)"

gw_pid=
metrics=127.0.0.1:29800
# start_gw CONFIG: runs the gateway, waits for its "running" line.
start_gw() {
	local dir
	dir=$(dirname "$1")
	(cd "$dir" && exec "$fg" gateway -c "$1" 2>"$dir/gw.err") &
	gw_pid=$!
	pids+=("$gw_pid")
	for _ in $(seq 300); do
		grep -q running "$dir/gw.err" 2>/dev/null && return 0
		kill -0 "$gw_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "gateway did not start:" >&2
	cat "$dir/gw.err" >&2
	exit 1
}
stop_gw() {
	kill -TERM "$gw_pid"
	wait "$gw_pid" || echo "gateway exit status $?" >&2
}

# prof DIR SECONDS: with PROFILE, a CPU profile of the gateway in the
# background (wait_prof collects it).
prof_pid=
prof() {
	[ -n "$PROFILE" ] || return 0
	curl -s -o "$1/cpu.pprof" "http://127.0.0.1:26060/debug/pprof/profile?seconds=$2" &
	prof_pid=$!
}
wait_prof() {
	[ -n "$prof_pid" ] && wait "$prof_pid" || true
	prof_pid=
}

run=$$
# --- 1: UDP -> Kafka JSON -----------------------------------------------------
bench_udp() {
	say ""
	say "== udp: NetFlow v9/IPFIX over UDP -> gateway -> ${SINK} JSON; $RUNS runs of $DUR per rate, $EXPORTERS exporters"
	say "fmt   rate/s   run  sent      in-topic  missing  dup  src_rec   drops  send_s drain_s  gw_cpu_s  gw_us/rec  broker_cpu_s  sender_cpu_s  load1"
	local rate r f dir topic sink src q
	for rate in $RATES; do
		for r in $(seq "$RUNS"); do
			for f in $FORMATS; do
				dir=$WORK/udp-$f-$rate-$r
				rm -rf "$dir" && mkdir -p "$dir"
				topic=udp-$f-$rate-$r-$run
				if [ "$SINK" = json ]; then
					sink="json:$dir/out.json"
				else
					sink="kafka://$K/$topic?format=json"
				fi
				src=ipfix+udp
				[ "$f" = nf9 ] && src=nf+udp
				q=
				[ -n "$GWOPTS" ] && q="?$GWOPTS"
				cat >"$dir/gw.yaml" <<-EOF
					version: 1
					metrics: "$metrics"
					pipelines:
					  - name: bench
					    sources: ["$src://127.0.0.1:24739$q"]
					    sinks: ["$sink"]
				EOF
				# Topics exist before a producer writes (kgo does not ask
				# the broker to create them): as in production.
				[ "$SINK" = kafka ] && "$gwb" topic -brokers "$K" -partitions "$PARTS" "$topic"
				start_gw "$dir/gw.yaml"
				local g0 b0 g1 b1 sent m wm cnt
				g0=$(cpu "$gw_pid")
				b0=$(cpu "$kpid")
				prof "$dir" $((${DUR%s} + 6)) # the sender encodes first (idle gateway: no samples)
				sent=$("$gwb" send -to 127.0.0.1:24739 -format "$f" -in "$in" -rate "$rate" -duration "$DUR" -exporters "$EXPORTERS")
				echo "$sent" >>"$log"
				local n
				n=$(field "$sent" records)
				wm=flowgate_sink_records_total
				[ "$SINK" = kafka ] && wm=flowgate_sink_kafka_produced_records_total
				m=$("$gwb" metrics -url "http://$metrics/metrics" -wait-sink "$n" -wait-metric "$wm" -timeout 60s || true)
				g1=$(cpu "$gw_pid")
				b1=$(cpu "$kpid")
				echo "$m" >>"$log"
				wait_prof
				stop_gw
				if [ "$SINK" = json ]; then
					cnt=$("$gwb" count -n "$n" "$dir/out.json" || true)
				else
					cnt=$("$gwb" count -brokers "$K" -topic "$topic" -n "$n" -idle 10s || true)
				fi
				echo "$cnt" >>"$log"
				local drops
				drops=$({ grep -o 'dropped[^ ]* [0-9.e+]*' <<<"$m" || true; } | awk '{s += $2} END {print s + 0}')
				printf '%-5s %-8s %-4s %-9s %-9s %-8s %-4s %-9s %-6s %-6s %-7s %-9s %-10s %-13s %-13s %s\n' \
					"$f" "$rate" "$r" "$n" "$(field "$cnt" unique)" "$(field "$cnt" missing)" "$(field "$cnt" duplicates)" \
					"$(field "$m" source_records_total)" "$drops" "$(field "$sent" send_s)" "$(field "$m" wait_s)" \
					"$(secs $((g1 - g0)))" "$(awk -v t=$((g1 - g0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')" \
					"$(secs $((b1 - b0)))" "$(field "$sent" send_cpu_s)" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$res"
				sed -n 's/.*"nonzero_loss_counters":\(\[[^]]*\]\).*/   loss counters: \1/p' <<<"$m" | tee -a "$res"
			done
		done
	done
}

# --- 2: Kafka argus5 -> Argus files -------------------------------------------
bench_argus() {
	say ""
	say "== argus: $FILL argus5 records in a topic -> gateway (kafka:// source) -> argus: file; $RUNS runs"
	local topic=fill-$run fill b0 b1
	"$gwb" topic -brokers "$K" -partitions "$PARTS" "$topic"
	b0=$(cpu "$kpid")
	fill=$("$gwb" fill -brokers "$K" -topic "$topic" -format argus -n "$FILL" -in "$in")
	b1=$(cpu "$kpid")
	echo "$fill" >>"$log"
	say "fill: $(field "$fill" records) records in $(field "$fill" seconds) s ($(field "$fill" rate)/s), producer cpu $(awk -v u="$(field "$fill" cpu_user_s)" -v s="$(field "$fill" cpu_sys_s)" 'BEGIN { print u + s }') s, broker cpu $(secs $((b1 - b0))) s"
	say "run  start_to_all_s  first_to_all_s  rate/s(first..all)  in-file  missing  dup  gw_cpu_s  gw_us/rec  broker_cpu_s"
	local r dir m cnt g0 g1
	for r in $(seq "$RUNS"); do
		dir=$WORK/argus-$r
		rm -rf "$dir" && mkdir -p "$dir"
		cat >"$dir/gw.yaml" <<-EOF
			version: 1
			metrics: "$metrics"
			pipelines:
			  - name: bench
			    sources: ["kafka://$K/$topic?format=argus&group=bench-$run-$r"]
			    sinks: ["argus:$dir/out.argus"]
		EOF
		b0=$(cpu "$kpid")
		start_gw "$dir/gw.yaml"
		g0=$(cpu "$gw_pid")
		prof "$dir" 5
		m=$("$gwb" metrics -url "http://$metrics/metrics" -wait-sink "$FILL" -timeout 300s || true)
		g1=$(cpu "$gw_pid")
		b1=$(cpu "$kpid")
		echo "$m" >>"$log"
		wait_prof
		stop_gw
		cnt=$("$gwb" count -n "$FILL" "$dir/out.argus" || true)
		echo "$cnt" >>"$log"
		printf '%-4s %-15s %-15s %-19s %-8s %-8s %-4s %-9s %-10s %s\n' "$r" "$(field "$m" wait_s)" "$(field "$m" first_to_done_s)" \
			"$(awk -v n="$FILL" -v t="$(field "$m" first_to_done_s)" 'BEGIN { if (t > 0) printf "%d", n / t }')" \
			"$(field "$cnt" unique)" "$(field "$cnt" missing)" "$(field "$cnt" duplicates)" "$(secs $((g1 - g0)))" \
			"$(awk -v t=$((g1 - g0)) -v hz="$hz" -v n="$FILL" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')" "$(secs $((b1 - b0)))" | tee -a "$res"
		rm -f "$dir/out.argus"
	done
}

# --- 3: latency UDP IPFIX -> Kafka JSON -------------------------------------------
bench_latency() {
	say ""
	say "== latency: IPFIX over UDP at $LAT_RATE/s for $LAT_DUR -> gateway -> ${SINK} JSON, consumed as it goes; $RUNS runs"
	say "run  sent      consumed  missing  dup  p50_ms  p90_ms  p99_ms  p99.9_ms  max_ms  gw_cpu_s  broker_cpu_s  sender_cpu_s  consumer_cpu_s"
	local r dir topic sent n cnt g0 g1 b0 b1 cpid
	n=$(awk -v r="$LAT_RATE" -v d="${LAT_DUR%s}" 'BEGIN { printf "%d", r * d }')
	for r in $(seq "$RUNS"); do
		dir=$WORK/lat-$r
		rm -rf "$dir" && mkdir -p "$dir"
		topic=lat-$r-$run
		cat >"$dir/gw.yaml" <<-EOF
			version: 1
			metrics: "$metrics"
			pipelines:
			  - name: bench
			    sources: ["ipfix+udp://127.0.0.1:24739"]
			    sinks: ["kafka://$K/$topic?format=json"]
		EOF
		"$gwb" topic -brokers "$K" -partitions "$PARTS" "$topic"
		start_gw "$dir/gw.yaml"
		# The consumer joins (and creates the topic) before anything is sent.
		"$gwb" count -brokers "$K" -topic "$topic" -n "$n" -lat -idle 10s >"$dir/count.json" 2>"$dir/count.err" &
		cpid=$!
		pids+=("$cpid")
		for _ in $(seq 300); do grep -q assigned "$dir/count.err" && break; sleep 0.1; done
		g0=$(cpu "$gw_pid")
		b0=$(cpu "$kpid")
		sent=$("$gwb" send -live -to 127.0.0.1:24739 -format ipfix -in "$in" -rate "$LAT_RATE" -n "$n" -exporters "$EXPORTERS")
		echo "$sent" >>"$log"
		wait "$cpid" || true
		g1=$(cpu "$gw_pid")
		b1=$(cpu "$kpid")
		cnt=$(cat "$dir/count.json")
		echo "$cnt" >>"$log"
		stop_gw
		local lat
		lat=$(sed -n 's/.*"lat_ms":{\([^}]*\)}.*/\1/p' <<<"$cnt")
		printf '%-4s %-9s %-9s %-8s %-4s %-7s %-7s %-7s %-9s %-7s %-9s %-13s %-13s %s\n' "$r" "$(field "$sent" records)" \
			"$(field "$cnt" unique)" "$(field "$cnt" missing)" "$(field "$cnt" duplicates)" \
			"$(field "{$lat}" p50)" "$(field "{$lat}" p90)" "$(field "{$lat}" p99)" "$(field "{$lat}" p999)" "$(field "{$lat}" max)" \
			"$(secs $((g1 - g0)))" "$(secs $((b1 - b0)))" "$(field "$sent" send_cpu_s)" \
			"$(awk -v u="$(field "$cnt" cpu_user_s)" -v s="$(field "$cnt" cpu_sys_s)" 'BEGIN { print u + s }')" | tee -a "$res"
	done
}

for it in $items; do
	case $it in
	udp) bench_udp ;;
	argus) bench_argus ;;
	latency) bench_latency ;;
	*) echo "unknown item $it (udp, argus, latency)" >&2; exit 2 ;;
	esac
done
say ""
say "broker cpu total: $(secs "$(cpu "$kpid")") s; JSON lines of every step: $log"
