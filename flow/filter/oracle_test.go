package filter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// The oracle test runs every expression of oracleExprs through Debian's ra
// 3.0.8.2 and through this package, on the v3 files of the corpus
// ($FLOWGATE_CORPUS/argus/oracle/*/v3.argus and v3full.argus), and
// compares the sets of flow records matched. Records are identified by
// the line ra prints for them with identifyingFields; ra -X does not print
// management records, so only flow records are compared on our side.
// Differences are either fixed or listed, with their reason, in
// testdata/known-differences.tsv.

var identifyingFields = []string{"seq", "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes"}

// knownDiff is one line of testdata/known-differences.tsv:
// expression, file glob (relative to argus/oracle), reason.
type knownDiff struct {
	expr, glob, reason string
	used               atomic.Bool
}

func loadKnownDiffs(t *testing.T) []*knownDiff {
	b, err := os.ReadFile("testdata/known-differences.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var out []*knownDiff
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[2] == "" {
			t.Fatalf("known-differences.tsv:%d: want expr<TAB>file-glob<TAB>reason", i+1)
		}
		if _, err := path.Match(f[1], ""); err != nil {
			t.Fatalf("known-differences.tsv:%d: bad glob: %v", i+1, err)
		}
		out = append(out, &knownDiff{expr: f[0], glob: f[1], reason: f[2]})
	}
	return out
}

func findKnown(diffs []*knownDiff, expr, file string) *knownDiff {
	for _, d := range diffs {
		if ok, _ := path.Match(d.glob, file); ok && d.expr == expr {
			return d
		}
	}
	return nil
}

// raLines runs ra 3.0.8.2 on file with an optional filter and returns the
// printed record lines (header removed).
func raLines(ra, file, expr string) ([]string, error) {
	args := []string{"-X", "-n", "-u", "-c", ",", "-s"}
	args = append(args, identifyingFields...)
	args = append(args, "-r", file)
	if expr != "" {
		args = append(args, "-", expr)
	}
	cmd := exec.Command(ra, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stderr.Len() > 0 {
		return nil, fmt.Errorf("ra %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) { // ra exits 1 when nothing matched
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "Seq,") {
			continue
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

// decodeFlows reads file with codecs/argus and returns its flow records.
func decodeFlows(file string) ([]flow.Record, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := argus.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	var recs []flow.Record
	for {
		var r flow.Record
		err := rd.Decode(&r)
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		if r.Type&0xF0 == flow.TypeMgmt {
			continue
		}
		r.Detach()
		recs = append(recs, r)
	}
}

func TestOracleRa3(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS is not set: skipping the ra 3.0.8.2 oracle test")
	}
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("ra (Debian argus-client 3.0.8.2) is not installed: skipping the oracle test")
	}
	if out, _ := exec.Command(ra, "-h").CombinedOutput(); !bytes.Contains(out, []byte("3.0.8")) {
		t.Skipf("%s is not ra 3.0.8.x: skipping the oracle test", ra)
	}
	root := filepath.Join(corpus, "argus", "oracle")
	var files []string
	for _, pat := range []string{"*/v3.argus", "*/v3full.argus"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no v3 files under %s", root)
	}
	slices.Sort(files)
	filters := make([]*Filter, len(oracleExprs))
	for i, e := range oracleExprs {
		filters[i] = MustCompile(e)
	}
	known := loadKnownDiffs(t)

	var mu sync.Mutex
	var agree, listed, pairs int
	var diffs []string
	t.Run("files", func(t *testing.T) {
		for _, file := range files {
			rel, _ := filepath.Rel(root, file)
			rel = filepath.ToSlash(rel)
			t.Run(rel, func(t *testing.T) {
				t.Parallel()
				all, err := raLines(ra, file, "")
				if err != nil {
					t.Fatal(err)
				}
				recs, err := decodeFlows(file)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if len(recs) != len(all) {
					t.Fatalf("decoded %d flow records, ra printed %d", len(recs), len(all))
				}
				for i, expr := range oracleExprs {
					want, err := raLines(ra, file, expr)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for j := range recs {
						if filters[i].Match(&recs[j]) {
							got = append(got, all[j])
						}
					}
					slices.Sort(want)
					slices.Sort(got)
					same := slices.Equal(want, got)
					mu.Lock()
					pairs++
					switch {
					case same:
						agree++
					case findKnown(known, expr, rel) != nil:
						findKnown(known, expr, rel).used.Store(true)
						listed++
						diffs = append(diffs, fmt.Sprintf("%s\t%s\tra %d\tours %d (listed)", expr, rel, len(want), len(got)))
					}
					mu.Unlock()
					if !same && findKnown(known, expr, rel) == nil {
						t.Errorf("%q: ra matched %d records, we matched %d\n  ra only:   %v\n  ours only: %v",
							expr, len(want), len(got), minus(want, got), minus(got, want))
					}
				}
			})
		}
	})
	for _, d := range known {
		if !d.used.Load() {
			t.Errorf("known-differences.tsv: %q on %s no longer differs: remove it", d.expr, d.glob)
		}
	}
	slices.Sort(diffs)
	for _, d := range diffs {
		t.Log(d)
	}
	t.Logf("oracle: %d expressions x %d files = %d pairs: %d agree, %d known differences, %d other",
		len(oracleExprs), len(files), pairs, agree, listed, pairs-agree-listed)
}

// minus returns the elements of a not in b (multisets, both sorted).
func minus(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j >= len(b) || a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			j++
		default:
			i++
			j++
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("... (%d more)", len(out)-5))
	}
	return out
}
