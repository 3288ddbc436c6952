package conformance

// Our exporters against the real collectors: records from corpus Argus files
// (IPv4 and IPv6, TCP/UDP/ICMP, biflows) encoded as NetFlow v5, v9 and IPFIX,
// received by nfcapd 1.7.1 and printed by nfdump, and decoded by tshark 4.0.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/flow"
)

// exportInputs are the Argus files (written by argus 3.0.8.2 from corpus
// captures) whose records we export.
var exportInputs = []string{
	"generated_icmp_echo", "generated_icmp_unreach", "generated_ipv4_frag", "generated_ipv6_icmp",
	"generated_ipv6_tcp", "generated_long_flow", "generated_mpls", "generated_tcp_handshake",
	"generated_tcp_midstream", "generated_tcp_rst", "generated_udp_dns", "generated_vlan",
	"traffic_slips_test7-malicious", "traffic_tcpdump_icmpv6", "traffic_zeek-traces_communityid_ipv6",
	"traffic_zeek-traces_communityid_tcp", "traffic_tcpdump_dns_udp",
}

// datagramWriter keeps each Write (one datagram) as a copy.
type datagramWriter struct{ dgs [][]byte }

func (w *datagramWriter) Write(b []byte) (int, error) {
	w.dgs = append(w.dgs, append([]byte(nil), b...))
	return len(b), nil
}

// exportRecords reads the flow records of the export inputs.
func exportRecords(tb testing.TB) (recs []flow.Record, scope []string) {
	tb.Helper()
	root := corpusDir(tb, "argus", "oracle")
	for _, in := range exportInputs {
		f, err := os.Open(filepath.Join(root, in, "v3.argus"))
		if err != nil {
			tb.Fatal(err)
		}
		r, err := argus.NewReader(f)
		if err != nil {
			tb.Fatalf("%s: %v", in, err)
		}
		for {
			var rec flow.Record
			err := r.Decode(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", in, err)
			}
			if rec.Type == flow.TypeMgmt {
				continue
			}
			rec.Detach()
			recs = append(recs, rec)
			scope = append(scope, in)
		}
		f.Close()
	}
	return recs, scope
}

// sentFlows is what a collector should show for a record we exported: one
// flow with reverse counters for IPFIX (RFC 5103), two unidirectional flows
// for v5/v9, with the direction's own times when the record has them.
func sentFlows(r *flow.Record, biflow bool) []nfFlow {
	f := recordFlow(r)
	if r.Key.Proto != 6 {
		f.Flags, f.RevFlags = 0, 0
	}
	if biflow || (r.Pkts[flow.Dst] == 0 && r.Bytes[flow.Dst] == 0) {
		if !biflow {
			f.RevPkts, f.RevBytes, f.RevFlags = 0, 0, 0
		}
		return []nfFlow{f}
	}
	fw, rv := f, f
	fw.RevPkts, fw.RevBytes, fw.RevFlags = 0, 0, 0
	rv.Src, rv.Dst, rv.SrcPort, rv.DstPort = f.Dst, f.Src, f.DstPort, f.SrcPort
	rv.Pkts, rv.Bytes, rv.Flags = f.RevPkts, f.RevBytes, f.RevFlags
	rv.RevPkts, rv.RevBytes, rv.RevFlags = 0, 0, 0
	if r.Has&flow.HasDirTimes != 0 {
		fw.Start, fw.End = r.SrcStart, r.SrcLast
		rv.Start, rv.End = r.DstStart, r.DstLast
	}
	return []nfFlow{fw, rv}
}

// sendPaced sends datagrams to a loopback port, paced so that nfcapd keeps
// up (oracles.md: it drops bursts).
func sendPaced(tb testing.TB, port int, dgs [][]byte) {
	tb.Helper()
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	for _, d := range dgs {
		if _, err := c.Write(d); err != nil {
			tb.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// TestNetflowOurExports: records of corpus Argus files, exported by our v5,
// v9 and IPFIX encoders, arrive in nfcapd and print in nfdump with the
// addresses, ports, protocol, packets, bytes, times (ms) and TCP flags we
// sent; tshark decodes every datagram with no error-level expert info and
// shows the same flows.
func TestNetflowOurExports(t *testing.T) {
	recs, scopes := exportRecords(t)
	nfTool(t, "nfcapd")
	kd := nfKnownDiffs(t, "nfcapd-export", "tshark-export")
	t0 := time.Unix(1700000000, 0)
	encoders := []struct {
		name   string
		biflow bool
		make   func(w io.Writer) codecs.Encoder
	}{
		{"v5", false, func(w io.Writer) codecs.Encoder { return netflow5.NewEncoder(w, func() time.Time { return t0 }) }},
		{"v9", false, func(w io.Writer) codecs.Encoder {
			return netflow9.NewEncoder(w, netflow9.WithEncoderClock(func() time.Time { return t0 }))
		}},
		{"ipfix", true, func(w io.Writer) codecs.Encoder {
			return ipfix.NewEncoder(w, ipfix.WithEncoderClock(func() time.Time { return t0 }))
		}},
	}
	for _, enc := range encoders {
		t.Run(enc.name, func(t *testing.T) {
			w := &datagramWriter{}
			e := enc.make(w)
			var want []nfFlow
			refused := map[string]int{}
			v4, v6, bi := 0, 0, 0
			for i := range recs {
				r := &recs[i]
				if err := e.Encode(r); err != nil {
					if !errors.Is(err, codecs.ErrNotRepresentable) {
						t.Fatalf("%s record %d: %v", scopes[i], i, err)
					}
					var nr *codecs.NotRepresentableError
					if errors.As(err, &nr) {
						refused[nr.Field]++
					}
					continue
				}
				if r.Key.Src.Unmap().Is4() {
					v4++
				} else {
					v6++
				}
				if r.Pkts[flow.Dst] != 0 {
					bi++
				}
				want = append(want, sentFlows(r, enc.biflow)...)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d of %d records exported (%d IPv4, %d IPv6, %d biflows; refused by field %v) in %d datagrams, %d flows expected",
				enc.name, v4+v6, len(recs), v4, v6, bi, refused, len(w.dgs), len(want))
			if len(w.dgs) == 0 {
				t.Fatal("no datagram written")
			}

			nc := startNfcapd(t, 0)
			sendPaced(t, nc.port, w.dgs)
			time.Sleep(300 * time.Millisecond)
			stored := nc.stop(t)
			scope := "export/" + enc.name
			var diffs []nfDiff
			m, d := compareFlows(want, stored, nfCompareOpts{Kind: "nfcapd-export", Scope: scope, TimeTol: 1e6, NoRevFlags: true})
			diffs = append(diffs, d...)
			t.Logf("%s: nfcapd stored %d flows, %d match what we sent", enc.name, len(stored), m)

			var dgs []udpPayload
			for i, b := range w.dgs {
				dgs = append(dgs, udpPayload{From: mustAddrPort("127.0.0.1:40000"), Data: b, Time: t0.Add(time.Duration(i) * time.Millisecond)})
			}
			var ts []nfFlow
			var malformed []string
			for _, p := range tsharkExports(t, dgs) {
				ts = append(ts, p.Flows...)
				if len(p.Malformed) > 0 {
					malformed = append(malformed, fmt.Sprintf("frame %d: %s", p.Frame, strings.Join(p.Malformed, ",")))
				}
			}
			if len(malformed) > 0 {
				diffs = append(diffs, nfDiff{"tshark-export", "malformed", scope, strings.Join(malformed, "; ")})
			}
			m, d = compareFlows(want, ts, nfCompareOpts{Kind: "tshark-export", Scope: scope, TimeTol: 1e6})
			diffs = append(diffs, d...)
			t.Logf("%s: tshark decoded %d flows, %d match what we sent; %d datagrams with error-level expert info", enc.name, len(ts), m, len(malformed))
			kd.check(t, diffs)
		})
	}
}
