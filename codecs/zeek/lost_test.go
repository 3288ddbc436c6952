package zeek

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// A TSV header is written before the records, from the first: a later
// record's VLAN, MACs and countries have no column and are counted per
// canonical field; an ICMP code Zeek does not log is counted too.
func TestWriterLost(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	base := flow.Record{Has: flow.HasKey | flow.HasMetrics, Key: flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 17, SrcPort: 5, DstPort: 53}}
	if err := w.Encode(&base); err != nil {
		t.Fatal(err)
	}
	r := base
	r.Has |= flow.HasVLAN | flow.HasMAC | flow.HasCountry
	r.VLAN.TCI[0] = 10
	r.MAC.Src, r.MAC.Dst = [6]byte{1}, [6]byte{2}
	r.Country = [2][2]byte{{'U', 'S'}, {'D', 'E'}}
	w.Encode(&r)
	w.Encode(&r)
	icmp := base
	icmp.Has |= flow.HasICMPKey
	icmp.Key.Proto, icmp.Key.ICMPType, icmp.Key.ICMPCode = 1, 8, 3 // echo with a code: Zeek logs 8/0
	w.Encode(&icmp)
	arp := flow.Record{Has: flow.HasKey, Key: flow.Key{Kind: flow.KindARP, AddrType: flow.AddrARP,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}}
	w.Encode(&arp)
	w.Close()
	lost := w.Stats().Lost()
	for _, f := range []string{"src_vid", "src_mac", "dst_mac", "src_country", "dst_country"} {
		if lost[f].N != 2 || !strings.Contains(lost[f].Why, "column") {
			t.Errorf("%s: %+v, want 2 with no column", f, lost[f])
		}
	}
	if lost["icmp_code"].N != 1 {
		t.Errorf("icmp_code: %+v", lost["icmp_code"])
	}
	if len(lost) != 6 {
		t.Errorf("lost: %v", lost)
	}
	if st := w.Stats(); st.NotIP != 1 || st.Records != 4 {
		t.Errorf("NotIP %d Records %d, want 1 and 4", st.NotIP, st.Records)
	}
	if !strings.Contains(out.String(), "\t8\t10.0.0.2\t0\ticmp\t") {
		t.Errorf("ICMP line: %s", out.String())
	}
}
