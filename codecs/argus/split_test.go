package argus

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestNextDecodeSameAsDecode checks that framing with Next and decoding
// with a RecordDecoder gives the records Decode gives.
func TestNextDecodeSameAsDecode(t *testing.T) {
	files := []string{filepath.Join("..", "..", "testdata", "sample.argus")}
	if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
		m, _ := filepath.Glob(filepath.Join(c, "argus", "oracle", "*", "v*full.argus"))
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewReader(bytes.NewReader(data))
		rd := b.NewRecordDecoder()
		var ra, rb flow.Record
		n := 0
		for {
			off := a.Offset()
			errA := a.Decode(&ra)
			raw, offB, errB := b.Next()
			if errA == io.EOF || errB == io.EOF {
				if errA != errB {
					t.Fatalf("%s: record %d: Decode %v, Next %v", f, n, errA, errB)
				}
				break
			}
			if errA != nil || errB != nil {
				t.Fatalf("%s: record %d: %v / %v", f, n, errA, errB)
			}
			if off != offB {
				t.Fatalf("%s: record %d: offsets %d vs %d", f, n, off, offB)
			}
			if err := rd.Decode(&rb, raw, offB); err != nil {
				t.Fatalf("%s: record %d: %v", f, n, err)
			}
			if d := cmp.Diff(ra, rb, cmpopts.EquateEmpty(), cmpopts.EquateNaNs(), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})); d != "" {
				t.Fatalf("%s: record %d differs (-Decode +Next):\n%s", f, n, d)
			}
			n++
		}
	}
}
