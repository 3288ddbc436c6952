package ipfix

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/flow"
)

// raLines writes recs as Argus 3 with record type typ and prints them with
// Debian's ra 3.0.8.2.
func raLines(t *testing.T, recs []flow.Record, typ flow.RecordType) []string {
	t.Helper()
	var buf bytes.Buffer
	w, err := argus.NewWriter(&buf, 3, argus.WithLossy(func(field, reason string) { t.Logf("argus 3 drops %s: %s", field, reason) }))
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		r := recs[i]
		r.Type = typ
		if err := w.Encode(&r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "out.argus")
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ra", "-X", "-n", "-u", "-c", ",", "-r", f, "-L", "-1", "-s",
		"stime", "ltime", "saddr", "sport", "daddr", "dport", "proto", "spkts", "dpkts", "sbytes", "dbytes", "state", "srcid")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ra: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestRaPrints: decoded IPFIX biflows written by codecs/argus print in
// Debian ra 3.0.8.2 with the addresses, ports, counters both ways, times
// and TCP state that nfdump stored for the same export (ipfix_bi
// tcp_handshake: 10.0.0.1:40000 -> 10.0.0.2:80, 6/4 packets, 258/659
// bytes, 7 ms, SYN/FIN both ways) and argus's own state for the traffic;
// the monitor id (srcid) is the exporter, 127.0.0.1. The record type is flow.TypeFlow:
// with TypeNetFlow (0x30, what argus's own NetFlow import writes) ra
// 3.0.8.2 prints the same fields, and TypeFlow is what every other reader
// expects of a flow.
func TestRaPrints(t *testing.T) {
	if _, err := exec.LookPath("ra"); err != nil {
		t.Skip("ra not installed")
	}
	dir := filepath.Join(nftest.Corpus(t), "generated/exports/ipfix_bi/pcap/tcp_handshake.pcap")
	recs := nftest.DecodeCapture(t, NewDecoder(), dir)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	// State FIN: what ra prints for argus 3.0.8.2's own record of the
	// traffic this export was made from (corpus argus/oracle/
	// generated_tcp_handshake/v3.ra3.csv: FIN, 6 and 4 packets).
	want := "1700000000.000000,1700000000.007000,10.0.0.1,40000,10.0.0.2,80,tcp,6,4,258,659,FIN,127.0.0.1"
	got := raLines(t, recs, nfcore.RecordType)
	if len(got) != 1 || got[0] != want {
		t.Errorf("ra printed %q, want %q", got, want)
	}
	if alt := raLines(t, recs, flow.TypeNetFlow); len(alt) != 1 || alt[0] != got[0] {
		t.Logf("with TypeNetFlow ra prints %q", alt)
	}
}
