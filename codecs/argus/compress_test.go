package argus

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// TestCompressedInput reads the same stream plain and compressed with each
// format the reader detects by magic, and expects the same records.
func TestCompressedInput(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample.argus"))
	if err != nil {
		t.Fatal(err)
	}
	compress := map[string]func() ([]byte, error){
		"gzip": func() ([]byte, error) {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(plain)
			err := w.Close()
			return b.Bytes(), err
		},
		"xz": func() ([]byte, error) {
			var b bytes.Buffer
			w, err := xz.NewWriter(&b)
			if err != nil {
				return nil, err
			}
			w.Write(plain)
			err = w.Close()
			return b.Bytes(), err
		},
		"zstd": func() ([]byte, error) {
			var b bytes.Buffer
			w, err := zstd.NewWriter(&b)
			if err != nil {
				return nil, err
			}
			w.Write(plain)
			err = w.Close()
			return b.Bytes(), err
		},
		// The standard library only decompresses bzip2: use the bzip2
		// program (Debian's bzip2 package) to make the input.
		"bzip2": func() ([]byte, error) {
			p, err := exec.LookPath("bzip2")
			if err != nil {
				return nil, err
			}
			cmd := exec.Command(p, "-c")
			cmd.Stdin = bytes.NewReader(plain)
			return cmd.Output()
		},
	}
	want := readSummary(t, plain)
	for name, f := range compress {
		data, err := f()
		if err != nil {
			if name == "bzip2" {
				t.Logf("bzip2 skipped: %v", err)
				continue
			}
			t.Fatalf("%s: %v", name, err)
		}
		got := readSummary(t, data)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: record %d: %s, want %s", name, i, got[i], want[i])
			}
		}
	}
}

// readSummary decodes a stream into one summary line per record.
func readSummary(t *testing.T, data []byte) []string {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var rec flow.Record
	for {
		err := r.Decode(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		k := rec.Key
		out = append(out, k.Src.String()+" "+k.Dst.String()+" "+string(rune('0'+rec.Pkts[0]%10)))
	}
}
