package netflow5

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

var testFrom = netip.MustParseAddrPort("192.0.2.1:5000")

// TestRecordTypeRa writes decoded v5 records as Argus 3 with codecs/argus
// and reads them with Debian's ra 3.0.8.2: every record prints with our
// addresses, counters and start time; as TypeNetFlow they print the same
// but for an 'N' in flgs, and as TypeAFlow (0x50) ra skips them.
func TestRecordTypeRa(t *testing.T) {
	if _, err := exec.LookPath("ra"); err != nil {
		t.Skip("ra not installed")
	}
	b, err := os.ReadFile(filepath.Join(corpus(t, "netflow-exports/flowbeat/dat"), "netflow5_test_microtik.dat"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := NewDecoder(0).DecodePacket(b, testFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	ra := func(typ flow.RecordType) []string {
		var buf bytes.Buffer
		w, _ := argus.NewWriter(&buf, 3, argus.WithLossy(nil))
		for i := range recs {
			r := recs[i]
			r.Type = typ
			if err := w.Encode(&r); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		path := filepath.Join(t.TempDir(), "v5.argus")
		os.WriteFile(path, buf.Bytes(), 0o644)
		out, err := exec.Command("ra", "-r", path, "-n", "-u", "-c", ",", "-s", "stime", "flgs", "saddr", "daddr", "pkts", "bytes", "proto").Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var got []string
		for _, l := range lines[1:] {
			if !strings.HasSuffix(l, ",man") {
				got = append(got, l)
			}
		}
		return got
	}
	if n := len(ra(flow.TypeAFlow)); n != 0 {
		t.Errorf("ra printed %d TypeAFlow records", n)
	}
	nf := ra(flow.TypeNetFlow)
	got := ra(RecordType)
	if len(got) != len(recs) || len(nf) != len(recs) {
		t.Fatalf("ra printed %d and %d (TypeNetFlow) flows, we wrote %d", len(got), len(nf), len(recs))
	}
	for i := range got {
		a, b := strings.Split(got[i], ","), strings.Split(nf[i], ",")
		if len(a) != len(b) || b[1] != "N"+a[1][1:] || strings.Join(a[2:], ",") != strings.Join(b[2:], ",") || a[0] != b[0] {
			t.Errorf("as TypeNetFlow %q, as TypeFlow %q: want the same but an N in flgs", nf[i], got[i])
		}
	}
	for i, l := range got {
		f := strings.Split(l, ",")
		r := &recs[i]
		// ra may print a TCP record reversed (its direction correction):
		// compare the address pair as a set.
		addrs := f[2] + " " + f[3]
		if f[0] != strconv.FormatInt(r.Start/1e9, 10)+"."+strconv.FormatInt(r.Start%1e9/1e3+1e6, 10)[1:] ||
			addrs != r.Key.Src.String()+" "+r.Key.Dst.String() && addrs != r.Key.Dst.String()+" "+r.Key.Src.String() ||
			f[4] != strconv.FormatUint(r.Pkts[0], 10) || f[5] != strconv.FormatUint(r.Bytes[0], 10) {
			t.Errorf("ra line %d %q; we %v %s %s %d %d", i, l, r.Start, r.Key.Src, r.Key.Dst, r.Pkts[0], r.Bytes[0])
		}
	}
}

// packet builds a v5 datagram of n records with the given header fields.
func packet(n int, uptime, secs, nsecs, seq uint32) []byte {
	b := make([]byte, HeaderLen+n*RecordLen)
	be.PutUint16(b, 5)
	be.PutUint16(b[2:], uint16(n))
	be.PutUint32(b[4:], uptime)
	be.PutUint32(b[8:], secs)
	be.PutUint32(b[12:], nsecs)
	be.PutUint32(b[16:], seq)
	for i := 0; i < n; i++ {
		p := b[HeaderLen+i*RecordLen:]
		copy(p, []byte{10, 0, 0, 1, 10, 0, 0, 2})
		be.PutUint32(p[16:], 1)
		be.PutUint32(p[20:], 40)
		be.PutUint32(p[24:], uptime)
		be.PutUint32(p[28:], uptime)
		p[38] = 17
	}
	return b
}

func TestBadInput(t *testing.T) {
	good := packet(2, 1000, 1700000000, 0, 0)
	short := good[:HeaderLen+RecordLen+7]
	ver := bytes.Clone(good)
	ver[1] = 9
	zero := bytes.Clone(good)
	zero[3] = 0
	long := append(bytes.Clone(good), 0, 0)
	for _, c := range []struct {
		name     string
		b        []byte
		sentinel error
		part     string
		partOff  int64
	}{
		{"empty", nil, codecs.ErrTruncated, "header", 0},
		{"header only", good[:20], codecs.ErrTruncated, "header", 0},
		{"truncated record", short, codecs.ErrTruncated, "record 1", 72},
		{"version", ver, codecs.ErrCorrupt, "version", 0},
		{"count 0", zero, codecs.ErrCorrupt, "count", 2},
		{"trailer", long, codecs.ErrCorrupt, "trailer", 120},
	} {
		d := NewDecoder(0)
		dst := make([]flow.Record, 1, 4)
		out, err := d.DecodePacket(c.b, testFrom, dst)
		var de *codecs.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, c.sentinel) || de.Part != c.part || de.PartOff != c.partOff ||
			de.Exporter != testFrom || de.Format != "netflow5" {
			t.Errorf("%s: got %v", c.name, err)
		}
		if len(out) != 1 {
			t.Errorf("%s: %d records appended", c.name, len(out)-1)
		}
		if s := d.Stats(); s.Errors != 1 || s.Packets != 0 {
			t.Errorf("%s: stats %+v", c.name, s)
		}
	}
}

// TestUptimeWrap: a flow that started 10 s before the exporter's 32-bit
// millisecond uptime wrapped (First near 2^32, sysUptime small) started
// 10 s plus the uptime before the export (pmacct#640 got -4.29e6 s).
func TestUptimeWrap(t *testing.T) {
	b := packet(1, 5000, 1700000000, 500_000_000, 0)
	p := b[HeaderLen:]
	be.PutUint32(p[24:], 1<<32-10_000) // 10 s before the wrap
	be.PutUint32(p[28:], 4000)         // 1 s before the export
	recs, err := NewDecoder(0).DecodePacket(b, testFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	export := int64(1700000000_500_000_000)
	if want := export - 15_000_000_000; recs[0].Start != want {
		t.Errorf("start %d, want %d", recs[0].Start, want)
	}
	if want := export - 1_000_000_000; recs[0].Last != want {
		t.Errorf("last %d, want %d", recs[0].Last, want)
	}
}

func TestSequence(t *testing.T) {
	d := NewDecoder(2)
	dec := func(from netip.AddrPort, n int, seq uint32, engine byte) {
		b := packet(n, 1000, 1700000000, 0, seq)
		b[21] = engine
		if _, err := d.DecodePacket(b, from, nil); err != nil {
			t.Fatal(err)
		}
	}
	a := netip.MustParseAddrPort("192.0.2.1:1")
	dec(a, 5, 100, 0)
	dec(a, 5, 105, 0) // in order
	dec(a, 3, 115, 0) // 5 flows lost (110-114)
	dec(a, 5, 110, 0) // ... which arrive late
	dec(a, 2, 118, 0)
	dec(a, 2, 100, 1)                                    // another engine: its own sequence
	dec(a, 2, 9_000_000, 0)                              // restart far ahead: a quirk, not loss
	dec(a, 2, 9_000_002, 0)                              // in order after it
	dec(netip.MustParseAddrPort("192.0.2.9:1"), 1, 7, 0) // table full (2)
	s := d.Stats()
	if s.Lost != 0 || s.Late != 1 || s.SeqQuirks != 1 || s.Untracked != 1 || s.Packets != 9 {
		t.Errorf("stats %+v", s)
	}
	dec(a, 2, 9_000_010, 0) // 6 lost
	if s := d.Stats(); s.Lost != 6 {
		t.Errorf("lost %d, want 6", s.Lost)
	}
}

func TestSampling(t *testing.T) {
	b := packet(1, 1000, 1700000000, 0, 0)
	be.PutUint16(b[20:], 0x0203)     // engine type 2, id 3
	be.PutUint16(b[22:], 1<<14|1000) // mode 01, 1 in 1000
	recs, err := NewDecoder(0).DecodePacket(b, testFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &recs[0]
	if r.SamplingRate != 1000 || r.Has&flow.HasSampling == 0 || r.ObsDomain != 0x0203 {
		t.Errorf("sampling %d domain %#x has %#x", r.SamplingRate, r.ObsDomain, r.Has)
	}
}

// TestDecodeAllocs: decoding into a reused slice allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	b := packet(30, 1000, 1700000000, 0, 0)
	d := NewDecoder(0)
	dst := make([]flow.Record, 0, 30)
	n := testing.AllocsPerRun(100, func() {
		var err error
		dst, err = d.DecodePacket(b, testFrom, dst[:0])
		if err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per datagram", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	p := packet(30, 1000, 1700000000, 0, 0)
	d := NewDecoder(0)
	dst := make([]flow.Record, 0, 30)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		dst, _ = d.DecodePacket(p, testFrom, dst[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*30), "ns/record")
}

// FuzzDecode: any input decodes or is refused with a DecodeError; never a
// panic. A decoded datagram re-encodes to the same bytes but for the
// fields the model does not keep (pads, sampling mode, header times).
func FuzzDecode(f *testing.F) {
	f.Add(packet(1, 1000, 1700000000, 0, 0))
	f.Add(packet(30, 1000, 1700000000, 0, 0))
	if dir := os.Getenv("FLOWGATE_CORPUS"); dir != "" {
		names, _ := filepath.Glob(filepath.Join(dir, "netflow-exports/flowbeat/dat/netflow5*.dat"))
		for _, n := range names {
			b, _ := os.ReadFile(n)
			for _, p := range splitDatagrams(b) {
				f.Add(p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(0)
		recs, err := d.DecodePacket(b, testFrom, nil)
		if err != nil {
			var de *codecs.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a DecodeError", err)
			}
			return
		}
		if len(recs) != int(be.Uint16(b[2:])) {
			t.Fatalf("%d records for count %d", len(recs), be.Uint16(b[2:]))
		}
		checkRoundTrip(t, b, recs)
	})
}

// TestConcurrent: one Decoder shared by goroutines (go test -race).
func TestConcurrent(t *testing.T) {
	d := NewDecoder(0)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			dst := make([]flow.Record, 0, 30)
			for i := 0; i < 200; i++ {
				dst, _ = d.DecodePacket(packet(30, 1000, 1700000000, 0, uint32(i*30)), testFrom, dst[:0])
				d.DecodePacket(nil, testFrom, nil)
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if s := d.Stats(); s.Packets != 800 || s.Records != 24000 || s.Errors != 800 {
		t.Errorf("stats %+v", s)
	}
}
