package conformance

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// softflowdConfigs are the exporter settings of TestNetflowSoftflowd: every
// version softflowd 1.1.0 has, IPFIX with millisecond times (nfdump 1.7.1
// misprints the NTP and uptime forms, oracles.md) and RFC 5103 biflows.
var softflowdConfigs = []struct {
	name string
	args []string
}{
	{"v5", []string{"-v", "5"}},
	{"v9", []string{"-v", "9"}},
	{"ipfix", []string{"-v", "10", "-A", "milli"}},
	{"ipfix_bi", []string{"-v", "10", "-b", "-A", "milli"}},
}

// softflowdInputs are the corpus captures softflowd replays: the generated
// set and two real captures with many flows.
func softflowdInputs(tb testing.TB) []string {
	tb.Helper()
	gen, _ := filepath.Glob(filepath.Join(corpusDir(tb, "generated", "pcaps"), "*.pcap"))
	tr := corpusDir(tb, "traffic", "slips")
	return append(gen, filepath.Join(tr, "test7-malicious.pcap"), filepath.Join(tr, "test-cc-capture-2.pcap"))
}

// TestNetflowSoftflowd: softflowd exports corpus captures to nfcapd, which
// repeats every datagram to our socket. What nfdump prints of nfcapd's file
// must equal what the datagrams decode to: with the independent reference
// (v5 layout / tehmaze/netflow + RFC arithmetic) now, and with our decoders
// once they land. tshark must decode every datagram without expert errors.
func TestNetflowSoftflowd(t *testing.T) {
	inputs := softflowdInputs(t)
	nfTool(t, "softflowd")
	kd := nfKnownDiffs(t, "nfcapd-ours", "softflowd-tshark")
	haveOurs := len(ourDecoders) == 3
	if !haveOurs {
		kd.partial["nfcapd-ours"] = true
	}
	for _, cfg := range softflowdConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			sink := newUDPSink(t)
			nc := startNfcapd(t, sink.port())
			for _, in := range inputs {
				softflowdRun(t, in, nc.port, cfg.args...)
				// nfcapd drops bursts it cannot read in time (oracles.md):
				// let it drain between captures.
				sink.settle(150*time.Millisecond, 5*time.Second)
			}
			dgs := sink.settle(300*time.Millisecond, 10*time.Second)
			stored := nc.stop(t)
			if len(dgs) == 0 || len(stored) == 0 {
				t.Fatalf("nothing exported: %d datagrams repeated, %d flows stored\n%s", len(dgs), len(stored), nc.log)
			}
			scope := "softflowd/" + cfg.name
			var diffs []nfDiff
			var ref []nfFlow
			if binary.BigEndian.Uint16(dgs[0].Data) == 5 {
				for _, d := range dgs {
					fs, err := v5Flows(d.Data)
					if err != nil {
						t.Fatalf("%s: %v", d.Name, err)
					}
					ref = append(ref, fs...)
				}
			} else {
				var err error
				if ref, err = refStreamFlows(newTehmazeDecoder(), dgs); err != nil {
					diffs = append(diffs, nfDiff{"nfcapd-ref", "error", scope, err.Error()})
				}
			}
			// Third party against third party (nfdump vs tehmaze or the v5
			// layout): logged, so the harness's reading shows; ours is gated.
			m, d := compareFlows(stored, ref, nfCompareOpts{Kind: "nfcapd-ref", Scope: scope, TimeTol: 1e6, NoRevFlags: true})
			refDiffs := append(diffs, d...)
			diffs = nil
			t.Logf("%s: %d datagrams, nfcapd stored %d flows, reference decoded %d, %d matched, %d differences", cfg.name, len(dgs), len(stored), len(ref), m, len(refDiffs))
			for i, d := range refDiffs {
				if i < 3 {
					t.Logf("  reference disagreement: %s", d)
				}
			}
			if haveOurs {
				ours := decodeOurs(t, dgs)
				m, d := compareFlows(stored, ours, nfCompareOpts{Kind: "nfcapd-ours", Scope: scope, TimeTol: 1e6, NoRevFlags: true})
				diffs = append(diffs, d...)
				t.Logf("%s: ours decoded %d flows, %d matched nfcapd's", cfg.name, len(ours), m)
			}
			var malformed []string
			warn := 0
			for _, p := range tsharkExports(t, dgs) {
				warn += p.Warnings
				if len(p.Malformed) > 0 {
					malformed = append(malformed, fmt.Sprintf("frame %d: %s", p.Frame, strings.Join(p.Malformed, ",")))
				}
			}
			t.Logf("%s: tshark: %d malformed/error frames, %d warnings", cfg.name, len(malformed), warn)
			if len(malformed) > 0 {
				diffs = append(diffs, nfDiff{"softflowd-tshark", "malformed", scope, strings.Join(malformed, "; ")})
			}
			kd.check(t, diffs)
		})
	}
}
