package netflow9

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// edgeRouter: a Ubiquiti EdgeRouter sends its MACs only as the post
// (egress) MAC types 81 and 57, which the codec keeps in Extra; this
// user file reads them as the flow's MACs, says the router's interface
// indexes are the other way round, and that it counts kilobytes.
const edgeRouter = `version: 1
schema: netflow9
fields:
  - {external: "81", canonical: src_mac, note: OUT_SRC_MAC}
  - {external: "57", canonical: dst_mac, note: OUT_DST_MAC}
  - {external: INPUT_SNMP, canonical: out_if}
  - {external: OUTPUT_SNMP, canonical: in_if}
  - {external: IN_BYTES, canonical: src_bytes, convert: {scale: {multiply: 1024}}}
`

func mac(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// TestMappingEdgeRouter: the corpus EdgeRouter export (flowbeat's
// netflow9_ubiquiti_edgerouter.pcap) decoded with the user file has the
// MACs, interfaces and kilobytes tshark 4.0.17 decodes from the same
// packets (cflow.post_srcmac, post_dstmac, inputint, outputint, octets),
// mapped as the file says; the plain decode keeps the post MACs in Extra.
// Encoded with the file and decoded by tshark, the export carries the
// same values in the same fields.
func TestMappingEdgeRouter(t *testing.T) {
	pcap := filepath.Join(nftest.Corpus(t), "netflow-exports/flowbeat/pcap/netflow9_ubiquiti_edgerouter.pcap")
	f, err := mappings.Load("edgerouter.yaml", []byte(edgeRouter))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapping(f)
	if err != nil {
		t.Fatal(err)
	}
	dgs, err := nftest.ReadPcapUDP(pcap)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for _, d := range dgs {
		msgs = append(msgs, d.Payload)
	}
	flows := func(msgs [][]byte) []map[string][]string {
		var out []map[string][]string
		for _, x := range nftest.Tshark(t, msgs, 2055, "0") {
			out = append(out, x.Flows...)
		}
		return out
	}
	want := flows(msgs)
	plain := nftest.DecodeCapture(t, NewDecoder(), pcap)
	recs := nftest.DecodeCapture(t, NewDecoder(WithMapping(m)), pcap)
	if len(recs) != len(want) || len(plain) != len(recs) || len(recs) < 10 {
		t.Fatalf("%d records, %d plain, tshark %d", len(recs), len(plain), len(want))
	}
	check := func(what string, recs []flow.Record, want []map[string][]string) {
		t.Helper()
		for i := range recs {
			r, w := &recs[i], want[i]
			one := func(k string) string {
				if len(w[k]) != 1 {
					t.Fatalf("%s flow %d: tshark %s %v", what, i, k, w[k])
				}
				return w[k][0]
			}
			oct, _ := strconv.ParseUint(one("cflow.octets"), 10, 64)
			if mac(r.MAC.Src) != one("cflow.post_srcmac") || mac(r.MAC.Dst) != one("cflow.post_dstmac") ||
				strconv.Itoa(int(r.OutIf)) != one("cflow.inputint") || strconv.Itoa(int(r.InIf)) != one("cflow.outputint") ||
				r.Bytes[0] != oct*1024 {
				t.Errorf("%s flow %d: mac %s > %s, in %d out %d, bytes %d; tshark %s > %s, input %s output %s, octets %d",
					what, i, mac(r.MAC.Src), mac(r.MAC.Dst), r.InIf, r.OutIf, r.Bytes[0],
					one("cflow.post_srcmac"), one("cflow.post_dstmac"), one("cflow.inputint"), one("cflow.outputint"), oct)
			}
		}
	}
	check("decode", recs, want)
	for i := range plain {
		p := &plain[i]
		var x []byte
		for _, e := range p.Extra {
			if e.ID == 81 {
				x = e.Value
			}
		}
		if p.Has&flow.HasMAC != 0 || len(x) != 6 || [6]byte(x) != recs[i].MAC.Src {
			t.Fatalf("plain flow %d: MAC %v, Extra 81 %x", i, p.MAC, x)
		}
	}

	enc := NewEncoder(nil, WithEncoderMapping(m))
	var out [][]byte
	rs := recs
	for len(rs) > 0 {
		b, n, err := enc.AppendPacket(nil, rs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(b))
		rs = rs[n:]
	}
	back := flows(out)
	if len(back) != len(recs) {
		t.Fatalf("our export: tshark %d flows, want %d", len(back), len(recs))
	}
	check("our export, tshark", recs, back)
	if st := enc.Stats(); st.Unmapped != 0 {
		t.Errorf("encoder: %+v", st)
	}
	t.Logf("%d flows: MACs, interfaces and kilobytes as tshark decodes them, both ways", len(recs))
}
