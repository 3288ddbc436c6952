package argus

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// corpusFiles lists every Argus file of $FLOWGATE_CORPUS.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS not set; see /work/shared/corpus/README.md")
	}
	var files []string
	for _, pat := range []string{"argus/oracle/*/v3.argus", "argus/oracle/*/v3full.argus", "argus/oracle/*/v5.argus", "argus/oracle/*/v5full.argus"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	files = append(files, filepath.Join(root, "argus/openargus-clients/baseline.2024.01.25.out"))
	sort.Strings(files)
	if len(files) < 10 {
		t.Fatalf("only %d Argus files in the corpus", len(files))
	}
	return files
}

// rewrite reads data and writes every record back with a writer of the
// given version (0 = the input's version).
func rewrite(t testing.TB, data []byte, version int, opts ...Option) ([]byte, *Reader, *Writer, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, nil, err
	}
	if version == 0 {
		version = r.Version()
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, version, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var rec flow.Record
	for {
		err := r.Decode(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, r, w, err
		}
		if err := w.Encode(&rec); err != nil {
			return nil, r, w, err
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), r, w, nil
}

func TestCorpusRewriteIdentical(t *testing.T) {
	for _, f := range corpusFiles(t) {
		name, _ := filepath.Rel(os.Getenv("FLOWGATE_CORPUS"), f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, r, w, err := rewrite(t, data, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Byte identity must come from the model, not from the
			// verbatim fallback, or this test would prove nothing.
			if r.d.verbose > 0 {
				t.Errorf("%d DSRs kept verbatim: the model does not reproduce them", r.d.verbose)
			}
			_ = w
			if !bytes.Equal(out, data) {
				i := 0
				for i < len(out) && i < len(data) && out[i] == data[i] {
					i++
				}
				lo := max(0, i-16)
				t.Fatalf("rewrite differs at byte %d (len %d vs %d)\nwant % x\ngot  % x", i, len(out), len(data),
					data[lo:min(len(data), i+32)], out[lo:min(len(out), i+32)])
			}
		})
	}
}

var errStop = errors.New("stop")
