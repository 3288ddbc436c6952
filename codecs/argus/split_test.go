package argus

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/codecs"
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

// TestRecordDecoderShort: a record handed to a RecordDecoder from
// elsewhere than Next (a Kafka message) that is shorter than a header, or
// than its header's length, or not whole words, is ErrTruncated, not a
// panic.
func TestRecordDecoderShort(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample.argus"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var whole []byte
	for {
		b, _, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b[0]&0x80 == 0 { // a flow record
			whole = append([]byte(nil), b...)
			break
		}
	}
	d := r.NewRecordDecoder()
	var rec flow.Record
	if err := d.Decode(&rec, whole, 0); err != nil {
		t.Fatalf("whole record: %v", err)
	}
	for _, b := range [][]byte{nil, whole[:3], whole[:4], whole[:len(whole)-4], whole[:len(whole)-1], append(whole[:len(whole):len(whole)], 0, 0, 0, 0)} {
		if err := d.Decode(&rec, b, 0); !errors.Is(err, codecs.ErrTruncated) {
			t.Errorf("%d of %d bytes: %v, want ErrTruncated", len(b), len(whole), err)
		}
	}
}
