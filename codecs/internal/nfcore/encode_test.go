package nfcore

import (
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// sampleRecord is a biflow with most fields set.
func sampleRecord() flow.Record {
	r := flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStatus}
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Src: netip.MustParseAddr("10.1.2.3"),
		Dst: netip.MustParseAddr("10.4.5.6"), SrcPort: 40000, DstPort: 443, Proto: 6, SrcMask: 24, DstMask: 16, MaskLen: true}
	r.Start, r.Last = 1700000000_123_456_789, 1700000009_987_654_321
	r.Pkts, r.Bytes = [2]uint64{10, 8}, [2]uint64{1500, 9000}
	r.TCP.Side[0].Flags, r.TCP.Side[1].Flags = 0x1b, 0x12
	r.IPAttr = flow.IPAttr{Present: 3, TOS: [2]uint8{8, 16}, TTL: [2]uint8{64, 0}}
	r.InIf, r.OutIf = 3, 4
	r.NextHop = netip.MustParseAddr("10.0.0.254")
	r.ASN = flow.ASN{Src: 64512, Dst: 15169, Present: 3}
	r.VLAN = flow.VLAN{TCI: [2]uint16{100, 200}, Present: 3}
	r.MAC = flow.MAC{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}}
	r.MPLS = flow.MPLS{Label: [2]uint32{0x01234100, 0}, Count: [2]uint8{1, 0}}
	r.SamplingRate = 100
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP | flow.HasIPAttr | flow.HasIfaces |
		flow.HasNextHop | flow.HasASN | flow.HasVLAN | flow.HasMAC | flow.HasMPLS | flow.HasSampling
	r.Extra = []flow.Field{
		{Source: flow.SourceIPFIX, Enterprise: 9, ID: 12235, Offset: VarLen, Value: []byte("a string")},
		{Source: flow.SourceIPFIX, ID: 225, Offset: 4, Value: []byte{192, 0, 2, 9}},
		{Source: flow.SourceArgusDSR, ID: 1, Value: []byte{1}}, // not ours: left out
	}
	return r
}

// roundTrip encodes r with the encode side and decodes it back.
func roundTrip(t *testing.T, r *flow.Record, o *EncOptions) flow.Record {
	t.Helper()
	f := RecordFields(nil, r, o)
	if !SameFields(f, RecordFields(nil, r, o)) {
		t.Fatal("field lists differ for the same record")
	}
	tplRec := AppendTemplate(nil, o.Version, 256, f)
	if len(tplRec) != TemplateLen(o.Version, f) {
		t.Fatalf("TemplateLen %d, appended %d", TemplateLen(o.Version, f), len(tplRec))
	}
	data := AppendRecord(nil, f, r, o)
	if len(data) != DataLen(f, r, o) {
		t.Fatalf("DataLen %d, appended %d", DataLen(f, r, o), len(data))
	}
	export := uint32(r.Last/1e9 + 1)
	var msg []byte
	if o.Version == IPFIX {
		msg = ipfixMsg(export, 0, 1, set(2, tplRec), set(256, data))
	} else {
		sysUp := uint32((int64(export)*1e9 - o.BootNs) / 1e6)
		msg = v9Msg(sysUp, export, 0, 1, set(0, tplRec), set(256, data))
	}
	recs, err := NewDecoder(o.Version, Config{}).DecodePacket(msg, exporterA, nil)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	return recs[0]
}

func TestEncodeRoundTrip(t *testing.T) {
	r := sampleRecord()
	for _, o := range []EncOptions{{Version: IPFIX}, {Version: IPFIX, Nanoseconds: true}, {Version: V9, BootNs: 1699990000_000_000_000}, {Version: V9}} {
		g := roundTrip(t, &r, &o)
		k := g.Key
		if k != r.Key {
			t.Errorf("%+v: key %+v, want %+v", o, k, r.Key)
		}
		bi := o.Version == IPFIX
		wantPkts, wantBytes := r.Pkts, r.Bytes
		if !bi {
			wantPkts[1], wantBytes[1] = 0, 0
		}
		if g.Pkts != wantPkts || g.Bytes != wantBytes {
			t.Errorf("%+v: counters %v %v", o, g.Pkts, g.Bytes)
		}
		start, last := r.Start/1e6*1e6, r.Last/1e6*1e6
		if o.Nanoseconds {
			start, last = r.Start, r.Last
		}
		if g.Start != start || g.Last != last {
			t.Errorf("%+v: times %d %d, want %d %d", o, g.Start, g.Last, start, last)
		}
		if g.TCP.Side[0].Flags != 0x1b || bi && g.TCP.Side[1].Flags != 0x12 || g.IPAttr.TOS[0] != 8 || g.IPAttr.TTL[0] != 64 ||
			g.InIf != 3 || g.OutIf != 4 || g.NextHop != r.NextHop || g.ASN.Src != 64512 || g.ASN.Dst != 15169 ||
			g.VLAN.TCI[0] != 100 || bi && g.VLAN.TCI[1] != 200 || g.MAC != r.MAC || g.MPLS.Label[0] != 0x01234100 || g.SamplingRate != 100 {
			t.Errorf("%+v: decoded %+v", o, g)
		}
		var extra []flow.Field
		for _, x := range g.Extra {
			x.Source = flow.SourceIPFIX
			extra = append(extra, x)
		}
		if bi {
			if len(extra) != 2 || string(extra[0].Value) != "a string" || extra[0].Enterprise != 9 || extra[0].Offset != VarLen ||
				extra[1].ID != 225 || string(extra[1].Value) != string([]byte{192, 0, 2, 9}) {
				t.Errorf("%+v: extra %+v", o, g.Extra)
			}
		} else if len(extra) != 1 || extra[0].ID != 225 {
			t.Errorf("%+v: extra %+v (v9 keeps only PEN 0)", o, g.Extra)
		}
	}
}

func TestSplitBiflow(t *testing.T) {
	r := sampleRecord()
	var rev flow.Record
	if !SplitBiflow(&r, &rev) {
		t.Fatal("no reverse")
	}
	if r.Pkts != [2]uint64{10, 0} || rev.Pkts != [2]uint64{8, 0} || rev.Bytes[0] != 9000 || rev.Key.Src != r.Key.Dst ||
		rev.Key.SrcPort != 443 || rev.TCP.Side[0].Flags != 0x12 || rev.IPAttr.TOS[0] != 16 || rev.VLAN.TCI[0] != 200 ||
		rev.InIf != 4 || rev.ASN.Src != 15169 || rev.MAC.Src != r.MAC.Dst {
		t.Errorf("split: %+v / %+v", r, rev)
	}
	if SplitBiflow(&r, &rev) {
		t.Error("split a unidirectional record")
	}
}

func TestNTPRoundTrip(t *testing.T) {
	for _, ns := range []int64{0, 1, 999_999_999, 1700000000_000_000_001, 1700000000_999_999_999, -1} {
		if got := ntpToUnixNs(UnixNsToNTP(ns)); got != ns {
			t.Errorf("%d -> %d", ns, got)
		}
	}
}

// TestEncodeAllocs: building the field list into a reused slice and
// appending a record allocate nothing.
func TestEncodeAllocs(t *testing.T) {
	r := sampleRecord()
	o := &EncOptions{Version: IPFIX}
	f := RecordFields(nil, &r, o)
	buf := make([]byte, 0, 1024)
	a := testing.AllocsPerRun(100, func() {
		f = RecordFields(f[:0], &r, o)
		buf = AppendRecord(buf[:0], f, &r, o)
	})
	if a != 0 {
		t.Errorf("%v allocations", a)
	}
}

// TestEncodeMissingAddresses: a key with one address, or none (Cisco AVC:
// protocol only), encodes with zero addresses instead of panicking.
func TestEncodeMissingAddresses(t *testing.T) {
	for _, r := range []flow.Record{
		{Has: flow.HasKey, Key: flow.Key{Proto: 6}},
		{Has: flow.HasKey | flow.HasNextHop, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1")}, BGPNextHop: netip.MustParseAddr("2001:db8::1")},
		{Has: flow.HasKey, Key: flow.Key{Src: netip.MustParseAddr("2001:db8::1"), AddrType: flow.AddrIPv6}},
	} {
		for _, o := range []EncOptions{{Version: IPFIX}, {Version: V9}} {
			f := RecordFields(nil, &r, &o)
			if b := AppendRecord(nil, f, &r, &o); len(b) != DataLen(f, &r, &o) {
				t.Errorf("%d bytes, DataLen %d", len(b), DataLen(f, &r, &o))
			}
		}
	}
	// Decoded: the protocol alone makes a key, so it is written back.
	d := NewDecoder(IPFIX, Config{})
	recs, _ := d.DecodePacket(ipfixMsg(1, 0, 0, set(2, tplRec(256, fs(4, 1), FieldSpec{PEN: 9, ID: 12236, Len: 4})), set(256, u8(17), ip4("10.0.0.1"))), exporterA, nil)
	if len(recs) != 1 || recs[0].Has&flow.HasKey == 0 || recs[0].Key.Proto != 17 {
		t.Fatalf("%+v", recs)
	}
	f := RecordFields(nil, &recs[0], &EncOptions{Version: IPFIX})
	found := false
	for _, x := range f {
		found = found || x.ID == 4 && x.PEN == 0
	}
	if !found {
		t.Error("protocolIdentifier not written back")
	}
}
