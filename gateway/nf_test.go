package gateway

import (
	"encoding/binary"
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
// (ExportSeq). Messages with 0xdead in bytes 2-3, or 0xdeadbeef in
// bytes 4-7, fail as corrupt.
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
	if len(b) > 3 && b[2] == 0xde && b[3] == 0xad || len(b) > 7 && string(b[4:8]) == "\xde\xad\xbe\xef" {
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

// fakeEncoder stands in for the packet encoders: IPFIX-framed messages
// (version 10, length) of up to per records, each record its Pkts[0] as 8
// bytes. A fresh encoder's first message says "TMPL" in the export time
// (its templates); a record whose Bytes[0] is 999 is not representable.
type fakeEncoder struct {
	per  int
	sent bool
}

func (e *fakeEncoder) AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error) {
	start := len(dst)
	dst = append(dst, 0, 10, 0, 0, 'D', 'A', 'T', 'A', 0, 0, 0, 0, 0, 0, 0, 0)
	if !e.sent {
		copy(dst[start+4:], "TMPL")
		e.sent = true
	}
	n := 0
	var err error
	for ; n < len(recs) && n < e.per; n++ {
		if recs[n].Bytes[0] == 999 {
			err = &codecs.NotRepresentableError{Format: "fake", Field: "sbytes", Reason: "999"}
			break
		}
		dst = binary.BigEndian.AppendUint64(dst, recs[n].Pkts[0])
	}
	if n == 0 {
		return dst[:start], 0, err
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return dst, n, err
}

// fakeRecords makes n records numbered from first (in Pkts[0]).
func fakeRecords(first, n int) []flow.Record {
	recs := make([]flow.Record, n)
	for i := range recs {
		recs[i].Pkts[0] = uint64(first + i)
		recs[i].Has = flow.HasMetrics
	}
	return recs
}

// fakeMessage parses a fakeEncoder message: template marker and numbers.
func fakeMessage(t testing.TB, b []byte) (tmpl bool, nums []uint64) {
	t.Helper()
	if len(b) < 16 || MessageVersion(b) != 10 || int(binary.BigEndian.Uint16(b[2:])) != len(b) || (len(b)-16)%8 != 0 {
		t.Fatalf("bad fake message % x", b)
	}
	for p := 16; p < len(b); p += 8 {
		nums = append(nums, binary.BigEndian.Uint64(b[p:]))
	}
	return string(b[4:8]) == "TMPL", nums
}

// corpusIPFIX returns the flowbeat payloads that are whole IPFIX messages
// (version 10, length field equal to the file's size).
func corpusIPFIX(t testing.TB) [][]byte {
	var out [][]byte
	for _, b := range corpusDat(t) {
		if MessageVersion(b) == 10 && len(b) >= 16 && int(binary.BigEndian.Uint16(b[2:])) == len(b) {
			out = append(out, b)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d IPFIX payloads in the corpus", len(out))
	}
	return out
}
