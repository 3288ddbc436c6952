package ratext_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// tcpRecord is the FIN-closed session of argus-clients.md §1.2 / §1.9:
// 10.0.0.1:40000 -> 10.0.0.2:80 at 1700000000 (22:13:20 UTC), 9 packets,
// 576 bytes, a dst retransmission.
func tcpRecord() *flow.Record {
	r := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasTCP | flow.HasEncaps}
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 40000, DstPort: 80, Proto: 6}
	r.Start = 1700000000e9
	r.Last = r.Start + 7170e3
	r.Pkts = [2]uint64{5, 4}
	r.Bytes = [2]uint64{300, 276}
	r.TCP = flow.TCP{Object: flow.TCPPerf, Status: 0x1f | 0x200, State: 9}
	r.Encaps.Mask = [2]uint32{2, 2}
	return r
}

// fullRecord is the 5.x record of argus-format.md §12.4 (UUID source id
// with interface, IP ids, MACs, MSS, user data).
func fullRecord() *flow.Record {
	r := tcpRecord()
	r.Has |= flow.HasSrcID | flow.HasSeq | flow.HasIPAttr | flow.HasMAC | flow.HasSrcUser | flow.HasAppBytes | flow.HasPktSize
	r.SrcID = flow.SrcID{Type: flow.SrcIDUUID, HasInf: true,
		ID:  [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
		Inf: [4]byte{'e', 't', 'h', '0'}}
	r.Seq = 1
	r.Pkts = [2]uint64{5, 3}
	r.Bytes = [2]uint64{308, 301}
	r.AppBytes = [2]uint64{18, 119}
	r.TCP = flow.TCP{Object: flow.TCPPerf, Status: 0x1f, State: 9, Options: 0x04700000, SynAck: 1234, AckDat: 100}
	r.TCP.Side[0] = flow.TCPSide{SeqBase: 1000, Win: 29200, WinShift: 7, MSS: 1460}
	r.TCP.Side[1] = flow.TCPSide{SeqBase: 5000, Win: 28960, WinShift: 8, MSS: 1400}
	r.IPAttr = flow.IPAttr{Present: 3, TTL: [2]uint8{64, 63}, TOS: [2]uint8{0x10, 0x08}, IPID: [2]uint16{0x3812, 0x7a56}}
	r.MAC = flow.MAC{Src: [6]byte{2, 0, 0, 0, 0, 1}, Dst: [6]byte{2, 0, 0, 0, 0, 2}, EtherType: 0x0800}
	r.SrcUser = flow.UserData{Limit: 32, Data: []byte("GET / HTTP/1.0\r\n\r\n")}
	r.PktSize = flow.PktSize{Min: [2]uint16{54, 54}, Max: [2]uint16{74, 173}, Dirs: 3}
	return r
}

func printOne(t *testing.T, o ratext.Options, r *flow.Record) string {
	t.Helper()
	if o.Location == nil {
		o.Location = time.UTC
	}
	var buf bytes.Buffer
	p, err := ratext.NewPrinter(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(r); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestDefaultFixedWidth checks the §1.2 sample line and header (ra 5.0.3
// with -n; the header is the one ra 3.0.8.2 prints for the default list).
func TestDefaultFixedWidth(t *testing.T) {
	got := printOne(t, ratext.Options{NFlag: 1}, tcpRecord())
	want := "         StartTime      Flgs  Proto            SrcAddr  Sport   Dir            DstAddr  Dport  TotPkts   TotBytes State \n" +
		"   22:13:20.000000  e d         tcp           10.0.0.1.40000     ->           10.0.0.2.80            9        576   FIN\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	// Without -n the port is named from the services table.
	got = printOne(t, ratext.Options{Labels: -1}, tcpRecord())
	if !strings.Contains(got, "10.0.0.2.http ") {
		t.Errorf("port not named: %q", got)
	}
}

// TestJSON checks the §1.9 line of ra 5.0.3 -M json.
func TestJSON(t *testing.T) {
	got := printOne(t, ratext.Options{NFlag: 1, JSON: true}, tcpRecord())
	want := `{ "type":"flow","stime":"22:13:20.000000","flgs":" e d      ","proto":"tcp","saddr":"10.0.0.1","sport":40000,"dir":" ->","daddr":"10.0.0.2","dport":80,"pkts":9,"bytes":576,"state":"FIN" }` + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestJSONValid checks that hex fields, which ra 5 prints unquoted, are
// quoted, and that control characters are escaped.
func TestJSONValid(t *testing.T) {
	r := fullRecord()
	r.Label = []byte("a\"b\\c\x01")
	r.Has |= flow.HasLabel
	got := printOne(t, ratext.Options{NFlag: 1, UnixTime: true, JSON: true,
		Fields: []string{"stime", "sipid", "dipid", "label", "suser", "srcid", "dur"}}, r)
	if !json.Valid([]byte(got)) {
		t.Fatalf("invalid JSON: %s", got)
	}
	for _, s := range []string{`"stime":1700000000.000000`, `"sipid":"0x3812"`, `"dipid":"0x7a56"`, `"dur":0.007170`, `"srcid":"00112233-4455-6677-8899-aabbccddeeff/eth0"`} {
		if !strings.Contains(got, s) {
			t.Errorf("missing %s in %s", s, got)
		}
	}
}

// TestFields checks field values against the documented ra output of
// argus-format.md §12.4 and the tcp_handshake goldens.
func TestFields(t *testing.T) {
	fields := []string{"srcid", "sid", "inf", "spkts", "dpkts", "sbytes", "dbytes", "state", "smss", "dmss",
		"sipid", "dipid", "smac", "dmac", "sttl", "dttl", "stos", "sdsb", "ddsb", "dir", "flgs",
		"tcprtt", "synack", "ackdat", "stcpb", "dtcpb", "suser", "sappbytes", "smaxsz", "dminsz",
		"sload", "srate", "dur", "ltime", "seq", "cause", "type", "tcpopt", "swin", "sdur"}
	got := printOne(t, ratext.Options{NFlag: 1, UnixTime: true, Delim: ",", Fields: fields, Labels: -1}, fullRecord())
	want := []string{"00112233-4455-6677-8899-aabbccddeeff/eth0", "00112233-4455-6677-8899-aabbccddeeff", "eth0",
		"5", "3", "308", "301", "FIN", "1460", "1400",
		"0x3812", "0x7a56", "02:00:00:00:00:01", "02:00:00:00:00:02", "64", "63", "16", " 4", " 2", " ->", " e        ",
		"0.001334", "0.001234", "0.000100", "1000", "5000", "s[16]=GET / HTTP/1.0..", "18", "74", "54",
		"275592.750000", "557.880066", "0.007170", "1700000000.007170", "1", "Start", "flo", "Mws   T", "3737600", "0.007170"}
	vals := strings.Split(strings.TrimSuffix(got, "\n"), ",")
	if len(vals) != len(want) {
		t.Fatalf("%d values, want %d: %q", len(vals), len(want), got)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("%s = %q, want %q", fields[i], vals[i], want[i])
		}
	}
}

func TestICMPAndMgmt(t *testing.T) {
	r := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
		Has: flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasICMPKey}
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 1,
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"),
		ICMPType: 3, ICMPCode: 3, ICMPID: 0x270f}
	r.Start, r.Last = 1700000000e9, 1700000000e9
	r.Pkts = [2]uint64{1, 0}
	r.Bytes = [2]uint64{70, 0}
	o := ratext.Options{NFlag: 1, Delim: ",", Labels: -1, Fields: []string{"sport", "dport", "dir", "state", "icmpid"}}
	if got, want := printOne(t, o, r), "0x0003,0x0003, ->,URP,3879\n"; got != want {
		t.Errorf("ra5: got %q want %q", got, want)
	}
	o.Compat3 = true
	if got, want := printOne(t, o, r), "0x0303,0x0f27,   ->,URP,3879\n"; got != want {
		t.Errorf("ra3: got %q want %q", got, want)
	}
	m := &flow.Record{Type: flow.TypeMgmt, Cause: flow.CauseStart}
	m.Mgmt.StartTime, m.Mgmt.Now = 1700000000e9, 1700000001e9
	m.Mgmt.Major, m.Mgmt.Minor = 5, 0
	got := printOne(t, ratext.Options{NFlag: 1, UnixTime: true, Delim: ",", Labels: -1}, m)
	if !strings.HasSuffix(got, ",STA\n") || !strings.Contains(got, ",man,") {
		t.Errorf("MAR: %q", got)
	}
	got = printOne(t, ratext.Options{NFlag: 1, UnixTime: true, JSON: true}, m)
	if !json.Valid([]byte(got)) || !strings.HasPrefix(got, `{ "type":"man", "srcid":"0.0.0.0", "cause":"Start", "starttime":1700000000.000000,`) {
		t.Errorf("MAR JSON: %s", got)
	}
}

func TestEditFields(t *testing.T) {
	cases := []struct {
		spec string
		want string
	}{
		{"srcid", "srcid"},
		{"+srcid", "stime flgs proto saddr sport dir daddr dport pkts bytes state srcid"},
		{"-flgs -state", "stime proto saddr sport dir daddr dport pkts bytes"},
		{"+2srcid", "stime flgs srcid proto saddr sport dir daddr dport pkts bytes state"},
		{"+2 srcid", "stime flgs srcid proto saddr sport dir daddr dport pkts bytes state"},
		{"stime,dur saddr:20", "stime dur saddr:20"},
	}
	for _, c := range cases {
		got, err := ratext.EditFields(ratext.DefaultFields, c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q: got %q want %q", c.spec, strings.Join(got, " "), c.want)
		}
	}
	if _, err := ratext.EditFields(nil, "stime bogus +nope"); err == nil || !strings.Contains(err.Error(), "bogus, nope") {
		t.Errorf("unknown names: %v", err)
	}
	if _, err := ratext.NewPrinter(&bytes.Buffer{}, ratext.Options{Fields: []string{"stime", "zzz"}}); err == nil || !strings.Contains(err.Error(), "zzz") {
		t.Errorf("NewPrinter unknown name: %v", err)
	}
}

// TestRegistry checks that every ra name of argus-clients.md §1.4 has a
// printer or is one of the fields ra has no printer for.
func TestRegistry(t *testing.T) {
	if n := len(flow.Fields); n != 256 {
		t.Fatalf("%d registry rows, want 255 ra names + the xxx placeholder", n)
	}
	names := make([]string, 0, len(flow.Fields))
	for _, f := range flow.Fields {
		names = append(names, f.Ra)
	}
	if _, err := ratext.NewPrinter(&bytes.Buffer{}, ratext.Options{Fields: names}); err != nil {
		t.Fatal(err)
	}
}

func TestPrintAllocs(t *testing.T) {
	for _, o := range []ratext.Options{
		{NFlag: 1, UnixTime: true, Delim: ","},
		{},
		{JSON: true},
	} {
		names := make([]string, 0, len(flow.Fields))
		for _, f := range flow.Fields {
			names = append(names, f.Ra)
		}
		o.Fields = names
		o.Location = time.UTC
		var buf bytes.Buffer
		p, err := ratext.NewPrinter(&buf, o)
		if err != nil {
			t.Fatal(err)
		}
		r := fullRecord()
		p.Print(r)
		n := testing.AllocsPerRun(100, func() {
			buf.Reset()
			if err := p.Print(r); err != nil {
				t.Fatal(err)
			}
			p.Flush()
		})
		if n != 0 {
			t.Errorf("%+v: %v allocations per record", o, n)
		}
	}
}

func BenchmarkPrint(b *testing.B) {
	for _, c := range []struct {
		name string
		o    ratext.Options
	}{
		{"default", ratext.Options{}},
		{"csv-binetflow", ratext.Options{Delim: ",", NFlag: 1, UnixTime: true, Fields: []string{"stime", "ltime", "dur", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "pkts", "bytes", "state", "stos", "dtos", "sttl", "dttl", "srcid", "smac", "dmac"}}},
		{"json", ratext.Options{JSON: true, NFlag: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.o.Location = time.UTC
			var buf bytes.Buffer
			p, err := ratext.NewPrinter(&buf, c.o)
			if err != nil {
				b.Fatal(err)
			}
			r := fullRecord()
			b.ReportAllocs()
			p.Print(r)
			p.Flush()
			b.SetBytes(int64(buf.Len()))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf.Reset()
				p.Print(r)
				p.Flush()
			}
		})
	}
}
