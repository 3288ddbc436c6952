package migrate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// corpusArgus returns the corpus's Argus files of a version ("v3" or
// "v5"), or skips.
func corpusArgus(t testing.TB, v string) []string {
	t.Helper()
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs argus/oracle/*/" + v + "*.argus")
	}
	files, _ := filepath.Glob(filepath.Join(c, "argus", "oracle", "*", v+"*.argus"))
	if len(files) == 0 {
		t.Skip("no " + v + " files in the corpus")
	}
	sort.Strings(files)
	return files
}

// compressBytes compresses b as c with writers other than migrate's own
// choices of level (the input side of a real archive).
func compressBytes(t testing.TB, b []byte, c string) []byte {
	t.Helper()
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case Gzip:
		w, err = gzip.NewWriterLevel(&out, gzip.BestSpeed)
	case Bzip2:
		w, err = dbzip2.NewWriter(&out, &dbzip2.WriterConfig{Level: dbzip2.BestSpeed})
	case XZ:
		w, err = xz.NewWriter(&out)
	case Zstd:
		w, err = zstd.NewWriter(&out)
	default:
		return b
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readValues decodes an Argus file (any compression) and prints each
// record's values as codecs/argus's conversion tests compare them: by
// fmt, a comparison independent of sameValues.
func readValues(t testing.TB, name string) ([]string, int) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := argus.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for {
		var r flow.Record
		err := rd.Decode(&r)
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("%s: %v", name, err)
			}
			return out, rd.Version()
		}
		r.Argus = flow.ArgusLayout{}
		r.Mgmt.Cookie, r.Mgmt.Major, r.Mgmt.ID = 0, 0, [16]byte{}
		if r.SrcID.Type == flow.SrcIDNone && r.Has&flow.HasSrcID != 0 {
			r.SrcID.Type = flow.SrcIDIPv4
		}
		out = append(out, fmt.Sprintf("%+v", r))
	}
}

type treeFile struct {
	rel, comp string
	mtime     time.Time
}

// buildTree writes every 3.x corpus file under dir, in turn plain, gzip,
// bzip2, xz and zstd, hourly names over several days, plus one 5.x
// file, one text file and one 3.x file cut mid-record.
func buildTree(t *testing.T, dir string) []treeFile {
	t.Helper()
	comps := []string{None, Gzip, Bzip2, XZ, Zstd}
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var files []treeFile
	put := func(rel, comp string, b []byte, mt time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, compressBytes(t, b, comp), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		files = append(files, treeFile{rel, comp, mt})
	}
	for i, f := range corpusArgus(t, "v3") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ts := base.Add(time.Duration(i) * time.Hour)
		rel := ts.Format("2006/01/02/argus.2006.01.02.15.04.05.out") + exts[comps[i%len(comps)]]
		put(rel, comps[i%len(comps)], b, ts.Add(time.Hour))
	}
	v5 := corpusArgus(t, "v5full")
	b, _ := os.ReadFile(v5[0])
	put("2025/03/09/already5.out.gz", Gzip, b, base)
	put("2025/03/09/README.txt", None, []byte("This directory holds the sensor's hourly files.\n"), base)
	b, _ = os.ReadFile(corpusArgus(t, "v3full")[0])
	put("2025/03/09/cut.out", None, b[:len(b)-len(b)/3-2], base)
	return files
}

func entries(t testing.TB, dst string) map[string]Entry {
	t.Helper()
	m, err := readManifest(filepath.Join(dst, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunTree migrates a tree of every 3.x corpus file in five
// compressions: each output keeps its compression, name, mode and time,
// and holds the input's records value for value (read by codecs/argus,
// compared by fmt); the 5.x file is copied, the text file skipped, the cut
// file migrated up to the cut; a rerun does nothing.
func TestRunTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	files := buildTree(t, src)
	var log bytes.Buffer
	s, err := Run(context.Background(), src, dst, Options{Jobs: 3, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 0 || s.Copied != 1 || s.Skipped != 1 || s.Truncated != 1 || s.Migrated != len(files)-3 {
		t.Fatalf("summary %+v\n%s", s, log.String())
	}
	m := entries(t, dst)
	for _, f := range files {
		e, ok := m[f.rel]
		if !ok {
			t.Fatalf("%s: no manifest line", f.rel)
		}
		in := filepath.Join(src, filepath.FromSlash(f.rel))
		out := filepath.Join(dst, filepath.FromSlash(f.rel))
		if e.Result == Skipped {
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s: skipped file has an output", f.rel)
			}
			continue
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatalf("%s: %v", f.rel, err)
		}
		if !fi.ModTime().Equal(f.mtime) || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mtime %v mode %v, want %v 0640", f.rel, fi.ModTime(), fi.Mode(), f.mtime)
		}
		o, _ := os.Open(out)
		if c := sniff(bufio.NewReader(o)); c != f.comp || e.Compress != f.comp {
			t.Errorf("%s: compressed %s (manifest %s), want %s", f.rel, c, e.Compress, f.comp)
		}
		o.Close()
		a, va := readValues(t, in)
		b, vb := readValues(t, out)
		if vb != 5 {
			t.Errorf("%s: version %d out", f.rel, vb)
		}
		if e.Result == Copied {
			if va != 5 || e.InSHA256 != e.OutSHA256 {
				t.Errorf("%s: copied %+v", f.rel, e)
			}
			continue
		}
		if len(a) != len(b) || int64(len(b)) != e.Records {
			t.Fatalf("%s: %d records in, %d out, manifest %d", f.rel, len(a), len(b), e.Records)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: record %d differs:\nin  %s\nout %s", f.rel, i, a[i], b[i])
			}
		}
	}
	if e := m["2025/03/09/cut.out"]; e.Result != Truncated || !strings.Contains(e.Error, "truncated") {
		t.Errorf("cut file: %+v", e)
	}
	if e := m["2025/03/09/README.txt"]; e.Result != Skipped || !strings.Contains(e.Error, "unknown format") {
		t.Errorf("text file: %+v", e)
	}
	if !strings.Contains(log.String(), "migrate: "+fmt.Sprint(len(files))+" files:") {
		t.Errorf("no summary:\n%s", log.String())
	}
	// A rerun finds every file done; the manifest is the same.
	before, _ := os.ReadFile(filepath.Join(dst, ManifestName))
	s, err = Run(context.Background(), src, dst, Options{})
	if err != nil || s.Resumed != len(files)-1 || len(s.Entries) != 1 {
		// the skipped text file is looked at again
		t.Fatalf("rerun: %+v %v", s, err)
	}
	after, _ := os.ReadFile(filepath.Join(dst, ManifestName))
	if !bytes.Equal(before, after) {
		t.Error("the manifest changed on a rerun")
	}
	// A removed output is made again, the same.
	one := files[3].rel
	want, _ := os.ReadFile(filepath.Join(dst, one))
	os.Remove(filepath.Join(dst, one))
	if s, err = Run(context.Background(), src, dst, Options{}); err != nil || s.Migrated != 1 {
		t.Fatalf("rerun after a removal: %+v %v", s, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, one)); !bytes.Equal(got, want) {
		t.Error("a file made again differs")
	}
	// --verify passes, with and without the inputs.
	for _, from := range []string{"", src} {
		if s, err := Verify(context.Background(), dst, Options{VerifyFrom: from}); err != nil || s.Failed != 0 {
			t.Fatalf("verify (inputs %q): %+v %v", from, s, err)
		}
	}
}

// TestVerifyDetects: an output changed after the migration (one byte), or
// an input changed since, fails --verify on that file only.
func TestVerifyDetects(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	files := buildTree(t, src)
	if _, err := Run(context.Background(), src, dst, Options{}); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dst, filepath.FromSlash(files[0].rel)) // a plain file
	b, _ := os.ReadFile(victim)
	b[len(b)/2] ^= 0x40
	os.Chmod(victim, 0o640)
	os.WriteFile(victim, b, 0o640)
	var log bytes.Buffer
	s, err := Verify(context.Background(), dst, Options{Progress: &log})
	if err != nil || s.Failed != 1 || !strings.Contains(log.String(), files[0].rel) {
		t.Fatalf("verify after a change: %+v %v\n%s", s, err, log.String())
	}
	if !errors.Is(fmt.Errorf("%s", s.Entries[0].Error), ErrVerify) && !strings.Contains(log.String(), "verification failed") {
		t.Errorf("error %q", log.String())
	}
}

// TestCompressAndInPlace: --compress zstd renames .gz and plain files to
// .zst; in place, the old file goes once the new one is verified.
func TestCompressAndInPlace(t *testing.T) {
	src := t.TempDir()
	files := buildTree(t, src)
	s, err := Run(context.Background(), src, "", Options{InPlace: true, Compress: Zstd})
	if err != nil || s.Failed != 0 {
		t.Fatalf("%+v %v", s, err)
	}
	m := entries(t, src)
	for _, f := range files {
		e := m[f.rel]
		if e.Result == Skipped {
			continue
		}
		want := strings.TrimSuffix(f.rel, exts[f.comp]) + ".zst"
		if e.Out != want {
			t.Errorf("%s: out %s, want %s", f.rel, e.Out, want)
		}
		if _, err := os.Stat(filepath.Join(src, f.rel)); err == nil && want != f.rel {
			t.Errorf("%s: still there in place", f.rel)
		}
		if _, v := readValues(t, filepath.Join(src, want)); v != 5 {
			t.Errorf("%s: version %d", want, v)
		}
	}
	// Again in place: all done.
	if s, err := Run(context.Background(), src, "", Options{InPlace: true, Compress: Zstd}); err != nil || s.Resumed != len(files)-1 {
		t.Fatalf("in place again (%d files): %+v %v", len(files), s, err)
	}
}

// TestDowngrade: corpus 5.x files go to 3.x with their losses listed per
// file and in total, the same counts the Writer reports for them; the
// 3.x copy comes back to 5.x as migrated, without new losses.
func TestDowngrade(t *testing.T) {
	src, mid, back := t.TempDir(), t.TempDir(), t.TempDir()
	for _, f := range corpusArgus(t, "v5full") {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(src, filepath.Base(filepath.Dir(f))+".argus"), b, 0o644)
	}
	s, err := Run(context.Background(), src, mid, Options{To: 3})
	if err != nil || s.Failed != 0 {
		t.Fatalf("%+v %v", s, err)
	}
	if len(s.Lost) == 0 {
		t.Fatal("no losses listed going to 3.x")
	}
	// The Writer alone, on the same records, counts the same losses.
	want := map[string]int64{}
	for _, e := range s.Entries {
		var n int
		w, _ := argus.NewWriter(io.Discard, 3, argus.WithLossy(func(field, reason string) { want[field]++; n++ }))
		f, _ := os.Open(filepath.Join(src, e.Path))
		rd, _ := argus.NewReader(f)
		for {
			var r flow.Record
			if rd.Decode(&r) != nil {
				break
			}
			w.Encode(&r)
		}
		f.Close()
		var got int64
		for _, v := range e.Lost {
			got += v
		}
		if got != int64(n) {
			t.Errorf("%s: %d losses in the manifest, the writer counts %d", e.Path, got, n)
		}
	}
	for k, v := range want {
		if s.Lost[k] != v {
			t.Errorf("lost %s: %d, want %d", k, s.Lost[k], v)
		}
	}
	b, _ := json.Marshal(s.Lost)
	t.Logf("losses 5.x -> 3.x over %d files: %s", len(s.Entries), b)
	s2, err := Run(context.Background(), mid, back, Options{To: 5})
	if err != nil || s2.Failed != 0 || s2.Migrated != len(s.Entries) || len(s2.Lost) != 0 {
		t.Fatalf("back to 5: %+v %v", s2, err)
	}
}

// FuzzMigrateFile: any bytes as a file are migrated, copied, skipped,
// truncated or failed, never a panic; what is migrated verifies.
func FuzzMigrateFile(f *testing.F) {
	if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
		files, _ := filepath.Glob(filepath.Join(c, "argus", "oracle", "generated_*", "v3.argus"))
		for _, p := range files {
			b, _ := os.ReadFile(p)
			f.Add(b)
			f.Add(b[:len(b)*2/3])
		}
	}
	f.Add([]byte("not argus"))
	// A stream of our own cut inside its MAR, past the 16 bytes that
	// name it Argus (a regression: it came out as an empty "truncated"
	// file that --verify refused).
	var own bytes.Buffer
	w, _ := argus.NewWriter(&own, 3)
	w.Encode(&flow.Record{Type: flow.TypeFlow, Has: flow.HasTime, Start: 1e18, Last: 1e18 + 1e9})
	w.Close()
	for _, n := range []int{16, 100, own.Len() - 3} {
		f.Add(own.Bytes()[:n])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, dst := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(src, "f.out"), b, 0o644)
		s, err := Run(context.Background(), src, dst, Options{Jobs: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Entries) != 1 {
			t.Fatalf("%d entries", len(s.Entries))
		}
		switch e := s.Entries[0]; e.Result {
		case Migrated, Truncated, Copied:
			if v, err := Verify(context.Background(), dst, Options{VerifyFrom: src}); err != nil || v.Failed != 0 {
				t.Fatalf("verify %+v: %+v %v", e, v, err)
			}
		case Skipped, Failed:
			if e.Error == "" {
				t.Fatalf("%+v without an error", e)
			}
		default:
			t.Fatalf("result %q", e.Result)
		}
	})
}

// TestBusy: a second run into a DST another run holds is refused; a lock
// on a lock file since removed holds nothing.
func TestBusy(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	buildTree(t, src)
	f, err := os.OpenFile(filepath.Join(dst, ManifestName+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), src, dst, Options{}); !errors.Is(err, ErrBusy) && runtime.GOOS != "windows" {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	// The holder ends: it removes the file, then lets go. A run that
	// opened the file before the removal and locks it after must not run
	// beside one that takes the new file: the lock is on the file there.
	stale, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	unlockDst(f)
	if err := lock(stale); err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), src, dst, Options{})
	if err != nil || s.Failed != 0 || s.Migrated == 0 {
		t.Fatalf("after the holder: %+v %v", s, err)
	}
	// A finished run leaves its manifest and no lock file.
	if _, err := os.Stat(filepath.Join(dst, ManifestName+".lock")); !os.IsNotExist(err) {
		t.Errorf("lock file after the run: %v", err)
	}
}

// TestLevel: --level reaches each compressor. A gzip output at level 1
// says "fastest" in its header and at 9 "maximum compression" (RFC 1952
// XFL 4 and 2), and is larger; xz at 1 and 9 has the LZMA2 dictionary
// byte the xz tool writes at -1 and -9 (1 MiB 0x10, 64 MiB 0x1c: `echo |
// xz -1 | xxd`); the records are the same in both; the manifest
// keeps the level. A level out of range, or without a compression, is
// refused.
func TestLevel(t *testing.T) {
	src := t.TempDir()
	var data []byte
	for _, f := range corpusArgus(t, "v3full") {
		if b, _ := os.ReadFile(f); len(b) > len(data) {
			data = b
		}
	}
	if err := os.WriteFile(filepath.Join(src, "a.out"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	type out struct {
		b    []byte
		vals []string
	}
	run := func(c string, level int) out {
		dst := t.TempDir()
		s, err := Run(context.Background(), src, dst, Options{Compress: c, Level: level})
		if err != nil || s.Failed != 0 || len(s.Entries) != 1 {
			t.Fatalf("%s %d: %+v %v", c, level, s, err)
		}
		e := s.Entries[0]
		if e.Level != level || e.Compress != c {
			t.Errorf("%s %d: manifest says %s level %d", c, level, e.Compress, e.Level)
		}
		name := filepath.Join(dst, filepath.FromSlash(e.Out))
		b, _ := os.ReadFile(name)
		vals, _ := readValues(t, name)
		return out{b, vals}
	}
	g1, g9 := run(Gzip, 1), run(Gzip, 9)
	if g1.b[8] != 4 || g9.b[8] != 2 {
		t.Errorf("gzip XFL: level 1 %d (want 4), level 9 %d (want 2)", g1.b[8], g9.b[8])
	}
	if len(g1.b) <= len(g9.b) {
		t.Errorf("gzip: level 1 %d bytes, level 9 %d", len(g1.b), len(g9.b))
	}
	if !slices.Equal(g1.vals, g9.vals) || len(g1.vals) == 0 {
		t.Errorf("gzip: levels 1 and 9 give other records (%d, %d)", len(g1.vals), len(g9.vals))
	}
	// xz: stream header (12 bytes), block header size byte, flags, then
	// the LZMA2 filter: id 0x21, properties size 1, dictionary byte.
	dictByte := func(b []byte) byte {
		i := bytes.Index(b[12:64], []byte{0x21, 0x01})
		if i < 0 {
			t.Fatalf("xz: no LZMA2 filter flags in % x", b[:64])
		}
		return b[12+i+2]
	}
	if d1, d9 := dictByte(run(XZ, 1).b), dictByte(run(XZ, 9).b); d1 != 0x10 || d9 != 0x1c {
		t.Errorf("xz dictionary byte: level 1 %#x (want 0x10), level 9 %#x (want 0x1c)", d1, d9)
	}
	// A file already 5.x in its compression is copied as it is: no level.
	v5 := t.TempDir()
	b5, _ := os.ReadFile(corpusArgus(t, "v5full")[0])
	os.WriteFile(filepath.Join(v5, "b.out.gz"), compressBytes(t, b5, Gzip), 0o644)
	if s, err := Run(context.Background(), v5, t.TempDir(), Options{Level: 9}); err != nil || len(s.Entries) != 1 ||
		s.Entries[0].Result != Copied || s.Entries[0].Level != 0 {
		t.Errorf("5.x gzip at --level 9: %+v %v, want copied without a level", s, err)
	}
	for _, o := range []Options{{Level: 10}, {Level: -1}, {Level: 3, Compress: None}} {
		if _, err := Run(context.Background(), src, t.TempDir(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
