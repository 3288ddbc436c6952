package argus

import (
	"bytes"
	"os"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestFitsV3: fitsV3 never says a record fits Argus 3 when fitV3 would
// refuse or change it (every corpus record, 3.x and 5.x, as a record of
// no Argus origin), and says so for the 3.x files' records (it is no
// trivial "false").
func TestFitsV3(t *testing.T) {
	var fits, n int
	for _, f := range corpusFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, ver := readAll(t, data)
		for i := range recs {
			r := recs[i]
			if r.Type == flow.TypeMgmt {
				continue
			}
			r.Argus = flow.ArgusLayout{}
			n++
			if !fitsV3(&r) {
				if ver == 3 {
					t.Errorf("%s record %d: a 3.x record does not fit Argus 3", f, i)
				}
				continue
			}
			fits++
			var lost []string
			w, err := NewWriter(&bytes.Buffer{}, 3, WithLossy(func(field, reason string) { lost = append(lost, field) }))
			if err != nil {
				t.Fatal(err)
			}
			c := r
			if err := w.fitV3(&c); err != nil || len(lost) > 0 || values(c) != values(r) {
				t.Errorf("%s record %d: fitsV3 but fitV3 changed it (err %v, lost %v)", f, i, err, lost)
			}
		}
	}
	if fits == 0 || fits == n {
		t.Errorf("%d of %d records fit: the test proves nothing", fits, n)
	}
	t.Logf("%d of %d corpus records fit Argus 3 as they are", fits, n)
}
