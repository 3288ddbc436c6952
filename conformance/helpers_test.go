package conformance

// Shared helpers for the conformance tests: locating the corpus, finding the
// real tools, building the flowgate binary once, running commands with a
// fixed environment, and comparing ra-style CSV output column by column.
//
// This file owns TestMain for the package (it removes the binary built for
// the tests); other files must not define another one.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{binDir, benchDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// corpusDir returns $FLOWGATE_CORPUS joined with sub, skipping the test when
// the variable is unset or the path does not exist.
func corpusDir(tb testing.TB, sub ...string) string {
	tb.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		tb.Skip("FLOWGATE_CORPUS not set (CI sets it to ../shared/corpus)")
	}
	p := filepath.Join(append([]string{root}, sub...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("corpus path missing: %v", err)
	}
	return p
}

// lookTool finds a program on PATH or in the sbin directories Debian puts
// argus in (they are not on a non-root PATH). It returns "" when absent.
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// needTool returns the path of a real tool, skipping the test when it is not
// installed (.ci/run installs all of them).
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p := lookTool(name)
	if p == "" {
		tb.Skipf("%s not installed (Debian package; .ci/run installs it)", name)
	}
	return p
}

// repoRoot is the module root (the parent of this package's directory).
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		return filepath.Dir(filepath.Dir(file))
	}
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// flowgateBin builds ./cmd/flowgate once per test process into a temporary
// directory and returns the binary's path. FLOWGATE_BIN names a prebuilt
// binary to test instead.
func flowgateBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FLOWGATE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "flowgate-conformance-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "flowgate")
		cmd := exec.Command(goTool(), "build", "-o", binPath, "./cmd/flowgate")
		cmd.Dir = repoRoot()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/flowgate: %v\n%s", err, out.Bytes())
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// cmdTimeout bounds every external command a test runs.
const cmdTimeout = 3 * time.Minute

// runCmd runs a program in dir with TZ=UTC and returns its standard output
// and standard error. err is non-nil when it fails or times out.
func runCmd(dir, prog string, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", cmdTimeout, ctx.Err())
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %w\nstderr: %s", filepath.Base(prog), strings.Join(args, " "), err, clip(e.Bytes(), 2000))
	}
	return o.Bytes(), e.Bytes(), err
}

// mustRun is runCmd that fails the test on error.
func mustRun(tb testing.TB, dir, prog string, args ...string) []byte {
	tb.Helper()
	out, _, err := runCmd(dir, prog, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// argusSensor runs Debian's argus 3.0.8.2 on a capture and returns the path
// of the file it wrote (in a fresh temp dir: argus appends to an existing
// output, so the output never exists beforehand). extra are sensor flags
// such as -m -A -J -R -Z -U 32.
func argusSensor(tb testing.TB, argus, pcap string, extra ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	out := filepath.Join(dir, "out.argus")
	os.Remove(out)
	args := append([]string{"-X"}, extra...)
	args = append(args, "-r", pcap, "-w", out)
	mustRun(tb, dir, argus, args...)
	if _, err := os.Stat(out); err != nil {
		tb.Fatalf("argus wrote no output for %s: %v", pcap, err)
	}
	return out
}

// csvTable is ra -c , output split into a header and rows.
type csvTable struct {
	header []string
	rows   [][]string
}

// parseRaCSV splits ra's delimited output. Fields never contain the
// delimiter (ra does not quote), so a plain split is exact.
func parseRaCSV(b []byte) csvTable {
	var t csvTable
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		if l == "" && i == len(lines)-1 {
			break
		}
		if i == 0 {
			t.header = strings.Split(l, ",")
			continue
		}
		f := splitRaRow(l, t.header)
		t.rows = append(t.rows, f)
	}
	return t
}

// splitRaRow splits one data line of ra -c , output. ra does not quote,
// so a comma inside captured user data ("s[16]=PORT 210,54,213") adds
// columns. The row's expected width is known (the header's, and for ra 5's
// last column "dsrs", a comma-separated list of DSR names, as many more as
// it holds); the surplus commas are given back to the user-data values,
// which say their length ("s[N]=" then at most N characters: ra trims
// trailing spaces).
func splitRaRow(l string, header []string) []string {
	f := strings.Split(l, ",")
	want := len(header)
	if len(header) > 0 && header[len(header)-1] == "Dsrs" {
		d := 0
		for k := len(f) - 1; k >= 0 && isDsrName(f[k]); k-- {
			d++
		}
		if d > 0 {
			want += d - 1
		}
	}
	budget := len(f) - want
	if budget <= 0 {
		return f
	}
	out := f[:0:0]
	for i := 0; i < len(f); i++ {
		v := f[i]
		if n, rest, ok := udataLen(v); ok {
			for budget > 0 && len(rest) < n && i+1 < len(f) {
				i++
				budget--
				v += "," + f[i]
				rest += "," + f[i]
			}
		}
		out = append(out, v)
	}
	return out
}

// isDsrName reports whether v looks like an entry of ra 5's dsrs column
// ("flow", "ipattr*").
func isDsrName(v string) bool {
	v = strings.TrimSuffix(v, "*")
	if v == "" {
		return false
	}
	for _, c := range v {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// udataLen parses the "s[N]=" or "d[N]=" prefix of a user-data value.
func udataLen(v string) (n int, rest string, ok bool) {
	if len(v) < 5 || (v[0] != 's' && v[0] != 'd') || v[1] != '[' {
		return 0, "", false
	}
	j := strings.Index(v, "]=")
	if j < 3 {
		return 0, "", false
	}
	for _, c := range v[2:j] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		n = n*10 + int(c-'0')
	}
	return n, v[j+2:], true
}

// compareOpts says what a CSV comparison ignores.
type compareOpts struct {
	// ignore names header labels (e.g. "SrcJitter") left out, with the reason.
	ignore map[string]string
	// known reports whether a difference in the labelled column is listed
	// in known-differences.tsv (and counts the hit).
	known func(label string, row int) bool
	// mgmtProto is the Proto value of management records ("man"); their
	// time columns carry the sensor's wall clock and are masked.
	maskMgmt bool
}

var timeLabels = map[string]bool{
	"StartTime": true, "LastTime": true, "Dur": true, "SrcStartTime": true,
	"SrcLastTime": true, "DstStartTime": true, "DstLastTime": true,
	"RunTime": true, "Mean": true, "Min": true, "Max": true, "Sum": true,
}

// fieldDiff summarises one column that differs.
type fieldDiff struct {
	label    string
	count    int
	row      int // first differing row (0-based data row)
	want     string
	got      string
	wantLine string
}

// compareRaCSV compares two ra CSV outputs row by row and column by column.
// It returns a human summary of the differences (empty when equal) and the
// per-column diffs so callers can consult the known-differences list.
func compareRaCSV(want, got []byte, o compareOpts) (string, []fieldDiff) {
	w, g := parseRaCSV(want), parseRaCSV(got)
	var sb strings.Builder
	if strings.Join(w.header, ",") != strings.Join(g.header, ",") {
		fmt.Fprintf(&sb, "header differs:\n  want %s\n  got  %s\n", strings.Join(w.header, ","), strings.Join(g.header, ","))
		return sb.String(), nil
	}
	if len(w.rows) != len(g.rows) {
		fmt.Fprintf(&sb, "row count: want %d, got %d\n", len(w.rows), len(g.rows))
	}
	protoCol := -1
	for i, h := range w.header {
		if h == "Proto" {
			protoCol = i
		}
	}
	var diffs []fieldDiff
	byCol := map[int]int{}
	n := min(len(w.rows), len(g.rows))
	for r := range n {
		wr, gr := w.rows[r], g.rows[r]
		if len(wr) != len(gr) {
			fmt.Fprintf(&sb, "row %d: want %d columns, got %d\n  want %s\n  got  %s\n", r+1, len(wr), len(gr), strings.Join(wr, ","), strings.Join(gr, ","))
			continue
		}
		mgmt := o.maskMgmt && protoCol >= 0 && (wr[protoCol] == "man" || gr[protoCol] == "man")
		for c := range wr {
			if wr[c] == gr[c] {
				continue
			}
			label := w.header[c]
			if _, ok := o.ignore[label]; ok {
				continue
			}
			if o.known != nil && o.known(label, r+1) {
				continue
			}
			if mgmt && timeLabels[label] {
				continue
			}
			i, ok := byCol[c]
			if !ok {
				i = len(diffs)
				byCol[c] = i
				diffs = append(diffs, fieldDiff{label: label, row: r, want: wr[c], got: gr[c], wantLine: strings.Join(wr, ",")})
			}
			diffs[i].count++
		}
	}
	for _, d := range diffs {
		fmt.Fprintf(&sb, "column %s: %d row(s) differ; first at row %d: want %q, got %q\n    ra row: %s\n",
			d.label, d.count, d.row+1, d.want, d.got, clip([]byte(d.wantLine), 400))
	}
	return sb.String(), diffs
}

// knownDiff is one row of known-differences.tsv as the tests in this file
// family use it. The file (shared with ra_golden_test.go) has four
// tab-separated columns: kind, field (ra -s name or *), scope (a path.Match
// glob over case names, or *), reason. The kinds used here are "sensor"
// (scope <variant>/<capture>, e.g. full/generated_arp) and "v3write" (scope
// <oracle dir>/<v5|v5full>). A scope ending in "#N" covers data row N only.
type knownDiff struct {
	kind, field, scope, reason string
	row                        int    // with a "#N" scope suffix: only data row N (1-based)
	label                      string // ra header label of field
	line                       int
	hits                       atomic.Int64
}

func (k *knownDiff) matches(kind, scope, label string, row int) bool {
	if k.kind != kind || (k.field != "*" && k.label != label) || (k.row != 0 && k.row != row) {
		return false
	}
	if k.scope == "*" || k.scope == scope {
		return true
	}
	ok, _ := path.Match(k.scope, scope)
	return ok
}

// loadKnownDiffs reads the rows of conformance/known-differences.tsv whose
// kind is one of kinds. When the calling test ends, rows of the first kind
// (the test's own) that matched no difference fail it as stale, unless the
// run was narrowed with -run. Rows of the other kinds are borrowed: the same
// upstream difference seen by another test (e.g. an ra3 printer quirk found
// by ra_golden_test.go), checked for staleness there.
func loadKnownDiffs(t *testing.T, kinds ...string) []*knownDiff {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "conformance", "known-differences.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out, own []*knownDiff
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || strings.TrimSpace(f[3]) == "" {
			t.Fatalf("known-differences.tsv:%d: want 4 tab-separated columns (kind, field, scope, reason)", i+1)
		}
		if !slices.Contains(kinds, f[0]) {
			continue
		}
		scope, row := f[2], 0
		if j := strings.LastIndexByte(scope, '#'); j >= 0 {
			n, err := strconv.Atoi(scope[j+1:])
			if err != nil || n < 1 {
				t.Fatalf("known-differences.tsv:%d: bad row suffix in %q", i+1, f[2])
			}
			scope, row = scope[:j], n
		}
		if _, err := path.Match(scope, ""); err != nil {
			t.Fatalf("known-differences.tsv:%d: bad glob %q", i+1, f[2])
		}
		k := &knownDiff{kind: f[0], field: f[1], scope: scope, row: row, reason: f[3], label: f[1], line: i + 1}
		if def, ok := flow.FieldByRaName(f[1]); ok && def.RaLabel != "" {
			k.label = def.RaLabel
		}
		out = append(out, k)
		if f[0] == kinds[0] {
			own = append(own, k)
		}
	}
	if flag.Lookup("test.run").Value.String() == "" {
		t.Cleanup(func() {
			for _, k := range own {
				if k.hits.Load() == 0 {
					t.Errorf("known-differences.tsv:%d: stale entry (%s %s %s): the difference no longer occurs", k.line, k.kind, k.field, k.scope)
				}
			}
		})
	}
	return out
}
