package csv

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// FuzzRead: any input ends in EOF or an error, never a panic or a loop,
// and every record read writes back as CSV that reads again to as many
// records. Seeded with ra's and nfdump's real CSV from the corpus and
// the hand-made cases of the tests.
func FuzzRead(f *testing.F) {
	f.Add([]byte("SrcAddr,Label,Sport\r\n10.0.0.1,\"a,b\",80\r\n10.0.0.2,\"say \"\"hi\"\"\nthere\",81\n"))
	f.Add([]byte("\xEF\xBB\xBF# c\n\nSrcAddr,Sport,Proto\n10.0.0.1,80,tcp\n10.0.0.2\n10.0.0.3,\"82\"x,tcp\n10.0.0.4,\"83,udp\n"))
	f.Add([]byte("ts,te,sa,da,pr\nNo matching flows\nSummary\nflows,bytes\n0,0\n"))
	f.Add([]byte("SrcAddr\tSport\n::1\t80\n"))
	if c := os.Getenv("FLOWGATE_CORPUS"); c != "" {
		seeds, _ := filepath.Glob(filepath.Join(c, "argus/oracle/generated_*/v3.ra3.csv"))
		more, _ := filepath.Glob(filepath.Join(c, "generated/exports/v9/nfdump/*.csv.txt"))
		for _, s := range append(seeds, more...) {
			if b, err := os.ReadFile(s); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, d := range Dialects {
			rd, err := NewReader(bytes.NewReader(in), d, WithMaxRecord(64<<10))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w, _ := NewWriter(&out, d)
			var r flow.Record
			n := 0
			for tries := 0; tries < 10000; tries++ {
				err := rd.Decode(&r)
				if err == io.EOF || err != nil && rd.err != nil {
					break
				}
				if err != nil {
					if pe, ok := err.(*ParseError); !ok || !pe.Partial {
						continue
					}
				}
				if w.Encode(&r) == nil {
					n++
				}
			}
			w.Close()
			back, err := NewReader(bytes.NewReader(out.Bytes()), d)
			if err != nil {
				t.Fatal(err)
			}
			m := 0
			for {
				if err := back.Decode(&r); err == io.EOF {
					break
				} else if err != nil && back.err != nil {
					if n > 0 {
						t.Fatalf("%s: our own output %q: %v", d, out.Bytes(), err)
					}
					break
				}
				m++
			}
			if m != n {
				t.Fatalf("%s: wrote %d records, read back %d:\n%s", d, n, m, out.Bytes())
			}
		}
	})
}
