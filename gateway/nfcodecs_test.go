package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// byExporter groups records by exporter, keeping their order.
func byExporter(recs []flow.Record) map[netip.AddrPort][]flow.Record {
	m := map[netip.AddrPort][]flow.Record{}
	for _, r := range recs {
		m[r.Exporter] = append(m[r.Exporter], r)
	}
	return m
}

// TestUDPListenerCodecs: the flowbeat payloads, each exporter sending
// the whole set in order, through a two-socket listener with the real
// decoders give, exporter by exporter, the records that decoding the same
// payloads directly gives.
func TestUDPListenerCodecs(t *testing.T) {
	dats := corpusDat(t)
	cs := NewCodecSet()
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	senders := dialUDP(t, l.Addr().String(), 4)
	direct := NewCodecSet().New()
	var want []flow.Record
	var c collector
	sent := 0
	serveUntil(t, l, c.handle, func() {
		for _, s := range senders {
			from := s.LocalAddr().(*net.UDPAddr).AddrPort()
			for _, b := range dats {
				if _, err := s.Write(b); err != nil {
					t.Fatal(err)
				}
				sent++
				n := len(want)
				want, _ = direct.Decode(b, from, want)
				for i := n; i < len(want); i++ {
					want[i].Detach()
				}
			}
			time.Sleep(time.Millisecond)
		}
	}, func() bool { return l.Stats().Messages == uint64(sent) })
	st := l.Stats()
	if st.Messages != uint64(sent) || st.KernelDrops != 0 {
		t.Fatalf("received %d of %d, drops %d", st.Messages, sent, st.KernelDrops)
	}
	if len(c.recs) != len(want) || len(want) == 0 {
		t.Fatalf("%d records, direct decoding %d", len(c.recs), len(want))
	}
	got, exp := byExporter(c.recs), byExporter(want)
	for e, w := range exp {
		g := got[e]
		if len(g) != len(w) {
			t.Fatalf("exporter %s: %d records, direct decoding %d", e, len(g), len(w))
		}
		for i := range w {
			// cmp.Diff is slow on 1,500 large records: only for a difference.
			if !reflect.DeepEqual(w[i], g[i]) {
				d := cmp.Diff(w[i], g[i], cmpopts.EquateEmpty(), cmpopts.EquateNaNs(), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}))
				t.Fatalf("exporter %s record %d differs (-direct +listener):\n%.3000s", e, i, d)
			}
		}
	}
	cst := cs.Stats()
	t.Logf("%d datagrams, %d records; errors %d; v5 %d v9 %d ipfix %d packets; ipfix templates %d, pending %d/%d",
		st.Messages, st.Records, st.Errors, cst.V5.Packets, cst.V9.Packets, cst.IP.Packets, cst.IP.Templates, cst.IP.PendingSets, cst.IP.PendingDecoded)
}

// ipfixMessage builds an IPFIX message (RFC 7011 §3.1) of the given sets.
func ipfixMessage(seq, domain uint32, sets ...[]byte) []byte {
	m := []byte{0, 10, 0, 0, 0x5f, 0x5e, 0x10, 0x00} // export time 2020-09-13T12:26:40Z
	m = binary.BigEndian.AppendUint32(m, seq)
	m = binary.BigEndian.AppendUint32(m, domain)
	for _, s := range sets {
		m = append(m, s...)
	}
	binary.BigEndian.PutUint16(m[2:], uint16(len(m)))
	return m
}

// ipfixSet builds a set (RFC 7011 §3.3.2) with id and body.
func ipfixSet(id uint16, body ...byte) []byte {
	s := binary.BigEndian.AppendUint16(nil, id)
	s = binary.BigEndian.AppendUint16(s, uint16(4+len(body)))
	return append(s, body...)
}

// TestTCPSessionsSameTemplateID: two sessions define template 256
// differently (RFC 7011 §8: templates are scoped by the session); each
// session's data decodes by its own definition.
func TestTCPSessionsSameTemplateID(t *testing.T) {
	cs := NewCodecSet()
	l, err := ListenTCP("127.0.0.1:0", Options{}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SessionEnd = cs.Release
	// Session A: 256 = sourceIPv4Address(8), destinationIPv4Address(12),
	// packetDeltaCount(2) 8 bytes.
	tmplA := ipfixSet(2, 1, 0, 0, 3, 0, 8, 0, 4, 0, 12, 0, 4, 0, 2, 0, 8)
	dataA := ipfixSet(256, 192, 0, 2, 1, 198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 42)
	// Session B: 256 = destinationIPv4Address(12), sourceIPv4Address(8),
	// octetDeltaCount(1) 4 bytes: the same bytes mean other things.
	tmplB := ipfixSet(2, 1, 0, 0, 3, 0, 12, 0, 4, 0, 8, 0, 4, 0, 1, 0, 4)
	dataB := ipfixSet(256, 192, 0, 2, 1, 198, 51, 100, 7, 0, 0, 5, 220)
	var c collector
	var addrs []netip.AddrPort
	serveTCP(t, l, c.handle, func() {
		var conns []net.Conn
		for _, m := range [][]byte{ipfixMessage(0, 1, tmplA), ipfixMessage(0, 1, tmplB)} {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(m)
			conns = append(conns, conn)
			addrs = append(addrs, conn.LocalAddr().(*net.TCPAddr).AddrPort())
		}
		// Data after both templates are known, each on its own session.
		time.Sleep(20 * time.Millisecond)
		conns[0].Write(ipfixMessage(0, 1, dataA))
		conns[1].Write(ipfixMessage(0, 1, dataB))
	}, func() bool { return c.len() == 2 })
	if c.len() != 2 {
		t.Fatalf("%d records, want 2 (stats %+v)", c.len(), l.Stats())
	}
	got := byExporter(c.recs)
	a, b := got[addrs[0]], got[addrs[1]]
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("records per session: %d, %d", len(a), len(b))
	}
	if a[0].Key.Src != netip.MustParseAddr("192.0.2.1") || a[0].Key.Dst != netip.MustParseAddr("198.51.100.7") || a[0].Pkts[0] != 42 || a[0].Bytes[0] != 0 {
		t.Errorf("session A: %v -> %v pkts %d bytes %d", a[0].Key.Src, a[0].Key.Dst, a[0].Pkts[0], a[0].Bytes[0])
	}
	if b[0].Key.Src != netip.MustParseAddr("198.51.100.7") || b[0].Key.Dst != netip.MustParseAddr("192.0.2.1") || b[0].Bytes[0] != 1500 || b[0].Pkts[0] != 0 {
		t.Errorf("session B: %v -> %v pkts %d bytes %d", b[0].Key.Src, b[0].Key.Dst, b[0].Pkts[0], b[0].Bytes[0])
	}
	if st := cs.Stats(); st.IP.Templates != 2 || st.IP.Packets != 4 {
		t.Errorf("codec stats after the sessions ended: templates %d packets %d", st.IP.Templates, st.IP.Packets)
	}
}

// TestCodecSetTemplates: templates saved by one collector let another
// decode an exporter's data at once; without them the data waits for its
// template.
func TestCodecSetTemplates(t *testing.T) {
	msgs := ipfixDatagrams(t, 28*3)
	from := netip.MustParseAddrPort("192.0.2.9:4739")
	a := NewCodecSet()
	da := a.New()
	if recs, err := da.Decode(msgs[0], from, nil); err != nil || len(recs) == 0 {
		t.Fatalf("template message: %d records, %v", len(recs), err)
	}
	da.Decode(msgs[0], netip.AddrPort{}, nil) // a raw file's: not saved
	var saved bytes.Buffer
	if err := a.SaveTemplates(&saved); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(saved.String(), "template 10 192.0.2.9:4739 ") || strings.Contains(saved.String(), "invalid") {
		t.Fatalf("saved state:\n%s", saved.String())
	}
	cold := NewCodecSet().New()
	if recs, _ := cold.Decode(msgs[1], from, nil); len(recs) != 0 {
		t.Fatalf("data decoded without its template: %d records", len(recs))
	}
	b := NewCodecSet()
	if err := b.LoadTemplates(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a set made after the load, and the same again
		d := b.New()
		recs, err := d.Decode(msgs[1], from, nil)
		if err != nil || len(recs) < 28 || recs[0].Key.Proto != 6 || recs[0].Key.DstPort != 443 {
			t.Fatalf("after loading: %d records, %v", len(recs), err)
		}
	}
	if err := b.LoadTemplates(strings.NewReader("template 10 nonsense\n")); err == nil {
		t.Error("a bad state file loaded")
	}
}

// TestUDPListenerExportPcaps: the UDP payloads of every generated export
// capture (softflowd and pmacct: v5, v9, IPFIX), each capture sent by an
// exporter of its own, through a two-socket listener give the records that
// decoding the same payloads directly gives.
func TestUDPListenerExportPcaps(t *testing.T) {
	pcaps := exportPcaps(t)
	var streams [][][]byte
	for _, p := range pcaps {
		var s [][]byte
		if _, err := ReadMessages(p, FormatNF, func(b []Message) error {
			for _, m := range b {
				s = append(s, append([]byte(nil), m.Data...))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(s) > 0 {
			streams = append(streams, s)
		}
	}
	cs := NewCodecSet()
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	senders := dialUDP(t, l.Addr().String(), len(streams))
	direct := NewCodecSet().New()
	var want []flow.Record
	var c collector
	sent := 0
	serveUntil(t, l, c.handle, func() {
		for i, s := range streams {
			from := senders[i].LocalAddr().(*net.UDPAddr).AddrPort()
			for _, b := range s {
				senders[i].Write(b)
				sent++
				n := len(want)
				want, _ = direct.Decode(b, from, want)
				for k := n; k < len(want); k++ {
					want[k].Detach()
				}
			}
		}
	}, func() bool { return l.Messages() == uint64(sent) })
	st := l.Stats()
	if st.Messages != uint64(sent) || st.Errors != 0 || len(c.recs) != len(want) || len(want) == 0 {
		t.Fatalf("%d of %d datagrams, %d errors (%v), %d records, direct %d", st.Messages, sent, st.Errors, st.Samples, len(c.recs), len(want))
	}
	got, exp := byExporter(c.recs), byExporter(want)
	for e, w := range exp {
		g := got[e]
		if len(g) != len(w) {
			t.Fatalf("exporter %s: %d records, direct decoding %d", e, len(g), len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(w[i], g[i]) {
				t.Fatalf("exporter %s record %d differs:\n%s", e, i, cmp.Diff(w[i], g[i], cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})))
			}
		}
	}
	t.Logf("%d captures, %d datagrams (v5 %d, v9 %d, IPFIX %d), %d records", len(streams), sent, st.V5, st.V9, st.IPFIX, len(want))
}

// TestCodecConfigMapping: a user mapping set on the CodecConfig reaches
// the IPFIX decoders of every set: an enterprise element of a corpus
// export (Citrix NetScaler's; the first 4-byte one the plain decoder keeps in Extra) decodes
// into the canonical field the file names; a file of another schema is
// refused.
func TestCodecConfigMapping(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	var msgs [][]byte
	for _, n := range []string{"ipfix_test_netscaler_tpl.dat", "ipfix_test_netscaler_data.dat"} {
		b, err := os.ReadFile(filepath.Join(dir, "netflow-exports/flowbeat/dat", n))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	from := netip.MustParseAddrPort("192.0.2.9:4739")
	decode := func(cs *CodecSet) []flow.Record {
		d := cs.New()
		var recs []flow.Record
		for _, m := range msgs {
			recs, _ = d.IPFIX.DecodePacket(m, from, recs)
		}
		return recs
	}
	plain := decode(NewCodecSetConfig(CodecConfig{}))
	var pen, id uint32
	for _, e := range plain[0].Extra {
		if e.Enterprise != 0 && e.Enterprise != 29305 && len(e.Value) == 4 {
			pen, id = e.Enterprise, e.ID
			break
		}
	}
	if pen == 0 {
		t.Fatalf("no 4-byte enterprise element in the export (%d records)", len(plain))
	}
	f, err := mappings.Load("user.yaml", []byte(fmt.Sprintf("version: 1\nschema: ipfix\nfields:\n  - {external: %d/%d, canonical: seq}\n", pen, id)))
	if err != nil {
		t.Fatal(err)
	}
	var cfg CodecConfig
	if err := cfg.SetMapping(f); err != nil || cfg.IPFIXMapping == nil {
		t.Fatal(err)
	}
	recs := decode(NewCodecSetConfig(cfg))
	if len(recs) != len(plain) || len(recs) == 0 {
		t.Fatalf("%d records, plain %d", len(recs), len(plain))
	}
	for i := range recs {
		var raw []byte
		for _, e := range plain[i].Extra {
			if e.Enterprise == pen && e.ID == id {
				raw = e.Value
			}
		}
		if recs[i].Has&flow.HasSeq == 0 || recs[i].Seq != binary.BigEndian.Uint32(raw) {
			t.Errorf("record %d: seq %d (has %v), element %d/%d holds %x", i, recs[i].Seq, recs[i].Has&flow.HasSeq != 0, pen, id, raw)
		}
	}
	z, _ := mappings.Load("z.yaml", []byte("version: 1\nschema: zeek\nfields:\n  - {external: x, canonical: label}\n"))
	if err := cfg.SetMapping(z); !errors.Is(err, ErrMappingSchema) {
		t.Errorf("zeek file: %v", err)
	}
}
