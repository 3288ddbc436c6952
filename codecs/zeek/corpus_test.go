package zeek

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// corpusLogs returns every conn.log of $FLOWGATE_CORPUS/zeek.
func corpusLogs(t testing.TB) []string {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS is not set")
	}
	var files []string
	filepath.WalkDir(filepath.Join(dir, "zeek"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "conn.log") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no conn.log under %s/zeek", dir)
	}
	return files
}

// rewrite reads in and writes it with opts (plus the reader's header).
func rewrite(t testing.TB, name string, in []byte, hdr *Header, opts ...Option) (out []byte, rd *Reader, n int) {
	t.Helper()
	rd = NewReader(bytes.NewReader(in), WithFileName(name))
	var buf bytes.Buffer
	if hdr == nil {
		hdr = rd.Header()
	}
	w := NewWriter(&buf, append([]Option{WithHeader(hdr)}, opts...)...)
	var rec flow.Record
	for {
		err := rd.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := w.Encode(&rec); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Stats().Dropped != 0 {
		t.Errorf("%s: %d values dropped", name, w.Stats().Dropped)
	}
	return buf.Bytes(), rd, n
}

func firstDiff(t testing.TB, name string, want, got []byte) {
	t.Helper()
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range wl {
		if i >= len(gl) || wl[i] != gl[i] {
			g := "<missing>"
			if i < len(gl) {
				g = gl[i]
			}
			t.Errorf("%s: line %d differs:\nwant %q\ngot  %q", name, i+1, wl[i], g)
			return
		}
	}
	t.Errorf("%s: %d lines, want %d", name, len(gl), len(wl))
}

// TestCorpusRoundTrip: every corpus conn.log rewrites byte for byte in its
// own form, and a TSV log goes to JSON lines and back to the same bytes.
func TestCorpusRoundTrip(t *testing.T) {
	var logs, recs, verb int64
	for _, f := range corpusLogs(t) {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		rd0 := NewReader(bytes.NewReader(in))
		var rec flow.Record
		rd0.Decode(&rec)
		form := rd0.Format()
		var opts []Option
		if form == FormatJSON {
			opts = append(opts, WithFormat(FormatJSON))
		}
		out, rd, n := rewrite(t, name, in, nil, opts...)
		if !bytes.Equal(in, out) {
			firstDiff(t, name, in, out)
			continue
		}
		logs++
		recs += int64(n)
		verb += rd.Stats().Verbatim
		if form == FormatTSV {
			js, _, _ := rewrite(t, name, in, nil, WithFormat(FormatJSON))
			back, _, _ := rewrite(t, name+" (json)", js, rd.Header())
			if !bytes.Equal(in, back) {
				firstDiff(t, name+" tsv->json->tsv", in, back)
			}
		}
	}
	t.Logf("%d logs, %d records rewritten byte for byte; %d values kept as text", logs, recs, verb)
}
