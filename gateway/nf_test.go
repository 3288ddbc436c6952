package gateway

import (
	"errors"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// fakeDecoder stands in for the packet codecs in the transport tests: one
// record per message, carrying what the test needs to prove the message
// arrived whole and where: its length (Bytes), an FNV-64 of its bytes
// (Pkts), its version (ObsDomain) and which decoder instance saw it
// (ExportSeq). Messages starting with 0xde 0xad fail as corrupt.
type fakeDecoder struct {
	id      uint32
	version uint16
}

var fakeIDs atomic.Uint32

func newFakeDecoders() Decoders {
	id := fakeIDs.Add(1)
	return Decoders{V5: &fakeDecoder{id, 5}, V9: &fakeDecoder{id, 9}, IPFIX: &fakeDecoder{id, 10}}
}

func (d *fakeDecoder) DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	if MessageVersion(b) != d.version {
		panic("fakeDecoder: wrong version dispatched")
	}
	if len(b) > 3 && b[2] == 0xde && b[3] == 0xad {
		return dst, &codecs.DecodeError{Format: "fake", Exporter: from, Offset: 2, Err: codecs.ErrCorrupt}
	}
	dst = append(dst, flow.Record{})
	r := &dst[len(dst)-1]
	r.Exporter = from
	r.Has = flow.HasExporter | flow.HasMetrics
	r.ObsDomain = uint32(d.version)
	r.ExportSeq = d.id
	r.Bytes[0] = uint64(len(b))
	r.Pkts[0] = fnv64(b)
	return dst, nil
}

func fnv64(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// msgKey is what a fake record says about its message.
type msgKey struct {
	from    netip.AddrPort
	version uint32
	length  uint64
	hash    uint64
}

func fakeKeys(recs []flow.Record) []msgKey {
	var ks []msgKey
	for i := range recs {
		r := &recs[i]
		ks = append(ks, msgKey{r.Exporter, r.ObsDomain, r.Bytes[0], r.Pkts[0]})
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.hash != b.hash {
			return a.hash < b.hash
		}
		return a.from.Port() < b.from.Port()
	})
	return ks
}

// corpusDat returns the flowbeat vendor payloads (each file one UDP
// payload), or skips.
func corpusDat(t testing.TB) [][]byte {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs netflow-exports/flowbeat/dat")
	}
	files, _ := filepath.Glob(filepath.Join(c, "netflow-exports", "flowbeat", "dat", "*.dat"))
	if len(files) == 0 {
		t.Skip("no flowbeat dat files")
	}
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestDecodersDispatch(t *testing.T) {
	d := newFakeDecoders()
	from := netip.MustParseAddrPort("192.0.2.1:2055")
	for _, tc := range []struct {
		msg    []byte
		reason string
	}{
		{[]byte{0, 5, 0, 0}, ""},
		{[]byte{0, 9, 0, 0}, ""},
		{[]byte{0, 10, 0, 0}, ""},
		{[]byte{0, 10, 0xde, 0xad}, "corrupt"},
		{[]byte{0, 7, 0, 0}, "version"},
		{[]byte{0}, "truncated"},
		{nil, "truncated"},
	} {
		recs, err := d.Decode(tc.msg, from, nil)
		if tc.reason == "" {
			if err != nil || len(recs) != 1 || recs[0].ObsDomain != uint32(MessageVersion(tc.msg)) {
				t.Errorf("% x: %v %v", tc.msg, recs, err)
			}
			continue
		}
		var de *codecs.DecodeError
		if got := Reason(err); got != tc.reason || !errors.As(err, &de) || de.Exporter != from {
			t.Errorf("% x: error %v (reason %q), want reason %q naming the exporter", tc.msg, err, got, tc.reason)
		}
	}
	only := d.Only(FormatNF5)
	if _, err := only.Decode([]byte{0, 9, 0, 0}, from, nil); Reason(err) != "version" {
		t.Errorf("nf5 decoders took a v9 message: %v", err)
	}
}
