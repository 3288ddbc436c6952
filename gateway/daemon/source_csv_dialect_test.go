package daemon

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/flow"
)

// TestFileSourceCSVDialect: a csv: source's dialect: (here nfdump's -o
// csv columns) reads a file of that dialect; the same file read as the
// default argus dialect has no header it knows, counted malformed. The
// flows are the corpus file's TCP/UDP flows as ra 5 prints them.
func TestFileSourceCSVDialect(t *testing.T) {
	path := corpus(t, "argus/openargus-clients/baseline.2024.01.25.out")
	var em memEmitter
	if err := makeSource(t, path).Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	var ip []flow.Record
	for _, r := range em.snapshot() {
		if p := r.Key.Proto; r.Type == flow.TypeFlow && r.Key.Kind == flow.Kind5Tuple && (p == 6 || p == 17) {
			ip = append(ip, r)
		}
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "flows.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := csv.NewWriter(f, "nfdump")
	if err != nil {
		t.Fatal(err)
	}
	for i := range ip {
		if err := w.Encode(&ip[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	f.Close()
	for _, tc := range []struct {
		dialect string
		want    int
	}{{"nfdump", len(ip)}, {"", 0}} {
		y := "version: 1\npipelines:\n  - name: p\n    sources:\n      - {endpoint: 'csv:" + filepath.Join(dir, "flows.csv") + "'"
		if tc.dialect != "" {
			y += ", dialect: " + tc.dialect
		}
		y += "}\n    sinks: [json:-]\n"
		c := load(t, y)
		src, err := newFileSource(c.Pipelines[0].Sources[0], Env{})
		if err != nil {
			t.Fatal(err)
		}
		var got memEmitter
		if err := src.Run(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		recs := got.snapshot()
		if len(recs) != tc.want {
			t.Errorf("dialect %q: %d records, want %d", tc.dialect, len(recs), tc.want)
		}
		if tc.want > 0 {
			if g, w := ourFlows(recs), ourFlows(ip); !slices.Equal(g, w) {
				t.Errorf("dialect %q: flows differ from the file's", tc.dialect)
			}
			if g, w := ourFlows(recs), ra5Flows(t, corpus(t, "argus/derived/baseline.2024.01.25.ra5.csv")); !slices.Equal(g, w) {
				t.Errorf("dialect %q: %d flows, ra 5 prints %d", tc.dialect, len(g), len(w))
			}
		} else if st := src.Stats(); len(st.Lost) == 0 || st.Lost[0].Reason != ReasonMalformed {
			t.Errorf("dialect %q: losses %+v, want malformed", tc.dialect, st.Lost)
		}
	}
}
