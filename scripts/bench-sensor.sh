#!/bin/sh
# bench-sensor.sh: side-by-side CPU and wall time of Debian argus and
# `flowgate sensor` reading generated captures and writing records.
#
#   scripts/bench-sensor.sh [runs] [packets...]     (default: 5 1000000 5000000)
#
# Every configuration runs `runs` times; the medians of user+sys CPU and
# of wall time are printed with packets per CPU-second and the ratio
# flowgate/argus (>1: flowgate does more packets per CPU-second), and the
# median peak resident set size (MB). flowgate runs with its default for
# files (one flow table) and with --shards 2 (fg-2shrd).
# Captures are made by conformance/tools/genpcap into .bench/ when missing.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
[ $# -gt 0 ] && shift
sizes=${*:-1000000 5000000}
command -v argus >/dev/null || { echo "argus not installed (apt-get install argus-server)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }
mkdir -p .bench
go build -o .bench/flowgate ./cmd/flowgate
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median of a column of numbers
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# measure name cmd...: runs cmd $runs times, sets cpu and wall (medians).
measure() {
	: >"$tmp/t"
	i=0
	while [ $i -lt "$runs" ]; do
		/usr/bin/time -f "%e %U %S %M" -o "$tmp/one" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
		tail -n 1 "$tmp/one" >>"$tmp/t"
		i=$((i + 1))
	done
	cpu=$(awk '{print $2+$3}' "$tmp/t" | median)
	wall=$(awk '{print $1}' "$tmp/t" | median)
	rss=$(awk '{print $4/1024}' "$tmp/t" | median)
}

printf '%-9s %-16s %-8s %8s %8s %8s %12s\n' packets options sensor cpu-s wall-s rss-MB pkts/cpu-s
for n in $sizes; do
	p=.bench/gen-$n.pcap
	[ -f "$p" ] || go run ./conformance/tools/genpcap -n "$n" -o "$p"
	for opts in "" "-m -A -J -R -Z"; do
		# shellcheck disable=SC2086 # opts is a word list
		measure argus -X $opts -r "$p" -w "$tmp/a.argus"
		acpu=$cpu
		printf '%-9s %-16s %-8s %8s %8s %8.0f %12.0f\n' "$n" "${opts:-default}" argus "$cpu" "$wall" "$rss" "$(echo "$n $cpu" | awk '{print $1/$2}')"
		# shellcheck disable=SC2086
		measure .bench/flowgate sensor $opts -3 -r "$p" -w "$tmp/f.argus"
		printf '%-9s %-16s %-8s %8s %8s %8.0f %12.0f   ratio %.2fx\n' "$n" "${opts:-default}" flowgate "$cpu" "$wall" "$rss" \
			"$(echo "$n $cpu" | awk '{print $1/$2}')" "$(echo "$acpu $cpu" | awk '{print $1/$2}')"
		# Two flow tables (--shards 2): less wall time, more CPU.
		# shellcheck disable=SC2086
		measure .bench/flowgate sensor $opts -3 --shards 2 -r "$p" -w "$tmp/f.argus"
		printf '%-9s %-16s %-8s %8s %8s %8.0f %12.0f   ratio %.2fx\n' "$n" "${opts:-default}" fg-2shrd "$cpu" "$wall" "$rss" \
			"$(echo "$n $cpu" | awk '{print $1/$2}')" "$(echo "$acpu $cpu" | awk '{print $1/$2}')"
	done
done
