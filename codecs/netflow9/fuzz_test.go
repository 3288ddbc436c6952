package netflow9

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// FuzzDecode: any input is decoded without panic, twice through one
// decoder (so templates the input defines apply to its data sets), every
// error is a *codecs.DecodeError, and records carry their exporter. Seeds:
// the flowbeat corpus payloads of this version (read at fuzz time, not
// copied) and the benchmark messages.
func FuzzDecode(f *testing.F) {
	tpl, data := benchMessages(3)
	// One message with the template set and the data set.
	both := append(append(append([]byte(nil), data[:20]...), tpl[20:]...), data[20:]...)
	f.Add(both)
	f.Add(tpl)
	f.Add(data)
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "netflow-exports/flowbeat/dat/netflow9*.dat"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) > 1 && b[1] == 9 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(WithTemplateLimit(64, 64<<10), WithPendingLimit(4096, 0))
		var recs []flow.Record
		for range 2 {
			var err error
			recs, err = d.DecodePacket(b, benchFrom, recs[:0])
			var de *codecs.DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("error %T %v", err, err)
			}
			for i := range recs {
				if recs[i].Exporter != benchFrom || recs[i].Has&flow.HasExporter == 0 {
					t.Fatalf("record %d without exporter", i)
				}
			}
		}
		s := d.Stats()
		if s.Packets != 2 {
			t.Fatalf("packets %d", s.Packets)
		}
	})
}
