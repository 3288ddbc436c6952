#!/usr/bin/env bash
# Issue 5 point 7, end to end: `flowgate convert` from Zeek TSV to Argus v5
# and from Argus v5 to JSON lines, on large files of real-shaped flows, in
# records per CPU-second (user+sys, so that one core is the unit whatever
# the machine's other load). Alongside, Debian's ra 3.0.8.2 printing the
# same records as CSV text (its only text export: 3.0.8.2 ignores -M json)
# from the Argus 3 copy, as the reference speed of the tool users have.
#
#   scripts/bench-convert.sh            # 5M-packet capture, 5 runs
#   PACKETS=1000000 RUNS=3 scripts/bench-convert.sh
#
# Inputs (made once, kept in .bench): a genpcap capture, our sensor's
# Argus v5 records of it, the same as Argus 3, and as a Zeek conn.log.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PACKETS=${PACKETS:-5000000}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-$root/.bench}
export TZ=UTC LC_ALL=C
mkdir -p "$DIR"

go build -o "$DIR/flowgate" ./cmd/flowgate
go build -o "$DIR/genpcap" ./conformance/tools/genpcap
FG="$DIR/flowgate"
RA=$(command -v ra || true)

pcap="$DIR/gen-$PACKETS.pcap"
a5="$DIR/conv-$PACKETS.argus"
a3="$DIR/conv-$PACKETS.argus3"
zk="$DIR/conv-$PACKETS.conn.log"
if [ ! -s "$pcap" ]; then
	echo "== generating $PACKETS packets"
	"$DIR/genpcap" -n "$PACKETS" -o "$pcap.tmp" && mv "$pcap.tmp" "$pcap"
fi
if [ ! -s "$a5" ] || [ "$a5" -ot "$pcap" ]; then
	echo "== flowgate sensor -r $(basename "$pcap")"
	"$FG" sensor -r "$pcap" -w "$a5.tmp" && mv "$a5.tmp" "$a5"
fi
if [ ! -s "$a3" ] || [ "$a3" -ot "$pcap" ]; then
	"$FG" sensor -3 -r "$pcap" -w "$a3.tmp" && mv "$a3.tmp" "$a3"
fi
if [ ! -s "$zk" ] || [ "$zk" -ot "$a5" ]; then
	"$FG" convert -r "argus:$a5" -w "zeek:$zk"
fi
records=$(grep -vc '^#' "$zk")
echo "== input: $records flow records ($(stat -c %s "$a5") bytes Argus v5, $(stat -c %s "$zk") bytes conn.log)"

# cpu CMD...: median user+sys seconds of RUNS runs, output to /dev/null.
cpu() {
	local i ts=()
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -o "$DIR/time.out" -f "%U %S %x" "$@" >/dev/null 2>"$DIR/stderr.out" || {
			echo "bench-convert: $* failed:" >&2
			cat "$DIR/stderr.out" >&2
			echo nan
			return
		}
		ts+=($(awk '{print $1+$2}' "$DIR/time.out"))
	done
	printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'
}

printf '%-58s %9s %14s\n' conversion CPU-s records/CPU-s
row() { awk -v l="$1" -v s="$2" -v r="$records" 'BEGIN {printf "%-58s %9.3f %14.0f\n", l, s, r / s}'; }
row "convert zeek:conn.log -> argus (v5)" "$(cpu "$FG" convert -r "zeek:$zk" -w argus:/dev/null)"
for d in argus ecs goflow2 nfdump ipfix; do
	lossy=
	# goflow2 records are one-way: a biflow's reverse counts are left out
	[ "$d" = goflow2 ] && lossy=--lossy
	row "convert argus (v5) -> json --dialect $d $lossy" "$(cpu "$FG" convert -r "argus:$a5" -w json:/dev/null --dialect "$d" $lossy)"
done
row "convert argus (v5) -> json (ra -M json printer)" "$(cpu "$FG" convert -r "argus:$a5" -w json:/dev/null)"
if [ -n "$RA" ]; then
	row "Debian ra -n -c , -r argus3 (CSV text, for reference)" "$(cpu "$RA" -X -n -c , -r "$a3")"
	row "flowgate ra -n -c , -r argus3 (same)" "$(cpu "$FG" ra -X -n -c , -r "$a3")"
fi
