#!/bin/sh
# bench-netflow.sh: loopback loss and CPU of `flowgate convert -r nf+udp://`
# (writing Argus) and, side by side, goflow2 v2.2.6 (writing JSON lines),
# under the same offered NetFlow v9 and IPFIX stream (issue 4 point 5).
#
#   scripts/bench-netflow.sh [seconds] [records/s] [runs]   (default: 10 500000 1)
#
# The stream: the flows softflowd 1.1.0 exports for a generated capture
# (conformance/tools/genpcap, 1M packets; `softflowd -v 10`, ~233k
# unidirectional records with one router-like template per address family,
# collected once into .bench/softflowd-gen-1000000.argus), sent by `flowgate
# convert -w nf9+udp:// / ipfix+udp://?rate=R&mtu=M` over and over for the
# given time; the MTU is chosen so that a datagram carries about 28 records.
# Each collector listens alone on a fresh port for the whole offered time
# plus a second. Printed per version and collector: records offered (the
# senders' own count), records received (flowgate: --report's "records
# decoded", written as Argus; goflow2: its data-record counter
# goflow2_flow_process_nf_flowset_records_total, writing its binary
# protobuf format: its JSON output costs ~70 us a record here and falls
# far behind), loss, collector CPU seconds (user+sys) and CPU per received
# record; medians over the runs. goflow2 reads with the system's default
# socket buffer (it has no option for it), flowgate asks for 8 MiB.
#
# goflow2 comes from the Go module proxy into a temporary GOBIN outside
# go.mod (GOFLOW2=/path/to/goflow2 uses an existing binary; none: skipped).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-10}
rate=${2:-500000}
runs=${3:-1}
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }
export PATH="$PATH:/usr/local/go/bin"
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p .bench
go build -o "$tmp/flowgate" ./cmd/flowgate
fg="$tmp/flowgate"

gf=${GOFLOW2:-}
if [ -z "$gf" ]; then
	if GOBIN="$tmp/gobin" GOFLAGS=-mod=mod go install github.com/netsampler/goflow2/v2/cmd/goflow2@v2.2.6 >"$tmp/goflow2.log" 2>&1; then
		gf="$tmp/gobin/goflow2"
	else
		echo "goflow2 v2.2.6 could not be installed (skipped):" >&2
		tail -3 "$tmp/goflow2.log" >&2
	fi
fi

# port: a UDP port above 30000 that nothing holds now.
port() {
	while :; do
		n=$(awk 'BEGIN{srand(); print 30000 + int(rand()*30000)}')
		grep -qi ":$(printf '%04X' "$n") " /proc/net/udp /proc/net/udp6 2>/dev/null || { echo "$n"; return; }
	done
}

# The records: what softflowd exports for a generated capture, as Argus.
p=.bench/gen-1000000.pcap
recs=.bench/softflowd-gen-1000000.argus
if [ ! -s "$recs" ]; then
	command -v softflowd >/dev/null || { echo "softflowd not installed (apt-get install softflowd)" >&2; exit 1; }
	[ -f "$p" ] || go run ./conformance/tools/genpcap -n 1000000 -o "$p"
	pt=$(port)
	"$fg" convert -r "nf+udp://127.0.0.1:$pt" -w "argus:$tmp/sf.argus" >"$tmp/sf.out" 2>&1 &
	c=$!
	pids="$c"
	sleep 1
	# oracles.md: -c none, -a (capture times), a table big enough.
	softflowd -d -a -c none -m 262144 -v 10 -A milli -r "$p" -n "127.0.0.1:$pt" >/dev/null 2>&1
	sleep 1
	kill -TERM "$c"
	wait "$c" || true
	pids=""
	mv "$tmp/sf.argus" "$recs"
fi
nrec=$("$fg" ra -n -r "$recs" 2>/dev/null | tail -n +2 | wc -l) # without the header line

# offer URI: sends the records to URI again and again for $secs seconds at
# $rate records/s; prints the records sent.
offer() {
	end=$(($(date +%s) + secs))
	sent=0
	while [ "$(date +%s)" -lt "$end" ]; do
		"$fg" convert --lossy --report -r "$recs" -w "$1" >"$tmp/send.out" 2>&1 || { cat "$tmp/send.out" >&2; exit 1; }
		n=$(awk '/records sent/ {print $3}' "$tmp/send.out")
		sent=$((sent + ${n:-0}))
	done
	echo "$sent"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# MTU for ~28 records a datagram: the average record size of one probe send.
probe=$(port)
"$fg" convert --lossy --report -r "$recs" -w "ipfix+udp://127.0.0.1:$probe?rate=2000000" >"$tmp/probe.out" 2>&1
# "records sent N in M messages (B bytes)": (B - 16 M) / N bytes a record.
mtu=$(awk '/records sent/ {gsub(/\(/, "", $7); printf "%d\n", 20 + 28 * ($7 - 16 * $5) / $3}' "$tmp/probe.out")
[ "${mtu:-0}" -ge 512 ] 2>/dev/null || mtu=1400

printf 'offered %s records/s for %s s (%s distinct records, mtu %s: ~28 records per datagram), %s run(s)\n' "$rate" "$secs" "$nrec" "$mtu" "$runs"
printf '%-6s %-9s %10s %10s %8s %8s %10s\n' version collector offered received loss% cpu-s us/record
for ver in nf9 ipfix; do
	for coll in flowgate goflow2; do
		[ "$coll" = goflow2 ] && [ -z "$gf" ] && continue
		: >"$tmp/res"
		r=0
		while [ $r -lt "$runs" ]; do
			pt=$(port)
			case $coll in
			flowgate)
				/usr/bin/time -f "%U %S" -o "$tmp/time" "$fg" convert -r "nf+udp://127.0.0.1:$pt" -w "argus:$tmp/out.argus" \
					--duration "$((secs + 4))s" --report >"$tmp/coll.out" 2>&1 &
				;;
			goflow2)
				mp=$(port)
				/usr/bin/time -f "%U %S" -o "$tmp/time" timeout -s INT "$((secs + 5))" "$gf" -listen "netflow://127.0.0.1:$pt" \
					-addr "127.0.0.1:$mp" -format bin -transport.file "$tmp/out.bin" -loglevel error >"$tmp/coll.out" 2>&1 &
				;;
			esac
			cpid=$!
			pids="$cpid"
			sleep 1
			sent=$(offer "$ver+udp://127.0.0.1:$pt?rate=$rate&mtu=$mtu")
			if [ "$coll" = goflow2 ]; then
				sleep 2 # its queue drains
				curl -s "http://127.0.0.1:$mp/metrics" >"$tmp/metrics" || : >"$tmp/metrics"
			fi
			wait "$cpid" || true
			pids=""
			case $coll in
			flowgate) got=$(awk '/records decoded/ {print $3}' "$tmp/coll.out") ;;
			goflow2) got=$(awk '/^goflow2_flow_process_nf_flowset_records_total/ && /DataFlowSet/ {n += $NF} END {printf "%d\n", n}' "$tmp/metrics") ;;
			esac
			cpu=$(awk '{print $1+$2}' "$tmp/time" | tail -n 1)
			echo "$sent ${got:-0} $cpu" >>"$tmp/res"
			r=$((r + 1))
		done
		sent=$(awk '{print $1}' "$tmp/res" | median)
		got=$(awk '{print $2}' "$tmp/res" | median)
		cpu=$(awk '{print $3}' "$tmp/res" | median)
		awk -v v="$ver" -v c="$coll" -v s="$sent" -v g="$got" -v u="$cpu" 'BEGIN {
			printf "%-6s %-9s %10d %10d %8.2f %8.2f %10.3f\n", v, c, s, g, (s > 0 ? 100 * (s - g) / s : 0), u, (g > 0 ? 1e6 * u / g : 0) }'
	done
done
