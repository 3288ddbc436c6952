package argus

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestTCPDstFlagsKept: a record from elsewhere whose TCP object has no
// place for its dst side (no object, TCP_PERF without HasDst, TCP_INIT)
// or for more than flags (TCP_STATUS with a window) is written as
// TCP_PERF with the dst side: the reverse flags survive, in both
// versions, and Debian's ra filters the flow on them ("dst reset").
func TestTCPDstFlagsKept(t *testing.T) {
	const syn, rst, ack = 0x02, 0x04, 0x10
	for _, c := range []struct {
		name string
		mut  func(*flow.TCP)
	}{
		{"no object", func(*flow.TCP) {}},
		{"perf without HasDst", func(p *flow.TCP) { p.Object = flow.TCPPerf }},
		{"init", func(p *flow.TCP) { p.Object = flow.TCPInit }},
		{"status with a window", func(p *flow.TCP) { p.Object, p.Side[0].Win = flow.TCPStatus, 1024 }},
	} {
		for _, ver := range []int{5, 3} {
			r := ctxRecord()
			r.Has &^= carryGroups | flow.HasLabel
			r.Label, r.Extra = nil, nil
			r.Key.Proto, r.Key.SrcPort, r.Key.DstPort = 6, 40000, 80
			r.Has |= flow.HasTCP
			r.TCP.Side[0].Flags, r.TCP.Side[1].Flags = syn, rst|ack
			c.mut(&r.TCP)
			data, _ := encodeOne(t, ver, &r)
			g := decodeFlows(t, data)[0]
			if g.TCP.Side[0].Flags != syn || g.TCP.Side[1].Flags != rst|ack || g.TCP.Side[0].Win != r.TCP.Side[0].Win {
				t.Errorf("%s argus%d: flags %#x/%#x win %d back, want %#x/%#x win %d", c.name, ver,
					g.TCP.Side[0].Flags, g.TCP.Side[1].Flags, g.TCP.Side[0].Win, syn, rst|ack, r.TCP.Side[0].Win)
			}
			if ver != 3 {
				continue
			}
			ra, err := exec.LookPath("ra")
			if err != nil {
				continue
			}
			f := filepath.Join(t.TempDir(), "f.argus")
			os.WriteFile(f, data, 0o644)
			for filter, want := range map[string]int{"dst reset": 1, "src syn": 1, "dst syn": 0, "src reset": 0} {
				out, err := exec.Command(ra, "-n", "-r", f, "-c", ",", "-s", "saddr", "-", filter).CombinedOutput()
				if err != nil && len(out) > 0 { // ra exits 1 when it prints no flow
					t.Fatalf("ra - %q: %v\n%s", filter, err, out)
				}
				if n := strings.Count(string(out), "10.0.0.1"); n != want {
					t.Errorf("%s argus3: ra - %q prints %d flows, want %d\n%s", c.name, filter, n, want, out)
				}
			}
		}
	}
}

// TestOnlyFlagsFields: onlyFlags and sideEmpty test every field of
// flow.TCPSide by name; a new field must be added to them.
func TestOnlyFlagsFields(t *testing.T) {
	if n := reflect.TypeOf(flow.TCPSide{}).NumField(); n != 14 {
		t.Fatalf("flow.TCPSide has %d fields, onlyFlags knows 14", n)
	}
	v := reflect.ValueOf(&flow.TCPSide{}).Elem()
	for i := range v.NumField() {
		s := flow.TCPSide{}
		f := reflect.ValueOf(&s).Elem().Field(i)
		if f.CanInt() {
			f.SetInt(1)
		} else {
			f.SetUint(1)
		}
		if sideEmpty(&s) {
			t.Errorf("sideEmpty misses %s", v.Type().Field(i).Name)
		}
		if onlyFlags(&s) != (v.Type().Field(i).Name == "Flags") {
			t.Errorf("onlyFlags with %s set: %v", v.Type().Field(i).Name, onlyFlags(&s))
		}
	}
}
