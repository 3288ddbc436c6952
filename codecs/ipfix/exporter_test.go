package ipfix

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestEncodeExporterReverseTTL: a record's Exporter goes out as
// exporterIPv4Address/exporterIPv6Address (130/131: RFC 7011 §2, the
// Exporter a collector learns from the transport, which a re-export
// hides), and a biflow's reverse TTL as reverseIpTTL (29305/192) next to
// reverseIpClassOfService; tshark 4.0 decodes them to the values sent,
// and our decoder takes the element's exporter over the transport's.
func TestEncodeExporterReverseTTL(t *testing.T) {
	recs := encSample()[:2] // an IPv4 TCP flow, an IPv6 UDP biflow
	recs[0].Has |= flow.HasExporter
	recs[0].Exporter = netip.MustParseAddrPort("192.0.2.7:2055")
	recs[1].Has |= flow.HasExporter
	recs[1].Exporter = netip.MustParseAddrPort("[2001:db8::7]:4739")
	recs[1].IPAttr.TTL = [2]uint8{64, 57}
	var out encDatagrams
	e := NewEncoder(&out, WithEncoderClock(encClock))
	for i := range recs {
		if err := e.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ms := encTshark(t, out)
	if len(ms) != 1 || len(ms[0].Flows) != 2 {
		t.Fatalf("tshark: %d messages", len(ms))
	}
	if len(ms[0].Expert) != 0 {
		t.Errorf("tshark expert info: %v", ms[0].Expert)
	}
	want := []map[string]string{
		{"cflow.exporter_addr": "192.0.2.7"},
		{"cflow.exporter_addr_v6": "2001:db8::7", "cflow.ip_ttl": "64 57", "cflow.tos": "0x10 0xb8"},
	}
	for i, w := range want {
		for k, v := range w {
			if got := strings.Join(ms[0].Flows[i][k], " "); got != v {
				t.Errorf("flow %d %s: tshark %q, want %q", i, k, got, v)
			}
		}
	}
	var back []flow.Record
	for _, b := range out {
		var err error
		if back, err = NewDecoder().DecodePacket(b, netip.MustParseAddrPort("198.51.100.1:5000"), back); err != nil {
			t.Fatal(err)
		}
	}
	if len(back) != 2 {
		t.Fatalf("%d records back", len(back))
	}
	if a := back[0].Exporter.Addr(); a != netip.MustParseAddr("192.0.2.7") || back[0].SrcID.ID[0] != 192 {
		t.Errorf("exporter %v srcid %v, want 192.0.2.7 (the element, not the transport's 198.51.100.1)", back[0].Exporter, back[0].SrcID)
	}
	if a := back[1].Exporter.Addr(); a != netip.MustParseAddr("2001:db8::7") {
		t.Errorf("exporter %v, want 2001:db8::7", back[1].Exporter)
	}
	if back[1].IPAttr.TTL != [2]uint8{64, 57} || back[1].IPAttr.Present != 3 {
		t.Errorf("TTL %v present %d, want [64 57] 3", back[1].IPAttr.TTL, back[1].IPAttr.Present)
	}
}
