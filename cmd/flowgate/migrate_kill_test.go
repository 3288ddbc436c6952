package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Issue 7 point 3: `flowgate migrate` killed with SIGKILL at any moment,
// repeatedly, then rerun, ends with the tree an uninterrupted run writes,
// and never loses an input on the way.
//
// The kill times are drawn from a logged seed, as fractions of the work
// left (the durations are the machine's): FLOWGATE_KILL_SEED=N draws
// those of a logged run again.

const (
	killRuns     = 10 // kills before the run to completion
	killArgus    = 38 // 3.x files of the tree, besides the four special ones
	killBaseRecs = 13000
	killManifest = "migrate.manifest.jsonl"
	killLock     = killManifest + ".lock" // one run at a time into a DST
)

// killRunFile reports the files of migrate's own runs at the top of DST:
// the manifest (rewritten by every run) and its lock (there while a run
// is, and after a kill).
func killRunFile(p string) bool { return p == killManifest || p == killLock }

// killInput is one file of the input tree, as the test wrote it.
type killInput struct {
	rel     string
	comp    string // gzip, zstd or none
	version int    // 3 or 5; 0: not Argus data
	records int64  // records a reader decodes from it (up to the cut)
	size    int64
	sha     string
}

// killTree writes the input tree under dir: 3.x files of 13 000 to 19 500
// records (the corpus's Debian argus 3.x output repeated), gzip, zstd or
// plain, with distinct modes and modification times (to the nanosecond),
// plus a 5.x gzip and a 5.x zstd file (copied or recompressed), a 3.x
// file cut mid-record, and a file that is not Argus data.
func killTree(t *testing.T, dir string) []killInput {
	t.Helper()
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set: the input tree is made of the corpus's argus 3.x files")
	}
	paths, err := filepath.Glob(filepath.Join(corpus, "argus/oracle/*/v3full.argus"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no argus/oracle/*/v3full.argus in %s (%v)", corpus, err)
	}
	sort.Strings(paths)
	type source struct {
		mar   flow.Record
		flows []flow.Record
	}
	var srcs []source
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := argus.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if rd.Version() != 3 {
			t.Fatalf("%s: Argus %d, want 3", p, rd.Version())
		}
		var s source
		hasMar := false
		for {
			var r flow.Record
			err := rd.Decode(&r)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			r.Detach()
			if r.Type&0x80 != 0 {
				if !hasMar {
					s.mar, hasMar = r, true
				}
				continue
			}
			s.flows = append(s.flows, r)
		}
		f.Close()
		// Sources with a few flows at least, so that files differ.
		if hasMar && len(s.flows) >= 8 {
			srcs = append(srcs, s)
		}
	}
	if len(srcs) == 0 {
		t.Fatal("no corpus v3full.argus file has a MAR and 8 flows")
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	exts := map[string]string{"gzip": ".gz", "zstd": ".zst", "none": ""}
	var ins []killInput
	write := func(i, version int, comp string, cut bool) {
		ts := t0.Add(time.Duration(i) * 6 * time.Hour)
		rel := filepath.ToSlash(filepath.Join("archive", ts.Format("2006/01/02"), ts.Format("argus.2006.01.02.15.04.05.out")+exts[comp]))
		name := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		var zw io.WriteCloser
		switch comp {
		case "gzip":
			zw = gzip.NewWriter(&buf)
		case "zstd":
			zw, _ = zstd.NewWriter(&buf)
		default:
			zw = killNopCloser{&buf}
		}
		w, err := argus.NewWriter(zw, version)
		if err != nil {
			t.Fatal(err)
		}
		s := &srcs[i%len(srcs)]
		if err := w.Encode(&s.mar); err != nil {
			t.Fatal(err)
		}
		n := killBaseRecs + (i*1733)%(killBaseRecs/2)
		for k, off := 0, (i*131)%len(s.flows); k < n; k++ {
			if err := w.Encode(&s.flows[(off+k)%len(s.flows)]); err != nil {
				t.Fatalf("%s record %d: %v", rel, k, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if cut {
			b = b[:len(b)-37] // mid-record: a sensor killed while writing
		}
		killWriteFile(t, name, b, i, ts)
		ins = append(ins, killInput{rel: rel, comp: comp, version: version})
	}
	comps := []string{"gzip", "zstd", "none"}
	for i := range killArgus {
		write(i, 3, comps[i%3], false)
	}
	write(killArgus, 5, "gzip", false)
	write(killArgus+1, 5, "zstd", false)
	write(killArgus+2, 3, "none", true)
	notes := filepath.ToSlash(filepath.Join("archive", "2025/03/05", "notes.txt"))
	killWriteFile(t, filepath.Join(dir, filepath.FromSlash(notes)), []byte("rotated by hand after the disk filled up\n"), killArgus+3, t0)
	ins = append(ins, killInput{rel: notes, comp: "none"})
	for k := range ins {
		in := &ins[k]
		name := filepath.Join(dir, filepath.FromSlash(in.rel))
		in.sha, in.size = killSHA(t, name)
		if in.version == 0 {
			continue
		}
		v, n, err := killDecode(name)
		if in.rel == ins[killArgus+2].rel {
			if err == nil {
				t.Fatalf("%s: cut, but reads without an error", in.rel)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", in.rel, err)
		}
		if v != in.version {
			t.Fatalf("%s: Argus %d, wrote %d", in.rel, v, in.version)
		}
		in.records = n
	}
	return ins
}

// killWriteFile writes a file of the tree with the i-th mode and
// modification time.
func killWriteFile(t *testing.T, name string, b []byte, i int, ts time.Time) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	modes := []fs.FileMode{0o644, 0o640, 0o644, 0o600, 0o444}
	if err := os.Chmod(name, modes[i%len(modes)]); err != nil {
		t.Fatal(err)
	}
	mt := ts.Add(time.Hour + time.Duration(i)*1234567*time.Nanosecond)
	if err := os.Chtimes(name, mt, mt); err != nil {
		t.Fatal(err)
	}
}

type killNopCloser struct{ io.Writer }

func (killNopCloser) Close() error { return nil }

func killSHA(t *testing.T, name string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), int64(len(b))
}

// killDecode reads an Argus file (gzip, zstd or plain, by its magic)
// record by record: its version and the records read before the end or
// the first error.
func killDecode(name string) (int, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	m, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case len(m) >= 2 && m[0] == 0x1F && m[1] == 0x8B:
		z, err := gzip.NewReader(br)
		if err != nil {
			return 0, 0, err
		}
		defer z.Close()
		r = z
	case len(m) == 4 && string(m) == "\x28\xB5\x2F\xFD":
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, 0, err
		}
		defer z.Close()
		r = z
	}
	rd, err := argus.NewReader(r, argus.WithFileName(name))
	if err != nil {
		return 0, 0, err
	}
	var rec flow.Record
	var n int64
	for {
		err := rd.Decode(&rec)
		if err == io.EOF {
			return rd.Version(), n, nil
		}
		if err != nil {
			return rd.Version(), n, err
		}
		n++
	}
}

// killCopyTree copies a tree with its files' modes and modification times.
func killCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return err
		}
		if err := os.Chmod(out, fi.Mode().Perm()); err != nil {
			return err
		}
		return os.Chtimes(out, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// killFile is what the comparison of two trees looks at.
type killFile struct {
	dir   bool
	mode  fs.FileMode
	mtime time.Time
	size  int64
	sha   string
}

// killSnap is every file and directory under root, by relative path
// (none if root is not there: a run killed before it made DST).
func killSnap(t *testing.T, root string) map[string]killFile {
	t.Helper()
	out := map[string]killFile{}
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return out
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel] = killFile{dir: true}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[rel] = killFile{mode: fi.Mode(), mtime: fi.ModTime(), size: fi.Size(), sha: hex.EncodeToString(h[:])}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// killDiff lists how got differs from want: paths, bytes, modes and
// modification times (those of the runs' own files aside).
func killDiff(want, got map[string]killFile) []string {
	var d []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			d = append(d, p+": missing")
		case w.dir != g.dir:
			d = append(d, fmt.Sprintf("%s: directory %v, want %v", p, g.dir, w.dir))
		case w.dir:
		case w.sha != g.sha:
			d = append(d, fmt.Sprintf("%s: %d bytes sha256 %.12s, want %d bytes %.12s", p, g.size, g.sha, w.size, w.sha))
		case w.mode != g.mode:
			d = append(d, fmt.Sprintf("%s: mode %v, want %v", p, g.mode, w.mode))
		case !w.mtime.Equal(g.mtime) && !killRunFile(p):
			d = append(d, fmt.Sprintf("%s: modified %s, want %s", p, g.mtime.UTC().Format(time.RFC3339Nano), w.mtime.UTC().Format(time.RFC3339Nano)))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, p+": not in the reference")
		}
	}
	sort.Strings(d)
	return d
}

// killEntry is what the test reads of a manifest line.
type killEntry struct {
	Path   string `json:"path"`
	Out    string `json:"out"`
	Result string `json:"result"`
	From   int    `json:"from"`
	InSHA  string `json:"in_sha256"`
	OutSHA string `json:"out_sha256"`
	InSize int64  `json:"in_size"`
	// Pending: in place, the line written before the output's rename
	// (not done until its migrated line follows).
	Pending bool `json:"pending"`
}

func (e killEntry) ok() bool {
	return !e.Pending && (e.Result == "migrated" || e.Result == "truncated" || e.Result == "copied")
}

// killReadManifest returns the manifest's lines as they are (a line that
// does not parse, as a kill may leave, is an empty entry) and the
// entries standing, the last line of a path winning.
func killReadManifest(t *testing.T, name string) ([]string, map[string]killEntry) {
	t.Helper()
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, map[string]killEntry{}
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	m := map[string]killEntry{}
	for _, l := range lines {
		var e killEntry
		if json.Unmarshal([]byte(l), &e) == nil && e.Path != "" {
			m[e.Path] = e
		}
	}
	return lines, m
}

// killProc runs `flowgate migrate args...` as a process (the test binary,
// see TestMain).
func killProc(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"migrate"}, args...)...)
	cmd.Env = append(os.Environ(), "FLOWGATE_TEST_MAIN=1")
	var errb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &errb
}

// killComplete runs migrate to the end: how long it took, and its stderr.
func killComplete(t *testing.T, args ...string) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	cmd, errb := killProc(t, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowgate migrate %s: %v\n%s", strings.Join(args, " "), err, errb)
	}
	return time.Since(start), errb.String()
}

var killSummary = regexp.MustCompile(`migrate: (\d+) files: .*, (\d+) done before`)

// killSeed is the seed of the kill times: FLOWGATE_KILL_SEED, or the clock.
func killSeed(t *testing.T) int64 {
	if s := os.Getenv("FLOWGATE_KILL_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("FLOWGATE_KILL_SEED=%q: %v", s, err)
		}
		return n
	}
	return time.Now().UnixNano()
}

// killPlan is a migration to kill repeatedly.
type killPlan struct {
	args      []string // migrate's arguments, the tree included (-q aside)
	manifest  string
	inputs    []killInput
	full      time.Duration // an uninterrupted run
	resume    time.Duration // a run with nothing to do: start, walk, manifest
	afterKill func(t *testing.T, kill int)
}

// killStats is what the kills did.
type killStats struct {
	interrupted int // runs ended by the kill with files still to do
	resumed     int // runs that started with some files done before, and some to do
	files       int // the files the last run counted
}

// run kills the migration killRuns times, at times spread over the whole
// migration (one at a random run's start, the others at increasing
// fractions of the work, the last near its end), then runs it to the end.
func (k *killPlan) run(t *testing.T, rng *rand.Rand) killStats {
	t.Helper()
	var argusFiles int
	var argusBytes int64
	for _, in := range k.inputs {
		if in.version != 0 {
			argusFiles++
			argusBytes += in.size
		}
	}
	startKill := rng.Intn(killRuns)
	var st killStats
	work := max(k.full-k.resume, 10*time.Millisecond)
	for i := range killRuns {
		before, doneBefore := killReadManifest(t, k.manifest)
		ok, okBytes, _ := k.done(doneBefore)
		doneFrac := float64(okBytes) / float64(argusBytes)
		var delay time.Duration
		var target float64
		if i == startKill {
			// At the start: before or while the manifest is read and
			// the tree walked, or as the first files begin.
			delay = time.Duration(rng.Float64() * float64(k.resume))
			target = -1
		} else {
			// Slot i of the work (the start kill's slot shared by
			// the next), the last one reaching past the end (the
			// manifest rewritten sorted).
			j := i
			if i > startKill {
				j = i - 1
			}
			target = (float64(j) + rng.Float64()) / float64(killRuns-1)
			if j == killRuns-2 {
				target = 0.95 + rng.Float64()*0.08
			}
			delay = k.resume/2 + time.Duration(float64(work)*max(target-doneFrac, 0.02*rng.Float64()))
		}
		cmd, errb := killProc(t, append([]string{"-q"}, k.args...)...)
		time.Sleep(delay)
		cmd.Process.Kill()
		err := cmd.Wait()
		killed := false
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		} else if err != nil {
			t.Fatalf("run %d: flowgate migrate %s: %v\n%s", i, strings.Join(k.args, " "), err, errb)
		}
		after, doneAfter := killReadManifest(t, k.manifest)
		okAfter, _, _ := k.done(doneAfter)
		// Files done before are skipped, not redone: the run appended
		// no line for them (known while the manifest is only appended
		// to; a finished run rewrites it sorted).
		appended := len(after) >= len(before) && strings.Join(after[:len(before)], "") == strings.Join(before, "")
		if appended {
			for _, l := range after[len(before):] {
				var e killEntry
				if json.Unmarshal([]byte(l), &e) == nil && doneBefore[e.Path].ok() {
					t.Errorf("run %d: %s done before, redone: %s", i, e.Path, strings.TrimSpace(l))
				}
			}
		}
		how := "killed"
		if !killed {
			how = "finished before the kill"
		}
		tgt := "at the start"
		if target >= 0 {
			tgt = fmt.Sprintf("at %.0f%% of the work", 100*target)
		}
		t.Logf("run %d: %s after %v (%s, %.0f%% done before): %d files done before (skipped), %d done in this run, %d left",
			i, how, delay.Round(time.Millisecond), tgt, 100*doneFrac, ok, okAfter-ok, argusFiles-okAfter)
		if killed && okAfter < argusFiles {
			st.interrupted++
		}
		if ok > 0 && ok < argusFiles {
			st.resumed++
		}
		if k.afterKill != nil {
			k.afterKill(t, i)
		}
	}
	// The last run, to the end, with its summary.
	_, doneBefore := killReadManifest(t, k.manifest)
	ok, _, skip := k.done(doneBefore)
	_, stderr := killComplete(t, append([]string{"--progress", "plain"}, k.args...)...)
	m := killSummary.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary in the last run's stderr:\n%s", stderr)
	}
	files, _ := strconv.Atoi(m[1])
	resumed, _ := strconv.Atoi(m[2])
	t.Logf("last run: %d files, %d done before (skipped), %d to do", files, resumed, argusFiles-ok)
	st.files = files
	if resumed != skip {
		t.Errorf("last run: %d files done before, the manifest has %d verified", resumed, skip)
	}
	return st
}

// done counts, in a manifest's entries, the inputs done (and their
// bytes), and the files a rerun skips: the entries done, less those of a
// file that is itself another entry's output (in place with a new name;
// migrate does not take its outputs for inputs).
func (k *killPlan) done(entries map[string]killEntry) (inputs int, bytes int64, skip int) {
	for _, in := range k.inputs {
		if k.finished(entries[in.rel]) {
			inputs++
			bytes += in.size
		}
	}
	outputs := map[string]bool{}
	for _, e := range entries {
		if k.finished(e) && e.Out != e.Path {
			outputs[e.Out] = true
		}
	}
	for p, e := range entries {
		if k.finished(e) && !outputs[p] {
			skip++
		}
	}
	return inputs, bytes, skip
}

// finished reports whether an entry's file is done: verified, or, in
// place, killed between its pending line and its verified one with the
// new file already renamed into place (its sha256 there), which a rerun
// finishes without redoing.
func (k *killPlan) finished(e killEntry) bool {
	if e.ok() {
		return true
	}
	if !e.Pending || e.Out == "" || e.OutSHA == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(k.manifest), filepath.FromSlash(e.Out)))
	sum := sha256.Sum256(b)
	return err == nil && hex.EncodeToString(sum[:]) == e.OutSHA
}

func TestMigrateKill(t *testing.T) {
	tmp := t.TempDir()
	src, ref, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "ref"), filepath.Join(tmp, "dst")
	ins := killTree(t, src)
	seed := killSeed(t)
	t.Logf("seed %d (FLOWGATE_KILL_SEED=%d draws the same kill times)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	var recs int64
	for _, in := range ins {
		recs += in.records
	}

	full, _ := killComplete(t, "-q", "-j", "2", src, ref)
	want := killSnap(t, ref)
	// Rerun on a finished migration: nothing to do, nothing changes.
	resume, _ := killComplete(t, "-q", "-j", "2", src, ref)
	if d := killDiff(want, killSnap(t, ref)); len(d) > 0 {
		t.Fatalf("a rerun on a finished migration changed it:\n%s", strings.Join(d, "\n"))
	}
	t.Logf("%d files, %d records: an uninterrupted run %v, a rerun with nothing to do %v", len(ins), recs, full.Round(time.Millisecond), resume.Round(time.Millisecond))

	plan := &killPlan{
		args:     []string{"-j", "2", src, dst},
		manifest: filepath.Join(dst, killManifest),
		inputs:   ins,
		full:     full,
		resume:   resume,
		afterKill: func(t *testing.T, i int) {
			// Whatever stands under its final name is whole: the
			// reference's file, bytes, mode and time.
			for p, g := range killSnap(t, dst) {
				if g.dir || strings.HasSuffix(p, ".migrate-tmp") || killRunFile(p) {
					continue
				}
				if d := killDiff(map[string]killFile{p: want[p]}, map[string]killFile{p: g}); want[p].sha == "" || len(d) > 0 {
					t.Errorf("after kill %d: %s stands under its final name, unlike the reference: %v", i, p, d)
				}
			}
		},
	}
	st := plan.run(t, rng)
	if st.files != len(ins) {
		t.Errorf("last run: %d files, want %d", st.files, len(ins))
	}

	got := killSnap(t, dst)
	for p := range got {
		if strings.HasSuffix(p, ".migrate-tmp") {
			t.Errorf("left over: %s", p)
		}
	}
	if d := killDiff(want, got); len(d) > 0 {
		t.Errorf("killed %d times and rerun, %s differs from an uninterrupted run (seed %d):\n%s", killRuns, dst, seed, strings.Join(d, "\n"))
	}
	killSameManifest(t, filepath.Join(ref, killManifest), filepath.Join(dst, killManifest))
	t.Logf("%d runs interrupted with files to do, %d started with files done before", st.interrupted, st.resumed)
	if st.interrupted < killRuns/2 {
		t.Errorf("only %d of %d runs were interrupted with files to do: the tree is too small for the machine", st.interrupted, killRuns)
	}
	if st.resumed < 2 {
		t.Errorf("only %d runs started with files done before", st.resumed)
	}
}

// killSameManifest checks two manifests are the same bytes, and says
// where they differ.
func killSameManifest(t *testing.T, want, got string) {
	t.Helper()
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w, g) {
		return
	}
	wl, gl := strings.Split(string(w), "\n"), strings.Split(string(g), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var a, b string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b {
			t.Errorf("manifest line %d:\n got %s\nwant %s", i+1, b, a)
		}
	}
}

func TestMigrateKillInPlace(t *testing.T) {
	tmp := t.TempDir()
	orig, ref, dst := filepath.Join(tmp, "orig"), filepath.Join(tmp, "ref"), filepath.Join(tmp, "dst")
	ins := killTree(t, orig)
	killCopyTree(t, orig, ref)
	killCopyTree(t, orig, dst)
	seed := killSeed(t)
	t.Logf("seed %d (FLOWGATE_KILL_SEED=%d draws the same kill times)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	var recs int64
	for _, in := range ins {
		recs += in.records
	}
	// zstd for all: a gzip or plain file gets a new name, and the old one
	// is removed once the new one is verified; a 3.x zstd file is
	// replaced under its own name.
	args := []string{"-j", "2", "--in-place", "--compress", "zstd"}

	full, _ := killComplete(t, append(append([]string{"-q"}, args...), ref)...)
	want := killSnap(t, ref)
	resume, _ := killComplete(t, append(append([]string{"-q"}, args...), ref)...)
	if d := killDiff(want, killSnap(t, ref)); len(d) > 0 {
		t.Fatalf("a rerun on a finished migration changed it:\n%s", strings.Join(d, "\n"))
	}
	t.Logf("%d files, %d records: an uninterrupted run %v, a rerun with nothing to do %v", len(ins), recs, full.Round(time.Millisecond), resume.Round(time.Millisecond))
	// The reference itself: every Argus input in its new form only.
	for _, in := range ins {
		nrel := killZstName(in)
		if in.version == 0 {
			nrel = in.rel
		}
		if _, ok := want[nrel]; !ok {
			t.Fatalf("reference: %s has no %s", in.rel, nrel)
		}
		if g, ok := want[in.rel]; nrel != in.rel && ok {
			t.Fatalf("reference: %s is still there beside %s (%+v)", in.rel, nrel, g)
		}
	}
	if n := len(ins); len(want) < n {
		t.Fatalf("reference: %d paths for %d inputs", len(want), n)
	}

	plan := &killPlan{
		args:     append(args, dst),
		manifest: filepath.Join(dst, killManifest),
		inputs:   ins,
		full:     full,
		resume:   resume,
		afterKill: func(t *testing.T, i int) {
			killNoLoss(t, fmt.Sprintf("after kill %d", i), dst, ins, want)
		},
	}
	st := plan.run(t, rng)

	got := killSnap(t, dst)
	for p := range got {
		if strings.HasSuffix(p, ".migrate-tmp") {
			t.Errorf("left over: %s", p)
		}
	}
	delete(want, killManifest) // compared below, the roots aside
	delete(got, killManifest)
	if d := killDiff(want, got); len(d) > 0 {
		t.Errorf("killed %d times and rerun, %s differs from an uninterrupted run (seed %d):\n%s", killRuns, dst, seed, strings.Join(d, "\n"))
	}
	bug := killInPlaceManifest(t, ref, dst)
	if st.files != len(ins) {
		// With killBug, an output the last run took for an input.
		msg := fmt.Sprintf("last run: %d files, want %d", st.files, len(ins))
		if len(bug) == 0 || st.files < len(ins) {
			t.Error(msg)
		}
		bug = append(bug, msg)
	}
	t.Logf("%d runs interrupted with files to do, %d started with files done before", st.interrupted, st.resumed)
	if st.interrupted < killRuns/2 {
		t.Errorf("only %d of %d runs were interrupted with files to do: the tree is too small for the machine", st.interrupted, killRuns)
	}
	if st.resumed < 2 {
		t.Errorf("only %d runs started with files done before", st.resumed)
	}
	if len(bug) > 0 {
		t.Errorf("%s (seed %d):\n%s", killBug, seed, strings.Join(bug, "\n"))
	}
}

// killBug is a bug these tests found in gateway/migrate, fixed with a
// pending manifest line written before an in-place output's rename: an
// output took its final name (the input's own, or a new one beside the
// input, which was then removed) before its manifest line was written;
// killed in between, the rerun found a 5.x file with no line and recorded
// it as an input already 5.x, "copied". The files were the same; the
// manifest was not: the input's sha256 and its migration from 3.x were
// lost, and an output got a line as if it were an input (or, removed,
// the input had none).
const killBug = "in place, killed between an output's rename and its manifest line, the rerun recorded the output as an input already 5.x"

// killInPlaceManifest compares the manifest of a tree migrated in place,
// killed and rerun with that of an uninterrupted run (the trees' roots,
// which errors carry in the inputs' names, aside). The differences of
// killBug are returned; any other is an error.
func killInPlaceManifest(t *testing.T, wantRoot, gotRoot string) []string {
	t.Helper()
	read := func(root string) map[string]string {
		b, err := os.ReadFile(filepath.Join(root, killManifest))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte(root+string(filepath.Separator)), []byte("ROOT/"))
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var e killEntry
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Path == "" {
				t.Errorf("%s: a line that is not an entry: %q", root, l)
				continue
			}
			m[e.Path] = l
		}
		return m
	}
	entry := func(l string) (e killEntry) {
		json.Unmarshal([]byte(l), &e)
		return e
	}
	want, got := read(wantRoot), read(gotRoot)
	outputOf := map[string]killEntry{} // the reference's renamed outputs
	for _, l := range want {
		if e := entry(l); e.Out != e.Path {
			outputOf[e.Out] = e
		}
	}
	paths := map[string]bool{}
	for p := range want {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	var bug []string
	for _, p := range keys {
		wl, wok := want[p]
		gl, gok := got[p]
		w, g := entry(wl), entry(gl)
		copied := g.Result == "copied" && g.From == 5
		switch {
		case wok && gok && wl == gl:
		case wok && gok && copied && w.Result == "migrated" && w.From == 3 && g.Out == w.Out && g.OutSHA == w.OutSHA:
			bug = append(bug, fmt.Sprintf("%s: replaced in place by its 5.x version, then recorded as copied from 5.x, in_sha256 %.12s (its output's), not the input's %.12s", p, g.InSHA, w.InSHA))
		case !wok && gok && copied && outputOf[p].OutSHA == g.OutSHA:
			bug = append(bug, fmt.Sprintf("%s: the output of %s, recorded as an input copied", p, outputOf[p].Path))
		case wok && !gok && w.Out != w.Path && entry(got[w.Out]).Result == "copied" && entry(got[w.Out]).OutSHA == w.OutSHA:
			bug = append(bug, fmt.Sprintf("%s: migrated to %s and removed, with no line", p, w.Out))
		default:
			t.Errorf("manifest, %s:\n got %s\nwant %s", p, gl, wl)
		}
	}
	return bug
}

// killZstName is the name migrate --compress zstd gives an input.
func killZstName(in killInput) string {
	switch in.comp {
	case "gzip":
		return strings.TrimSuffix(in.rel, ".gz") + ".zst"
	case "none":
		return in.rel + ".zst"
	}
	return in.rel
}

// killNoLoss checks, in a tree migrated in place and killed, that every
// input stands in its old form (its bytes) or its new one (a 5.x zstd
// file that decodes to the end with the input's records, and is the
// reference's file), and that nothing else stands but temporary files
// and the runs' own files.
func killNoLoss(t *testing.T, when, root string, ins []killInput, want map[string]killFile) {
	t.Helper()
	snap := killSnap(t, root)
	known := map[string]bool{}
	for _, in := range ins {
		g, ok := snap[in.rel]
		old := ok && g.sha == in.sha
		known[in.rel] = old
		if in.version == 0 {
			if !old {
				t.Errorf("%s: %s lost (%+v)", when, in.rel, g)
			}
			continue
		}
		nrel := killZstName(in)
		ng, ok := snap[nrel]
		isNew := false
		if ok && ng.sha != in.sha {
			v, n, err := killDecode(filepath.Join(root, filepath.FromSlash(nrel)))
			isNew = err == nil && v == 5 && n == in.records
			if !isNew {
				t.Errorf("%s: %s stands for %s, but reads as Argus %d, %d records of %d, error %v", when, nrel, in.rel, v, n, in.records, err)
			}
			if ng.sha != want[nrel].sha {
				t.Errorf("%s: %s stands for %s, unlike the reference's", when, nrel, in.rel)
			}
			known[nrel] = true
		}
		if !old && !isNew {
			t.Errorf("%s: %s lost: neither it nor %s stands", when, in.rel, nrel)
		}
	}
	for p, g := range snap {
		if !g.dir && !known[p] && !killRunFile(p) && !strings.HasSuffix(p, ".migrate-tmp") {
			t.Errorf("%s: %s stands, neither an input nor a verified output (%d bytes)", when, p, g.size)
		}
	}
}

// TestMigrateKillInPlaceWindow puts a tree in the states a kill leaves
// when it lands between an output's pending manifest line and its
// migrated one, in place (a window random kills hit now and then): the
// pending line alone; a 3.x zstd file replaced by its 5.x version under
// its own name; a gzip file's .zst beside it; the .zst with the gzip file
// removed. Rerun, each must end as an uninterrupted run does, manifest
// included.
func TestMigrateKillInPlaceWindow(t *testing.T) {
	tmp := t.TempDir()
	orig := filepath.Join(tmp, "orig")
	all := killTree(t, orig)
	const day = "archive/2025/03/01"
	var ins []killInput
	for _, in := range all {
		if strings.HasPrefix(in.rel, day+"/") {
			in.rel = strings.TrimPrefix(in.rel, day+"/")
			ins = append(ins, in)
		}
	}
	args := []string{"-q", "-j", "2", "--in-place", "--compress", "zstd"}
	ref := filepath.Join(tmp, "ref")
	killCopyTree(t, filepath.Join(orig, day), ref)
	killComplete(t, append(args, ref)...)
	want := killSnap(t, ref)
	delete(want, killManifest)
	type state struct {
		name   string
		in     killInput
		remove bool // the input removed after its output's rename
	}
	var states []state
	seen := map[string]bool{}
	for _, in := range ins {
		if in.version != 3 || seen[in.comp] {
			continue
		}
		seen[in.comp] = true
		switch in.comp {
		case "zstd":
			states = append(states, state{"pending, not renamed", in, false},
				state{"replaced under its own name", in, false})
		default:
			states = append(states, state{"pending, not renamed", in, false},
				state{"renamed, the input not yet removed", in, false},
				state{"renamed, the input removed", in, true})
		}
	}
	var bug []string
	for k, s := range states {
		dir := filepath.Join(tmp, fmt.Sprint("state", k))
		killCopyTree(t, filepath.Join(orig, day), dir)
		nrel := killZstName(s.in)
		// migrate writes a pending line (the reference's line for the
		// input, marked) before the rename.
		_, refEntries := killReadManifest(t, filepath.Join(ref, killManifest))
		if _, ok := refEntries[s.in.rel]; !ok {
			t.Fatalf("reference: no line for %s", s.in.rel)
		}
		lines, _ := killReadManifest(t, filepath.Join(ref, killManifest))
		var pending map[string]any
		for _, l := range lines {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["path"] == s.in.rel {
				pending = m
			}
		}
		pending["pending"] = true
		pl, _ := json.Marshal(pending)
		if err := os.WriteFile(filepath.Join(dir, killManifest), append(pl, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		if s.name != "pending, not renamed" {
			// The verified output under its final name, as the
			// reference's.
			b, err := os.ReadFile(filepath.Join(ref, nrel))
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, nrel)
			os.Remove(name)
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			w := want[nrel]
			if err := os.Chmod(name, w.mode.Perm()); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(name, w.mtime, w.mtime); err != nil {
				t.Fatal(err)
			}
		}
		if s.remove {
			if err := os.Remove(filepath.Join(dir, s.in.rel)); err != nil {
				t.Fatal(err)
			}
		}
		killNoLoss(t, s.name, dir, ins, want)
		killComplete(t, append(args, dir)...)
		got := killSnap(t, dir)
		delete(got, killManifest)
		if d := killDiff(want, got); len(d) > 0 {
			t.Errorf("%s: %s, rerun, differs from an uninterrupted run:\n%s", s.in.rel, s.name, strings.Join(d, "\n"))
		}
		for _, d := range killInPlaceManifest(t, ref, dir) {
			bug = append(bug, s.name+": "+d)
		}
	}
	if len(bug) > 0 {
		t.Errorf("%s:\n%s", killBug, strings.Join(bug, "\n"))
	}
}
