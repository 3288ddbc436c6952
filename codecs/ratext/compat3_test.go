package ratext_test

import (
	"math"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// synAckFirst is a TCP session whose first captured packet was the SYN/ACK:
// the sensor keyed it with the server as source (zeek-traces tcp
// missing-syn in the corpus).
func synAckFirst() *flow.Record {
	r := tcpRecord()
	r.Key.Src, r.Key.Dst = r.Key.Dst, r.Key.Src
	r.Key.SrcPort, r.Key.DstPort = 80, 40000
	r.Pkts = [2]uint64{10, 11}
	r.Bytes = [2]uint64{10085, 824}
	r.TCP = flow.TCP{Object: flow.TCPPerf, Status: 0x1e, State: 9, HasDst: true}
	r.TCP.Side[0] = flow.TCPSide{SeqBase: 2697137987, Flags: 0x1b, Win: 57920}
	r.TCP.Side[1] = flow.TCPSide{SeqBase: 1512382794, Flags: 0x19, Win: 6528}
	return r
}

// TestCompat3Correction: ra 3.0.8.2 reverses such a record when reading it
// (its default direction correction), ra 5.0.3 with -X does not.
func TestCompat3Correction(t *testing.T) {
	o := ratext.Options{NFlag: 1, Delim: ",", Labels: -1,
		Fields: []string{"saddr", "sport", "daddr", "dport", "spkts", "dpkts", "stcpb", "swin", "dir"}}
	if got, want := printOne(t, o, synAckFirst()), "10.0.0.2,80,10.0.0.1,40000,10,11,2697137987,57920, ->\n"; got != want {
		t.Errorf("ra5: got %q want %q", got, want)
	}
	o.Compat3 = true
	if got, want := printOne(t, o, synAckFirst()), "10.0.0.1,40000,10.0.0.2,80,11,10,1512382794,6528,   ->\n"; got != want {
		t.Errorf("ra3: got %q want %q", got, want)
	}
}

// TestCompat3Layer2Reverse: ra 3.0.8.2 does not undo the REVERSE bit of a
// layer-2 key; it prints the stored (responder-first) addresses.
func TestCompat3Layer2Reverse(t *testing.T) {
	r := &flow.Record{Type: flow.TypeFlow, Cause: flow.CauseStart, Has: flow.HasKey | flow.HasMetrics}
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrEther, RevBit: true, EtherType: 35075,
		SrcMAC: [6]byte{0xce, 0xe8, 0xcf, 0xf6, 0xa3, 0x46}, DstMAC: [6]byte{0xb7, 0xf9, 0x98, 0x10, 0xf1, 0x01}}
	r.Pkts = [2]uint64{1, 0}
	o := ratext.Options{NFlag: 1, Delim: ",", Labels: -1, Fields: []string{"proto", "saddr", "sport", "daddr", "dport"}}
	if got, want := printOne(t, o, r), "35075,ce:e8:cf:f6:a3:46,,b7:f9:98:10:f1:01,\n"; got != want {
		t.Errorf("ra5: got %q want %q", got, want)
	}
	o.Compat3 = true
	if got, want := printOne(t, o, r), "35075,b7:f9:98:10:f1:01,0,ce:e8:cf:f6:a3:46,0\n"; got != want {
		t.Errorf("ra3: got %q want %q", got, want)
	}
}

// TestIndicatorsAndNaN: IP option letters use the Argus option bits, and a
// dst jitter that is NaN prints as glibc does ("-nan"), quoted in JSON.
func TestIndicatorsAndNaN(t *testing.T) {
	r := tcpRecord()
	r.Has |= flow.HasIPAttr | flow.HasJitter
	r.IPAttr = flow.IPAttr{Present: 0x05, TTL: [2]uint8{64, 0}, Options: [2]uint32{0x40, 0}}
	// a single-sample stdev as the sensors write it (ffc00000), as the
	// Argus decoder widens it
	nan := math.Float64frombits(0xfff8000000000000)
	r.Jitter.Present = 0x04
	r.Jitter.Act[1] = flow.Stat{N: 1, Min: 1e6, Mean: 1e6, Max: 1e6, StdDev: nan}
	o := ratext.Options{NFlag: 1, Delim: ",", Labels: -1, Fields: []string{"flgs", "djit", "dintpktmax"}}
	if got, want := printOne(t, o, r), " e d   A  ,-nan,1.000000\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	o.JSON = true
	if got := printOne(t, o, r); got != `{ "type":"flow","flgs":" e d   A  ","djit":"-nan","dintpktmax":1.000000 }`+"\n" {
		t.Errorf("JSON: %s", got)
	}
}

func TestCompat3Allocs(t *testing.T) {
	names := make([]string, 0, len(flow.Fields))
	for _, f := range flow.Fields {
		names = append(names, f.Ra)
	}
	p, err := ratext.NewPrinter(discard{}, ratext.Options{Compat3: true, NFlag: 1, Delim: ",", Fields: names})
	if err != nil {
		t.Fatal(err)
	}
	r := synAckFirst()
	r.Key.Src = netip.MustParseAddr("10.0.0.2")
	n := testing.AllocsPerRun(100, func() {
		if err := p.Print(r); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per reversed record", n)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// TestJitterFromValues: the inter-packet fields come from the record's
// values alone (no Argus layout). A 3.x µs float32 times 1000 is exact in
// float64, so the printer computes with the float32 ra holds: 1434.02344
// µs (44b340c0) prints 1.434023 ms, where a float32 ns round trip would
// give 1434.02356 and print 1.434024.
func TestJitterFromValues(t *testing.T) {
	r := tcpRecord()
	r.Has |= flow.HasJitter
	v := float64(math.Float32frombits(0x44b340c0)) * 1000
	r.Jitter.Present = 0x01
	r.Jitter.Act[0] = flow.Stat{N: 2, Min: v, Mean: v, Max: v}
	o := ratext.Options{NFlag: 1, Delim: ",", Labels: -1, Fields: []string{"sintpktact", "sintpktmax", "sintpkt", "sjitact"}}
	if got, want := printOne(t, o, r), "1.434023,1.434023,1.434023,0.000000\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
