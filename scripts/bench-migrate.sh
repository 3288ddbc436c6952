#!/usr/bin/env bash
# Issue 7's speed figure for `flowgate migrate`: a generated tree of FILES
# gzip'd Argus 3.x files (RECORDS records each, taken from Debian argus's
# output for .bench/gen-1000000.pcap, written by conformance/tools/argustree)
# migrated to 5.x, RUNS times; beside it, Debian's ra 3.0.8.2 rewriting
# the same tree (`ra -r IN -w - | gzip`, 2 at a time): the real tool's cost
# of reading and writing the same records, which verifies nothing.
#
#   scripts/bench-migrate.sh             FILES=200 RECORDS=25000 RUNS=3 LEVEL= (--level)
#
# Prints records/s (wall) and CPU seconds (user+sys) of each run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin" TZ=UTC
FILES=${FILES:-200}
RECORDS=${RECORDS:-25000}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-$root/.bench}
WORK=${WORK:-/tmp/bench-migrate}
mkdir -p "$DIR" "$WORK/bin"
go build -o "$WORK/bin/flowgate" ./cmd/flowgate
go build -o "$WORK/bin/argustree" ./conformance/tools/argustree
[ -f "$DIR/gen-1000000.pcap" ] || go run ./conformance/tools/genpcap -n 1000000 -o "$DIR/gen-1000000.pcap"
argus=$(command -v argus || echo /usr/sbin/argus)
[ -f "$DIR/gen-1000000.argus3" ] || "$argus" -r "$DIR/gen-1000000.pcap" -w "$DIR/gen-1000000.argus3"
tree=$WORK/tree-$FILES-$RECORDS
if [ ! -d "$tree" ]; then
	"$WORK/bin/argustree" -in "$DIR/gen-1000000.argus3" -out "$tree" -files "$FILES" -records "$RECORDS" -version 3 -compress gzip
fi
total=$((FILES * (RECORDS + 1)))
echo "== bench-migrate $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg): $FILES gzip files, $total records, $(du -sh "$tree" | cut -f1)"
rate() { awk -v n="$total" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
for r in $(seq "$RUNS"); do
	rm -rf "$WORK/out"
	/usr/bin/time -f "%e %U %S" -o "$WORK/time" "$WORK/bin/flowgate" migrate -q ${LEVEL:+--level "$LEVEL"} "$tree" "$WORK/out"
	read -r wall user sys <"$WORK/time"
	echo "flowgate migrate  run $r: ${wall} s, $(rate "$wall") records/s, cpu $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') s"
done
# The floor: the same run's gzip work alone (inflate, deflate, read-back
# inflate), no Argus work.
go run ./conformance/tools/gzipfloor -in "$tree" -out "$WORK/out" ${LEVEL:+-level "$LEVEL"}
if command -v ra >/dev/null; then
	for r in $(seq "$RUNS"); do
		rm -rf "$WORK/ra" && mkdir -p "$WORK/ra"
		/usr/bin/time -f "%e %U %S" -o "$WORK/time" sh -c "cd '$tree' && find . -name '*.gz' | xargs -P 2 -I{} sh -c 'mkdir -p \"$WORK/ra/\$(dirname {})\" && ra -r {} -w - | gzip > \"$WORK/ra/{}\"'"
		read -r wall user sys <"$WORK/time"
		echo "Debian ra -w | gzip run $r: ${wall} s, $(rate "$wall") records/s (wall; its CPU is in children)"
	done
fi
