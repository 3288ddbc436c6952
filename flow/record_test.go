package flow_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// TestDetachKeepsEmpty: a present but empty value (Zeek's "(empty)": an
// empty string) stays present through Detach and DetachInto, so that the
// record writes back as the conn.log had it, not as "-" (unset). The log
// is a corpus conn.log (slips) whose first record's service is made
// "(empty)", as Zeek writes an empty string.
func TestDetachKeepsEmpty(t *testing.T) {
	dir := os.Getenv("FLOWGATE_CORPUS")
	if dir == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	p := filepath.Join(dir, "zeek/slips/port-scans/horizontal/conn.log")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Skip(err)
	}
	var hdr []string
	var want string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "#") {
			hdr = append(hdr, l)
			continue
		}
		if want = l; l != "" {
			break
		}
	}
	cols := strings.Split(want, "\t")
	if len(cols) < 8 || cols[7] != "http" {
		t.Fatalf("corpus line %q: service is not column 8", want)
	}
	cols[7] = "(empty)"
	want = strings.Join(cols, "\t")
	log := strings.Join(hdr, "\n") + "\n" + want + "\n" + want + "\n"
	for _, mode := range []string{"Detach", "DetachInto"} {
		var rec flow.Record
		rd := zeek.NewReader(strings.NewReader(log))
		if err := rd.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Zeek.Service == nil {
			t.Fatalf("%s: the reader gives (empty) as unset", mode)
		}
		switch mode {
		case "Detach":
			rec.Detach()
		default:
			rec.DetachInto(nil) // a nil arena: where an empty copy was nil
		}
		rd.Decode(&flow.Record{}) // the reader's buffer is reused
		if s := rec.Zeek.Service; s == nil || len(s) != 0 {
			t.Errorf("%s: service = %q (nil %v), want present and empty", mode, s, s == nil)
		}
		var out bytes.Buffer
		w := zeek.NewWriter(&out, zeek.WithHeader(rd.Header()))
		if err := w.Encode(&rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
		got := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if l != "" && l[0] != '#' {
				got = l
				break
			}
		}
		if got != want {
			t.Errorf("%s: rewritten\n%s\nwant\n%s", mode, got, want)
		}
	}
}

// TestDetachIntoAllocs: detaching into a grown arena allocates nothing.
func TestDetachIntoAllocs(t *testing.T) {
	r := flow.Record{Label: []byte("svc=dns"), Zeek: flow.Zeek{UID: []byte("C1"), Service: []byte{}},
		Extra: []flow.Field{{Value: []byte("x")}, {Value: []byte{}}}}
	arena := make([]byte, 0, 1<<10)
	if a := testing.AllocsPerRun(100, func() {
		arena = r.DetachInto(arena[:0])
	}); a != 0 {
		t.Errorf("%.1f allocations", a)
	}
	if r.Zeek.Service == nil || r.Extra[1].Value == nil {
		t.Error("an empty value became nil")
	}
}
