#!/usr/bin/env bash
# Run every fuzz target of the given packages (default ./...) for FUZZTIME
# each (default 5s). Targets are discovered with `go test -list`.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- ./...
n=0
for pkg in $("$GO" list "$@"); do
	targets=$("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for t in $targets; do
		echo "== $pkg $t ($FUZZTIME)"
		"$GO" test -run='^$' -fuzz="^${t}\$" -fuzztime="$FUZZTIME" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz: $n target(s) run"
