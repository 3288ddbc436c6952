package conformance

// The ra pipeline (decode an Argus file, print each record) over a file the
// benchmark makes itself: Debian's argus sensor on a capture from
// conformance/tools/genpcap when argus is installed, else records written by our own
// Argus writer. scripts/bench-ra.sh times the same work end to end against
// Debian's ra.

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// benchPackets is the size of the generated capture (about 46k flow records
// from Debian's argus).
const benchPackets = 200_000

var (
	benchOnce sync.Once
	benchData []byte
	benchSrc  string
	benchErr  error
	benchDir  string
)

// benchArgusFile returns the bytes of an Argus file for the pipeline
// benchmarks, made once per process.
func benchArgusFile(tb testing.TB) ([]byte, string) {
	tb.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "flowgate-bench-")
		if benchErr != nil {
			return
		}
		if a := lookTool("argus"); a != "" {
			benchData, benchErr = debianArgusFile(a, benchDir)
			benchSrc = "Debian argus 3.0.8.2 on conformance/tools/genpcap"
			return
		}
		benchData, benchErr = ourArgusFile(benchPackets / 5)
		benchSrc = "flowgate Argus 5 writer"
	})
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchData, benchSrc
}

// debianArgusFile builds conformance/tools/genpcap, generates a capture and runs
// Debian's argus on it.
func debianArgusFile(argusPath, dir string) ([]byte, error) {
	gen := filepath.Join(dir, "genpcap")
	if _, _, err := runCmd(repoRoot(), goTool(), "build", "-o", gen, "./conformance/tools/genpcap"); err != nil {
		return nil, err
	}
	pcap := filepath.Join(dir, "gen.pcap")
	if _, _, err := runCmd(dir, gen, "-n", strconv.Itoa(benchPackets), "-o", pcap); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "gen.argus")
	if _, _, err := runCmd(dir, argusPath, "-X", "-r", pcap, "-w", out); err != nil {
		return nil, err
	}
	os.Remove(pcap)
	return os.ReadFile(out)
}

// decodeAll decodes every record of data, calling fn for each flow record.
func decodeAll(data []byte, rec *flow.Record, fn func(*flow.Record) error) (int, error) {
	rd, err := argus.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		err := rd.Decode(rec)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if rec.Type == flow.TypeMgmt {
			continue
		}
		n++
		if fn != nil {
			if err := fn(rec); err != nil {
				return n, err
			}
		}
	}
}

// csvFields is the field list of the CSV pipeline: the columns most ra
// users print.
var csvFields = []string{"stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state"}

func BenchmarkRaPipeline(b *testing.B) {
	data, src := benchArgusFile(b)
	b.Logf("input: %d bytes from %s", len(data), src)
	cases := []struct {
		name string
		opts *ratext.Options // nil: decode only
	}{
		{"decode", nil},
		{"text", &ratext.Options{NFlag: 1}},
		{"csv", &ratext.Options{NFlag: 1, UnixTime: true, Delim: ",", Fields: csvFields}},
		{"json", &ratext.Options{NFlag: 1, JSON: true}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var rec flow.Record
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			records := 0
			for b.Loop() {
				var p *ratext.Printer
				var print func(*flow.Record) error
				if c.opts != nil {
					var err error
					if p, err = ratext.NewPrinter(io.Discard, *c.opts); err != nil {
						b.Fatal(err)
					}
					print = p.Print
				}
				n, err := decodeAll(data, &rec, print)
				if err != nil {
					b.Fatal(err)
				}
				if p != nil {
					if err := p.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				records += n
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestDecodeAllocsPerRecord: decoding allocates nothing per record (the
// reader's buffers are set up once per stream).
func TestDecodeAllocsPerRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a benchmark input")
	}
	data, src := benchArgusFile(t)
	var rec flow.Record
	n, err := decodeAll(data, &rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("only %d records from %s", n, src)
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := decodeAll(data, &rec, nil); err != nil {
			t.Fatal(err)
		}
	})
	perRecord := allocs / float64(n)
	t.Logf("%d records (%s): %.0f allocations per file, %.5f per record", n, src, allocs, perRecord)
	if allocs > 64 {
		t.Errorf("decoding %d records allocated %.0f times; want a constant per stream (<= 64), not per record", n, allocs)
	}
}

// ourArgusFile writes n varied flow records (TCP, UDP, ICMP; one in five
// over IPv6) with our own Argus 5 writer, for machines without argus.
func ourArgusFile(n int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := argus.NewWriter(&buf, 5)
	if err != nil {
		return nil, err
	}
	t0 := int64(1700000000) * 1e9
	var r flow.Record
	for i := range n {
		r = flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart,
			Has: flow.HasSrcID | flow.HasSeq | flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasEncaps | flow.HasIPAttr}
		r.SrcID.Type = flow.SrcIDIPv4
		r.Seq = uint32(i + 1)
		r.Start = t0 + int64(i)*50_000
		r.Last = r.Start + int64(i%1000)*1_000_000
		r.Pkts = [2]uint64{uint64(1 + i%7), uint64(i % 5)}
		r.Bytes = [2]uint64{r.Pkts[0] * 120, r.Pkts[1] * 900}
		r.Encaps.Mask = [2]uint32{2, 2}
		r.IPAttr.Present = 3
		r.IPAttr.TTL = [2]uint8{64, 57}
		k := &r.Key
		k.Kind, k.AddrType = flow.Kind5Tuple, flow.AddrIPv4
		k.Src = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		k.Dst = netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 200)})
		if i%5 == 0 {
			k.AddrType = flow.AddrIPv6
			k.Src = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
			k.Dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 0, 15: byte(i % 200)})
		}
		switch i % 10 {
		case 0, 1, 2, 3:
			k.Proto, k.SrcPort, k.DstPort = 6, uint16(20000+i%40000), 443
			r.Has |= flow.HasTCP
			r.TCP.Object = flow.TCPPerf
			r.TCP.Status = 0x1f
			r.TCP.Side[0] = flow.TCPSide{SeqBase: uint32(i) * 7919, Win: 502, Flags: 0x1b, WinShift: 7}
			r.TCP.Side[1] = flow.TCPSide{SeqBase: uint32(i) * 104729, Win: 509, Flags: 0x1b, WinShift: 7}
			r.TCP.HasDst = true
		case 4, 5, 6, 7, 8:
			k.Proto, k.SrcPort, k.DstPort = 17, uint16(20000+i%40000), 53
		default:
			k.Proto, k.ICMPType = 1, 8
			if k.AddrType == flow.AddrIPv6 {
				k.Proto, k.ICMPType = 58, 128
			}
			r.Has |= flow.HasICMPKey
			k.ICMPID = uint16(i)
		}
		if err := w.Encode(&r); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
