package nfcore

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// TestCorpusNoPanic decodes every flowbeat payload with one decoder per
// version: nothing panics, and the totals are logged.
func TestCorpusNoPanic(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "netflow-exports/flowbeat/dat/*.dat"))
	d9 := NewDecoder(V9, Config{})
	d10 := NewDecoder(IPFIX, Config{})
	from := netip.MustParseAddrPort("192.0.2.1:4444")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 2 {
			continue
		}
		d := d9
		if b[1] == 10 {
			d = d10
		} else if b[1] != 9 {
			continue
		}
		recs, err := d.DecodePacket(b, from, nil)
		t.Logf("%s: %d records, err %v", filepath.Base(f), len(recs), err)
	}
	t.Logf("v9 %+v", d9.Stats())
	t.Logf("ipfix %+v", d10.Stats())
}
