package argus

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/flow"
)

// msgs collects one Write per IPFIX message.
type msgs [][]byte

func (d *msgs) Write(b []byte) (int, error) {
	*d = append(*d, append([]byte(nil), b...))
	return len(b), nil
}

// extraFields is, per data record of tshark's decode ms, the elements
// of the records' Extra as "name=value" (sorted): the keys tshark shows
// for the record that it does not show for the same record encoded
// without its Extra (base).
func extraFields(ms, base []nftest.TsMsg) []string {
	var fl, bl []map[string][]string
	for _, m := range ms {
		fl = append(fl, m.Flows...)
	}
	for _, m := range base {
		bl = append(bl, m.Flows...)
	}
	var out []string
	for i, f := range fl {
		var kv []string
		for k, vs := range f {
			if i < len(bl) && bl[i][k] != nil || k == "cflow.template_id" || strings.HasPrefix(k, "cflow.string_len") {
				continue // a field of the plain record, or of the encoding (a variable length's prefix)
			}
			for _, v := range vs {
				kv = append(kv, k+"="+v)
			}
		}
		sort.Strings(kv)
		out = append(out, strings.Join(kv, "\x00"))
	}
	return out
}

// TestForeignExtraIPFIX: the enterprise elements of real IPFIX exports
// (flowbeat's vendor captures: Barracuda, YAF, Procera, Netscaler's
// variable-length ones) go through Argus (v5 and 3) in the label's fg.x
// words and back to IPFIX: tshark decodes our IPFIX messages to the
// same enterprise element values as it decodes the exporter's.
func TestForeignExtraIPFIX(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	dir = filepath.Join(dir, "netflow-exports/flowbeat/dat")
	for _, c := range []struct {
		name  string
		files []string
		lossy bool // records whose elements pass the label's bound
	}{
		{"barracuda", []string{"ipfix_test_barracuda_tpl.dat", "ipfix_test_barracuda_data256.dat"}, false},
		{"yaf", []string{"ipfix_test_yaf_tpls_option_tpl.dat", "ipfix_test_yaf_tpl45841.dat", "ipfix_test_yaf_data45841.dat", "ipfix_test_yaf_data45873.dat", "ipfix_test_yaf_data53248.dat"}, false},
		{"procera", []string{"ipfix_test_procera_tpl52935.dat", "ipfix_test_procera_data52935.dat"}, false},
		{"netscaler", []string{"ipfix_test_netscaler_tpl.dat", "ipfix_test_netscaler_data.dat"}, true},
	} {
		for _, ver := range []int{5, 3} {
			var orig [][]byte
			d := ipfix.NewDecoder()
			var recs []flow.Record
			from := netip.MustParseAddrPort("192.0.2.1:4739")
			for _, f := range c.files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Skip(err)
				}
				orig = append(orig, b)
				recs, _ = d.DecodePacket(b, from, recs)
			}
			nx, nextra := 0, 0
			for i := range recs {
				recs[i].Detach()
				nextra += len(recs[i].Extra)
				for _, x := range recs[i].Extra {
					if x.Enterprise != 0 {
						nx++
					}
				}
			}
			var a bytes.Buffer
			var opts []Option
			if c.lossy {
				// without it, the first record past the bound is refused,
				// naming the element
				w, _ := NewWriter(io.Discard, ver)
				var nr *codecs.NotRepresentableError
				refused := false
				for i := range recs {
					if err := w.Encode(&recs[i]); err != nil {
						if !errors.As(err, &nr) || !strings.HasPrefix(nr.Field, "fg.x.ipfix.") {
							t.Fatalf("%s argus%d record %d: %v, want a NotRepresentableError naming an fg.x element", c.name, ver, i, err)
						}
						refused = true
					}
				}
				if !refused {
					t.Errorf("%s argus%d: no record refused", c.name, ver)
				}
				opts = append(opts, WithLossy(nil))
			}
			w, err := NewWriter(&a, ver, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if err := w.Encode(&recs[i]); err != nil {
					t.Fatalf("%s argus%d record %d: %v", c.name, ver, i, err)
				}
			}
			w.Close()
			counted := int64(0)
			for k, n := range w.Report().Lossy {
				if strings.HasPrefix(k, "fg.x.") {
					counted += n
				}
			}
			lost := 0 // elements left out, per the records read back
			whole := map[int]bool{}
			rd, err := NewReader(&a)
			if err != nil {
				t.Fatal(err)
			}
			var out msgs
			e := ipfix.NewEncoder(&out, ipfix.WithEncoderClock(func() time.Time { return time.Unix(1700000100, 0) }))
			n := 0
			for {
				var r flow.Record
				err := rd.Decode(&r)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Type == flow.TypeMgmt {
					continue
				}
				if n < len(recs) {
					lost += len(recs[n].Extra) - len(r.Extra)
					whole[n] = len(recs[n].Extra) == len(r.Extra)
				}
				if err := e.Encode(&r); err != nil {
					t.Fatalf("%s argus%d record %d to IPFIX: %v", c.name, ver, n, err)
				}
				n++
			}
			e.Close()
			if n != len(recs) {
				t.Fatalf("%s argus%d: %d records back, wrote %d", c.name, ver, n, len(recs))
			}
			var plain msgs
			e0 := ipfix.NewEncoder(&plain, ipfix.WithEncoderClock(func() time.Time { return time.Unix(1700000100, 0) }))
			for i := range recs {
				r := recs[i]
				r.Extra = nil
				if err := e0.Encode(&r); err != nil {
					t.Fatal(err)
				}
			}
			e0.Close()
			base := nftest.Tshark(t, plain, 4739, "2")
			// the exporter's own records, re-encoded as they were decoded
			// (IPFIX to IPFIX keeps Extra: codecs/ipfix's tests)
			var direct msgs
			e1 := ipfix.NewEncoder(&direct, ipfix.WithEncoderClock(func() time.Time { return time.Unix(1700000100, 0) }))
			for i := range recs {
				if err := e1.Encode(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			e1.Close()
			if int64(lost) != counted {
				t.Errorf("%s argus%d: %d elements left out, %d counted", c.name, ver, lost, counted)
			}
			want := extraFields(nftest.Tshark(t, direct, 4739, "2"), base)
			got := extraFields(nftest.Tshark(t, out, 4739, "2"), base)
			if len(got) != len(want) {
				t.Fatalf("%s argus%d: tshark shows %d records of ours, %d re-encoded directly", c.name, ver, len(got), len(want))
			}
			// the values are the exporter's: every one is in tshark's
			// decode of the original messages
			inOrig := map[string]bool{}
			for _, m := range nftest.Tshark(t, orig, 4739, "2") {
				for _, f := range m.Flows {
					for k, vs := range f {
						for _, v := range vs {
							inOrig[k+"="+v] = true
						}
					}
				}
			}
			nv := 0
			for i := range want {
				if want[i] != "" {
					nv++
				}
				for _, kv := range strings.Split(want[i], "\x00") {
					if kv != "" && !inOrig[kv] {
						t.Errorf("%s: %s is not in tshark's decode of the export", c.name, kv)
					}
				}
				if !whole[i] {
					want[i], got[i] = "(left out, counted)", "(left out, counted)"
				}
			}
			if nv == 0 {
				t.Fatalf("%s: tshark shows no Extra element", c.name)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s argus%d: tshark's Extra elements\nours:     %q\nexporter: %q", c.name, ver, got, want)
			}
			t.Logf("%s argus%d: %d records, %d Extra values (%d enterprise), %d left out (lossy); tshark shows Extra elements in %d: %.200q", c.name, ver, len(recs), nextra, nx, lost, nv, want)
		}
	}
}

// TestForeignExtraLabel: the fg.x words as ra prints them, and their
// reading back (v9 vendor types, IPFIX enterprise and variable-length
// elements, JSON text); past the bound they are refused, naming the key.
func TestForeignExtraLabel(t *testing.T) {
	r := ctxRecord()
	r.Has &^= carryGroups | flow.HasLabel
	r.Label = nil
	r.Extra = []flow.Field{
		{Source: flow.SourceIPFIX, Enterprise: 6871, ID: 12, Offset: 4, Value: []byte{1, 2, 3, 0xab}},
		{Source: flow.SourceIPFIX, ID: 94, Offset: 0xFFFF, Value: []byte("fg")},
		{Source: flow.SourceNetFlow9, ID: 40000, Offset: 2, Value: []byte{0, 7}},
		{Source: flow.SourceJSON, ID: 3, Offset: 6, Value: []byte(`"a:b%"`)},
	}
	got := string(AppendLabel(nil, &r))
	want := "fg.x.ipfix.6871.12=010203ab:fg.x.ipfix.94@65535=6667:fg.x.nf9.40000=0007:fg.x.json.3=\"a%3Ab%25\""
	if got != want {
		t.Fatalf("label %q, want %q", got, want)
	}
	data, _ := encodeOne(t, 5, &r)
	back := decodeFlows(t, data)[0]
	if len(back.Extra) != len(r.Extra) {
		t.Fatalf("Extra back %+v", back.Extra)
	}
	for i := range r.Extra {
		a, b := r.Extra[i], back.Extra[i]
		if a.Source != b.Source || a.Enterprise != b.Enterprise || a.ID != b.ID || a.Offset != b.Offset || !bytes.Equal(a.Value, b.Value) {
			t.Errorf("Extra %d: %+v, want %+v", i, b, a)
		}
	}
	big := r
	big.Extra = []flow.Field{{Source: flow.SourceIPFIX, Enterprise: 9, ID: 7, Offset: 0xFFFF, Value: make([]byte, 600)}}
	var nr *codecs.NotRepresentableError
	w, _ := NewWriter(io.Discard, 5)
	if err := w.Encode(&big); !errors.As(err, &nr) || nr.Field != "fg.x.ipfix.9.7@65535" {
		t.Errorf("600-byte element: %v, want a NotRepresentableError naming fg.x.ipfix.9.7@65535", err)
	}
}
