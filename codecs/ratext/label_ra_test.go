package ratext_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// TestLabelAsRa: the label column prints the label DSR as Debian's ra
// 3.0.8.2 does: the record's own label and the context the Argus writer
// carries (fg.*, zeek.* words), which the Argus reader moves out of
// r.Label. The records are the corpus TSV conn.logs written as Argus 3.
func TestLabelAsRa(t *testing.T) {
	ra, err := exec.LookPath("ra")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ra not installed")
		}
		t.Skip("ra not installed")
	}
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	var logs []string
	filepath.WalkDir(filepath.Join(dir, "zeek"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "conn") && strings.HasSuffix(d.Name(), ".log") {
			logs = append(logs, p)
		}
		return nil
	})
	if len(logs) == 0 {
		t.Skip("no conn.log in the corpus")
	}
	tmp := t.TempDir()
	lines, labelled := 0, 0
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		var a bytes.Buffer
		w, err := argus.NewWriter(&a, 3, argus.WithLossy(nil))
		if err != nil {
			t.Fatal(err)
		}
		rd := zeek.NewReader(bytes.NewReader(data), zeek.WithFileName(l))
		for {
			var r flow.Record
			err := rd.Decode(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			if err := w.Encode(&r); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
		w.Close()
		f := filepath.Join(tmp, "conn.argus3")
		if err := os.WriteFile(f, a.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		fields := []string{"proto", "label"} // not ports, addresses nor times: ra 3.0.8.2 reverses two flows ours does not (history ^fA and H), and takes a masked ts from elsewhere
		want, err := exec.Command(ra, "-n", "-L", "-1", "-r", f, "-c", ",", "-s", fields[0], fields[1]).Output()
		if err != nil {
			t.Fatalf("%s: ra: %v", l, err)
		}
		var got bytes.Buffer
		p, err := ratext.NewPrinter(&got, ratext.Options{Compat3: true, NFlag: 1, Delim: ",", Labels: -1, Fields: fields, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		ar, err := argus.NewReader(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for {
			var r flow.Record
			err := ar.Decode(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Print(&r); err != nil {
				t.Fatal(err)
			}
			if r.Type != flow.TypeMgmt && argus.CarriesLabel(&r) {
				labelled++
			}
		}
		p.Flush()
		wl, gl := strings.Split(string(want), "\n"), strings.Split(got.String(), "\n")
		if len(wl) != len(gl) {
			t.Errorf("%s: ra prints %d lines, we %d", l, len(wl), len(gl))
			continue
		}
		for i := range wl {
			if wl[i] != gl[i] {
				t.Errorf("%s line %d:\nours %q\nra   %q", l, i+1, gl[i], wl[i])
				break
			}
		}
		lines += len(wl) - 1
	}
	if labelled == 0 {
		t.Fatal("no record carried a label")
	}
	t.Logf("%d conn.logs, %d lines as ra prints them, %d records with carried context", len(logs), lines, labelled)
}
