package argus

import (
	"bytes"
	"math/rand"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestCanonFastPaths: the writer's direct encoders of the key, time and
// metric DSRs give the bytes encodeDSR gives for the same headers, over
// random records (widths at each byte boundary, times with and without
// sub-µs parts and before 1970, both versions' time units).
func TestCanonFastPaths(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	vals := []uint64{0, 1, 0xFF, 0x100, 0xFFFF, 0x10000, 0xFFFFFFFF, 1 << 32, 1<<64 - 1}
	for i := 0; i < 20000; i++ {
		var r flow.Record
		r.Type, r.Has = flow.TypeFlow, flow.HasKey|flow.HasTime|flow.HasMetrics
		if rng.Intn(2) == 0 {
			r.Has |= flow.HasAppBytes
		}
		for d := range 2 {
			if rng.Intn(3) > 0 {
				r.Pkts[d], r.Bytes[d], r.AppBytes[d] = vals[rng.Intn(len(vals))], vals[rng.Intn(len(vals))], vals[rng.Intn(len(vals))]
			}
		}
		r.Start = rng.Int63n(4e18) - 1e18
		if rng.Intn(2) == 0 {
			r.Start -= r.Start % 1000
		}
		r.Last = r.Start
		if rng.Intn(3) > 0 {
			r.Last += rng.Int63n(1e12)
		}
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: []uint8{6, 17, 132, 47}[rng.Intn(4)],
			Src: netip.AddrFrom4([4]byte{10, byte(i), 0, 1}), Dst: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
			SrcPort: uint16(rng.Intn(65536)), DstPort: uint16(rng.Intn(65536)), SrcMask: uint8(rng.Intn(33)), TpProto: uint8(rng.Intn(256))}
		var fast, slow enc
		for _, q := range []byte{0x18, 0x19} {
			fast.b, slow.b = fast.b[:0], slow.b[:0]
			fast.canonTimeDSR(&r, q)
			h := [4]byte{dsrTime, 2, q, 5}
			if r.Start == r.Last {
				h = [4]byte{dsrTime, 1, q, 3}
			}
			slow.encodeDSR(&r, h)
			if !bytes.Equal(fast.b, slow.b) {
				t.Fatalf("time %d..%d q %#x: % x, want % x", r.Start, r.Last, q, fast.b, slow.b)
			}
		}
		fast.b, slow.b = fast.b[:0], slow.b[:0]
		fast.canonMetricDSR(&r)
		slow.encodeDSR(&r, canonMetric(&r))
		if !bytes.Equal(fast.b, slow.b) {
			t.Fatalf("metric %v %v %v: % x, want % x", r.Pkts, r.Bytes, r.AppBytes, fast.b, slow.b)
		}
		h, ok := canonKey(&r)
		if !ok {
			t.Fatal("no key header")
		}
		fast.b, slow.b = fast.b[:0], slow.b[:0]
		fast.canonKey4DSR(&r, h)
		slow.encodeDSR(&r, h)
		if !bytes.Equal(fast.b, slow.b) {
			t.Fatalf("key %+v: % x, want % x", r.Key, fast.b, slow.b)
		}
	}
}
