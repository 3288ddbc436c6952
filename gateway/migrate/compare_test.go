package migrate

import (
	"fmt"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/flowgate/flowgate/flow"
)

// TestSameValues: records equal but for encoding details compare equal;
// any value apart (a counter, a label byte, an Extra) does not; the
// records come back as they were.
func TestSameValues(t *testing.T) {
	mk := func() *flow.Record {
		r := &flow.Record{Type: flow.TypeFlow, Has: flow.HasKey | flow.HasMetrics | flow.HasSrcID, Start: 1e18, Last: 1e18 + 5e8}
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: 17,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SrcPort: 53, DstPort: 5353}
		r.Pkts, r.Bytes = [2]uint64{1, 1}, [2]uint64{80, 120}
		r.Label = []byte("dns")
		r.Extra = []flow.Field{{ID: 7, Value: []byte{1, 2}}}
		return r
	}
	a, b := mk(), mk()
	b.Argus.Version, b.Argus.Major = 5, 5 // encoding details
	b.Mgmt.Cookie = 0xE57150CB
	a.SrcID.Type, b.SrcID.Type = flow.SrcIDNone, flow.SrcIDIPv4 // §9.3 step 3
	before := fmt.Sprintf("%+v %+v", *a, *b)
	if !sameValues(a, b) {
		t.Fatal("equal values compare apart")
	}
	if after := fmt.Sprintf("%+v %+v", *a, *b); after != before {
		t.Fatalf("records changed:\n%s\n%s", before, after)
	}
	for name, change := range map[string]func(r *flow.Record){
		"bytes":  func(r *flow.Record) { r.Bytes[1]++ },
		"label":  func(r *flow.Record) { r.Label = []byte("dnt") },
		"extra":  func(r *flow.Record) { r.Extra[0].Value = []byte{1, 3} },
		"extras": func(r *flow.Record) { r.Extra = nil },
		"last":   func(r *flow.Record) { r.Last-- },
		"addr":   func(r *flow.Record) { r.Key.Dst = netip.MustParseAddr("192.0.2.3") },
		"srcid":  func(r *flow.Record) { r.SrcID.Type = flow.SrcIDInt },
		"seq":    func(r *flow.Record) { r.Seq++ },
	} {
		c := mk()
		change(c)
		if sameValues(a, c) {
			t.Errorf("%s: a change compares equal", name)
		}
	}
}

// TestCmpRanges: the ranges compared as memory and the fields set aside
// cover the record once each, so a field added to flow.Record is compared.
func TestCmpRanges(t *testing.T) {
	var covered uintptr
	var prev uintptr
	for _, s := range cmpRanges {
		if s.off < prev || s.end <= s.off {
			t.Fatalf("ranges out of order or empty: %v", cmpRanges)
		}
		prev = s.end
		covered += s.end - s.off
	}
	var r flow.Record
	const sl = unsafe.Sizeof([]byte(nil))
	setAside := 10*sl + unsafe.Sizeof(r.Extra) + unsafe.Sizeof(r.Argus) + unsafe.Sizeof(r.Mgmt.Cookie) +
		unsafe.Sizeof(r.Mgmt.Major) + unsafe.Sizeof(r.Mgmt.ID) + unsafe.Sizeof(r.SrcID.Type)
	if covered+setAside != unsafe.Sizeof(r) {
		t.Fatalf("ranges cover %d bytes + %d set aside, record is %d", covered, setAside, unsafe.Sizeof(r))
	}
}
