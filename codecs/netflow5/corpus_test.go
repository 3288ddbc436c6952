package netflow5

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/flow"
)

func corpus(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus: %v", err)
	}
	return p
}

// splitDatagrams cuts a file of back-to-back v5 datagrams (flowbeat's
// netflow5.dat holds several) at the length each header's count gives.
func splitDatagrams(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= HeaderLen {
		n := HeaderLen + int(be.Uint16(b[2:]))*RecordLen
		if n > len(b) || be.Uint16(b[2:]) > MaxRecords {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// ms parses a tshark seconds value ("3076570.327000000") to milliseconds
// without going through a float.
func ms(t testing.TB, s string) int64 {
	t.Helper()
	i, f, _ := strings.Cut(s, ".")
	f = (f + "000")[:3]
	a, err1 := strconv.ParseInt(i, 10, 64)
	b, err2 := strconv.ParseInt(f, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("tshark time %q", s)
	}
	return a*1000 + b
}

func num(t testing.TB, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark number %q: %v", s, err)
	}
	return v
}

// checkTshark asserts that recs (decoded from one datagram) hold the
// values tshark printed for it.
func checkTshark(t *testing.T, name string, tp tsharkPacket, recs []flow.Record) {
	t.Helper()
	if len(tp.Expert) != 0 {
		t.Errorf("%s: tshark expert info: %v", name, tp.Expert)
	}
	if len(tp.PDUs) != len(recs) {
		t.Fatalf("%s: tshark %d records, we %d", name, len(tp.PDUs), len(recs))
	}
	h := tp.Hdr
	up := ms(t, h["cflow.sysuptime"])
	export := int64(num(t, h["cflow.unix_secs"]))*1e9 + int64(num(t, h["cflow.unix_nsecs"]))
	for i, p := range tp.PDUs {
		r := &recs[i]
		k := &r.Key
		errorf := func(f string, want, got any) {
			t.Errorf("%s record %d: %s: tshark %v, we %v", name, i, f, want, got)
		}
		for _, c := range []struct {
			f   string
			got any
		}{
			{"cflow.srcaddr", k.Src}, {"cflow.dstaddr", k.Dst}, {"cflow.nexthop", r.NextHop},
		} {
			if want := netip.MustParseAddr(p[c.f]); want != c.got {
				errorf(c.f, want, c.got)
			}
		}
		dport := uint64(k.DstPort)
		if r.Has&flow.HasICMPKey != 0 {
			dport = uint64(k.ICMPType)<<8 | uint64(k.ICMPCode)
		}
		for _, c := range []struct {
			f   string
			got uint64
		}{
			{"cflow.inputint", uint64(r.InIf)}, {"cflow.outputint", uint64(r.OutIf)},
			{"cflow.packets", r.Pkts[flow.Src]}, {"cflow.octets", r.Bytes[flow.Src]},
			{"cflow.srcport", uint64(k.SrcPort)}, {"cflow.dstport", dport},
			{"cflow.tcpflags", uint64(r.TCP.Side[flow.Src].Flags)}, {"cflow.protocol", uint64(k.Proto)},
			{"cflow.tos", uint64(r.IPAttr.TOS[flow.Src])}, {"cflow.srcas", uint64(r.ASN.Src)},
			{"cflow.dstas", uint64(r.ASN.Dst)}, {"cflow.srcmask", uint64(k.SrcMask)}, {"cflow.dstmask", uint64(k.DstMask)},
		} {
			if want := num(t, p[c.f]); want != c.got {
				errorf(c.f, want, c.got)
			}
		}
		if k.Proto != 6 && r.TCP.Side[flow.Src].Flags != 0 {
			errorf("tcpflags kept", "no TCP group", r.TCP.Side[flow.Src].Flags)
		}
		// Times: tshark prints the uptimes; where there is no wrap the
		// arithmetic is plain, else nfdump's output is the check.
		for _, c := range []struct {
			f   string
			got int64
		}{{"cflow.timestart", r.Start}, {"cflow.timeend", r.Last}} {
			if v := ms(t, p[c.f]); v <= up {
				if want := export - (up-v)*1e6; want != c.got {
					errorf(c.f, time.Unix(0, want).UTC(), time.Unix(0, c.got).UTC())
				}
			}
		}
		if want := num(t, h["cflow.sequence"]); want != uint64(r.ExportSeq) {
			errorf("cflow.sequence", want, r.ExportSeq)
		}
		if want := num(t, h["cflow.engine_type"])<<8 | num(t, h["cflow.engine_id"]); want != uint64(r.ObsDomain) {
			errorf("engine", want, r.ObsDomain)
		}
		if want := num(t, h["cflow.samplerate"]); want != uint64(r.SamplingRate) || (want != 0) != (r.Has&flow.HasSampling != 0) {
			errorf("cflow.samplerate", want, r.SamplingRate)
		}
		if r.Key.Kind != flow.Kind5Tuple || r.Key.AddrType != flow.AddrIPv4 || !r.Key.MaskLen && r.Key.SrcMask <= 32 && r.Key.DstMask <= 32 {
			errorf("key kind", "IPv4 5-tuple with mask lengths", r.Key)
		}
	}
}

// TestFlowbeatDat decodes flowbeat's NetFlow v5 payloads (no v5 test in
// dat_tests.yaml has a golden, so tshark is the reference): every valid
// datagram gives the values tshark prints; the two invalid ones (count
// 0xd91e and 0xa3) are refused with where and why.
func TestFlowbeatDat(t *testing.T) {
	dir := corpus(t, "netflow-exports/flowbeat/dat")
	from := netip.MustParseAddrPort("192.0.2.1:5000")
	names, _ := filepath.Glob(filepath.Join(dir, "netflow5*.dat"))
	if len(names) != 5 {
		t.Fatalf("want 5 netflow5 payloads, found %d", len(names))
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(name)
		d := NewDecoder(0)
		if strings.Contains(base, "invalid") {
			_, err := d.DecodePacket(b, from, nil)
			var de *codecs.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, codecs.ErrCorrupt) || de.Part != "count" || de.PartOff != 2 || de.Exporter != from {
				t.Errorf("%s: want a count DecodeError, got %v", base, err)
			}
			if s := d.Stats(); s.Errors != 1 || s.BadCount != 1 || s.Packets != 0 {
				t.Errorf("%s: stats %+v", base, s)
			}
			continue
		}
		dgrams := splitDatagrams(b)
		tp := runTshark(t, dgrams)
		if len(tp) != len(dgrams) {
			t.Fatalf("%s: tshark %d packets, we %d", base, len(tp), len(dgrams))
		}
		total := 0
		for i, p := range dgrams {
			recs, err := d.DecodePacket(p, from, nil)
			if err != nil {
				t.Fatalf("%s datagram %d: %v", base, i, err)
			}
			checkTshark(t, fmt.Sprintf("%s datagram %d", base, i), tp[i], recs)
			total += len(recs)
		}
		t.Logf("%s: %d datagrams, %d records agree with tshark; stats %+v", base, len(dgrams), total, d.Stats())
	}
}

// readPcapPayloads returns the UDP payloads of a capture and their senders.
func readPcapPayloads(t testing.TB, path string) ([][]byte, []netip.AddrPort) {
	t.Helper()
	dgs, err := nftest.ReadPcapUDP(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var from []netip.AddrPort
	for _, d := range dgs {
		out = append(out, d.Payload)
		from = append(from, d.From)
	}
	return out, from
}

// nfdumpRows reads `nfdump -o csv` output into maps by column name.
func nfdumpRows(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) || !strings.HasPrefix(row[0], "20") {
			continue // summary lines
		}
		m := map[string]string{}
		for i, c := range rows[0] {
			m[c] = strings.TrimSpace(row[i])
		}
		out = append(out, m)
	}
	return out
}

var tcpFlagLetters = "CEUAPRSF" // nfdump's flg column, bit 7 to bit 0

func nfdumpFlags(f uint8) string {
	b := []byte("........")
	for i := 0; i < 8; i++ {
		if f&(0x80>>i) != 0 {
			b[i] = tcpFlagLetters[i]
		}
	}
	return string(b)
}

// TestGeneratedExports decodes the softflowd and pmacct v5 export
// captures and checks every record against tshark's decode and against
// what nfcapd stored and nfdump printed beside them. pmacct 1.7.7 writes
// First/Last on another uptime base than sysUptime (corpus README): its
// records land about 14 days before the export, as in nfdump, which does
// the same arithmetic; they are compared like the others.
func TestGeneratedExports(t *testing.T) {
	for _, variant := range []string{"v5", "pmacct_v5"} {
		dir := corpus(t, "generated/exports/"+variant)
		pcaps, _ := filepath.Glob(filepath.Join(dir, "pcap", "*.pcap"))
		if len(pcaps) == 0 {
			t.Fatalf("%s: no captures", dir)
		}
		nrec := 0
		for _, pc := range pcaps {
			case_ := strings.TrimSuffix(filepath.Base(pc), ".pcap")
			name := variant + "/" + case_
			payloads, from := readPcapPayloads(t, pc)
			js, err := os.ReadFile(filepath.Join(dir, "tshark", case_+".json"))
			if err != nil {
				t.Fatal(err)
			}
			tp := parseTshark(t, js)
			if len(tp) != len(payloads) {
				t.Fatalf("%s: tshark %d packets, capture %d", name, len(tp), len(payloads))
			}
			d := NewDecoder(0)
			var all []flow.Record
			for i, p := range payloads {
				recs, err := d.DecodePacket(p, from[i], nil)
				if err != nil {
					t.Fatalf("%s packet %d: %v", name, i, err)
				}
				checkTshark(t, fmt.Sprintf("%s packet %d", name, i), tp[i], recs)
				for j := range recs {
					if recs[j].Exporter != from[i] {
						t.Errorf("%s: exporter %v, want %v", name, recs[j].Exporter, from[i])
					}
				}
				all = append(all, recs...)
			}
			if s := d.Stats(); s.Lost != 0 || s.SeqQuirks != 0 || s.Errors != 0 {
				t.Errorf("%s: stats %+v", name, s)
			}
			checkRoundTrip(t, nil, all) // and back through our encoder
			rows := nfdumpRows(t, filepath.Join(dir, "nfdump", case_+".csv.txt"))
			if len(rows) != len(all) {
				t.Fatalf("%s: nfdump %d flows, we %d", name, len(rows), len(all))
			}
			for _, row := range rows {
				r := findRec(all, row)
				if r == nil {
					t.Errorf("%s: nfdump flow %v not decoded", name, row)
					continue
				}
				ts := time.Unix(0, r.Start).UTC()
				te := time.Unix(0, r.Last).UTC()
				got := map[string]string{
					"ts": ts.Format(time.DateTime), "te": te.Format(time.DateTime),
					"td":   fmt.Sprintf("%.3f", float64(r.Last-r.Start)/1e9),
					"flg":  nfdumpFlags(r.TCP.Side[flow.Src].Flags),
					"ipkt": strconv.FormatUint(r.Pkts[0], 10), "ibyt": strconv.FormatUint(r.Bytes[0], 10),
					"stos": strconv.Itoa(int(r.IPAttr.TOS[0])), "in": strconv.Itoa(int(r.InIf)), "out": strconv.Itoa(int(r.OutIf)),
					"sas": strconv.Itoa(int(r.ASN.Src)), "das": strconv.Itoa(int(r.ASN.Dst)),
					"smk": strconv.Itoa(int(r.Key.SrcMask)), "dmk": strconv.Itoa(int(r.Key.DstMask)),
					"nh": r.NextHop.String(), "eng": fmt.Sprintf("%d/%d", r.ObsDomain>>8, r.ObsDomain&0xff),
					"ra": r.Exporter.Addr().String(),
				}
				for f, v := range got {
					if row[f] != v {
						t.Errorf("%s %s:%s > %s:%s: nfdump %s %q, we %q", name, row["sa"], row["sp"], row["da"], row["dp"], f, row[f], v)
					}
				}
			}
			nrec += len(all)
		}
		t.Logf("%s: %d captures, %d records agree with tshark and nfdump", variant, len(pcaps), nrec)
	}
}

func findRec(recs []flow.Record, row map[string]string) *flow.Record {
	for i := range recs {
		r := &recs[i]
		k := &r.Key
		if k.Src.String() == row["sa"] && k.Dst.String() == row["da"] && strconv.Itoa(int(k.SrcPort)) == row["sp"] &&
			strconv.Itoa(int(k.DstPort)) == row["dp"] && strconv.FormatUint(r.Pkts[0], 10) == row["ipkt"] &&
			strconv.FormatUint(r.Bytes[0], 10) == row["ibyt"] {
			return r
		}
	}
	return nil
}

// TestFlowbeatPcap: flowbeat's ipt_netflow v5 capture (two exporters
// source ports) agrees with tshark on every record.
func TestFlowbeatPcap(t *testing.T) {
	path := filepath.Join(corpus(t, "netflow-exports/flowbeat/pcap"), "ipt_netflow_v5.pcap")
	payloads, from := readPcapPayloads(t, path)
	tp := tsharkFile(t, path)
	if len(tp) != len(payloads) || len(payloads) == 0 {
		t.Fatalf("tshark %d packets, capture %d", len(tp), len(payloads))
	}
	d := NewDecoder(0)
	n := 0
	for i, p := range payloads {
		recs, err := d.DecodePacket(p, from[i], nil)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		checkTshark(t, fmt.Sprintf("ipt_netflow_v5 packet %d", i), tp[i], recs)
		n += len(recs)
	}
	t.Logf("%d datagrams, %d records agree with tshark; stats %+v", len(payloads), n, d.Stats())
}
