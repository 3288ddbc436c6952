package conformance

import (
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// nfKnown is one row of known-differences-netflow.tsv: kind (which two
// sides disagree, e.g. "nfdump-tshark", "flowbeat-calmh"), field (a flow
// field such as pkts/start/flags, an element name, or *), scope (path.Match
// glob over "<set>/<file>", or *) and reason (the upstream bug; "not
// implemented" is not a reason). A row that matched nothing when its kind
// was fully exercised fails the test as stale.
type nfKnown struct {
	kind, field, scope, reason string
	line                       int
	hits                       atomic.Int64
}

const nfKnownFile = "known-differences-netflow.tsv"

// nfKnownDiffs loads the rows of the given kinds. At the end of the test,
// rows of those kinds that matched no difference fail it (unless the run was
// narrowed with -run, or the test was skipped or marked a kind incomplete
// with nfKnownSet.partial).
type nfKnownSet struct {
	rows    []*nfKnown
	partial map[string]bool
}

func nfKnownDiffs(t *testing.T, kinds ...string) *nfKnownSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "conformance", nfKnownFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := &nfKnownSet{partial: map[string]bool{}}
	want := map[string]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || strings.TrimSpace(f[3]) == "" {
			t.Fatalf("%s:%d: want 4 tab-separated columns (kind, field, scope, reason)", nfKnownFile, i+1)
		}
		if _, err := path.Match(f[2], ""); err != nil {
			t.Fatalf("%s:%d: bad glob %q", nfKnownFile, i+1, f[2])
		}
		if want[f[0]] {
			s.rows = append(s.rows, &nfKnown{kind: f[0], field: f[1], scope: f[2], reason: f[3], line: i + 1})
		}
	}
	// NETFLOW_STALE_CHECK=1 checks staleness under -run too.
	narrowed := flag.Lookup("test.run").Value.String() != "" && os.Getenv("NETFLOW_STALE_CHECK") == ""
	t.Cleanup(func() {
		if narrowed || t.Skipped() {
			return
		}
		for _, k := range s.rows {
			if k.hits.Load() == 0 && !s.partial[k.kind] {
				t.Errorf("%s:%d: stale entry (%s %s %s): the difference no longer occurs", nfKnownFile, k.line, k.kind, k.field, k.scope)
			}
		}
	})
	return s
}

// known returns the row explaining d, counting the hit, or nil.
func (s *nfKnownSet) known(d nfDiff) *nfKnown {
	for _, k := range s.rows {
		if k.kind != d.Kind || (k.field != "*" && k.field != d.Field) {
			continue
		}
		if ok, _ := path.Match(k.scope, d.Scope); ok || k.scope == "*" {
			k.hits.Add(1)
			return k
		}
	}
	return nil
}

// check fails t for every difference without a row and returns how many
// were explained.
func (s *nfKnownSet) check(t *testing.T, diffs []nfDiff) (explained int) {
	t.Helper()
	unlisted := 0
	for _, d := range diffs {
		if s.known(d) != nil {
			explained++
			continue
		}
		if unlisted++; unlisted <= 20 {
			t.Errorf("unlisted difference (add a row to %s with the upstream reason, or fix): %s", nfKnownFile, d)
		}
	}
	if unlisted > 20 {
		t.Errorf("... %d unlisted differences in all", unlisted)
	}
	return explained
}

// nfTool finds a real tool. Outside CI a missing tool skips the test; in CI
// (.ci/run installs every one) it fails it, so a broken install step shows.
func nfTool(tb testing.TB, name string) string {
	tb.Helper()
	p := lookTool(name)
	if p == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s not installed: .ci/run must install it (CI is set)", name)
		}
		tb.Skipf("%s not installed (Debian package; .ci/run installs it)", name)
	}
	return p
}
