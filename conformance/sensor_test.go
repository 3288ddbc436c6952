package conformance

// Debian's argus 3.0.8.2 sensor, run by the test on the corpus captures,
// writes an Argus 3 file; Debian's ra 3.0.8.2 and `flowgate ra` then print it
// with the same flags and a broad field list, and the outputs must agree
// column for column (management records' times masked: they are the
// sensor's wall clock). Columns that differ for a documented reason are
// listed in known-differences.tsv.

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sensorFields is every field ra 3.0.8.2 knows that a sensor record can
// fill, in one list (ra ignores names it does not know, so a typo here would
// hide a column: TestSensorFieldsKnown checks them against ra's header).
var sensorFields = strings.Fields(`
	stime ltime dur flgs proto saddr sport dir daddr dport
	pkts spkts dpkts bytes sbytes dbytes appbytes sappbytes dappbytes
	state cause seq srcid trans
	sttl dttl stos dtos sdsb ddsb sipid dipid
	smac dmac svlan dvlan svid dvid svpri dvpri smpls dmpls senc denc
	swin dwin stcpb dtcpb tcprtt synack ackdat tcpopt
	sstime sltime dstime dltime sdur ddur
	spktsz smaxsz sminsz dpktsz dmaxsz dminsz smeansz dmeansz
	sintpkt dintpkt sjit djit sintpktact dintpktact sintpktidl dintpktidl
	icmpid mean min max stddev sum
	load sload dload rate srate drate
	loss sloss dloss ploss retrans sretrans dretrans
	snet dnet offset suser duser label
`)

// sensorTraffic is a handful of real captures from the corpus, chosen for
// variety: TCP with loss, DNS over TCP and UDP, ICMP scans, ICMPv6, ARP,
// fragments, MPLS, QinQ, plain IPv6.
var sensorTraffic = []string{
	"traffic/slips/test7-malicious.pcap",
	"traffic/slips/test12-icmp-portscan.pcap",
	"traffic/tcpdump/dns_tcp.pcap",
	"traffic/tcpdump/dns_udp.pcap",
	"traffic/tcpdump/icmpv6.pcap",
	"traffic/tcpdump/mpls-traceroute.pcap",
	"traffic/tcpdump/802.1ad_QinQ.pcap",
	"traffic/zeek-traces/communityid/arp.pcap",
	"traffic/zeek-traces/communityid/ipv6.pcap",
	"traffic/zeek-traces/http/get.pcap",
	"traffic/zeek-traces/ipv4/fragmented-1.pcap",
	"traffic/zeek-traces/tls/tls1.2.pcap",
}

// sensorVariants are the argus command lines: the default record set, and
// every optional metric (MACs, app bytes, jitter, response, TCP perf, user
// data).
var sensorVariants = []struct {
	name  string
	flags []string
}{
	{"plain", nil},
	{"full", []string{"-m", "-A", "-J", "-R", "-Z", "-U", "32"}},
}

// sensorInputs lists the captures: all of generated/pcaps and the traffic
// selection, keyed by a short test name.
func sensorInputs(tb testing.TB, corpus string) (names []string, paths map[string]string) {
	tb.Helper()
	paths = map[string]string{}
	gen, _ := filepath.Glob(filepath.Join(corpus, "generated", "pcaps", "*.pcap"))
	for _, p := range gen {
		paths["generated_"+strings.TrimSuffix(filepath.Base(p), ".pcap")] = p
	}
	for _, rel := range sensorTraffic {
		p := filepath.Join(corpus, rel)
		if _, err := os.Stat(p); err != nil {
			tb.Logf("corpus capture missing, skipped: %s", rel)
			continue
		}
		n := strings.TrimSuffix(strings.TrimPrefix(rel, "traffic/"), ".pcap")
		paths["traffic_"+strings.ReplaceAll(n, "/", "_")] = p
	}
	for n := range paths {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		tb.Skip("no captures under generated/pcaps or traffic/ in the corpus")
	}
	return names, paths
}

// raArgs is the ra command line both readers get.
func raArgs(file string, fields []string) []string {
	return append([]string{"-X", "-n", "-u", "-c", ",", "-r", file, "-s"}, fields...)
}

func TestSensorVsDebianRa(t *testing.T) {
	corpus := corpusDir(t)
	argus := needTool(t, "argus")
	ra := needTool(t, "ra")
	fg := flowgateBin(t)
	names, paths := sensorInputs(t, corpus)
	known := loadKnownDiffs(t, "sensor", "ra3")

	for _, v := range sensorVariants {
		for _, name := range names {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				out := argusSensor(t, argus, paths[name], v.flags...)
				args := raArgs(out, sensorFields)
				want := mustRun(t, filepath.Dir(out), ra, args...)
				got, _, err := runCmd(filepath.Dir(out), fg, append([]string{"ra"}, args...)...)
				if err != nil {
					t.Fatalf("flowgate: %v", err)
				}
				// The corpus oracle holds Debian argus output for the same
				// captures (v3 = plain, v3full = full): differences
				// ra_golden_test.go lists for those files apply here too.
				golden := "v3.ra3.csv"
				if v.name == "full" {
					golden = "v3full.ra3.csv"
				}
				checkRaCSV(t, []scopeRef{{"sensor", v.name + "/" + name}, {"ra3", name + "/" + golden}},
					want, got, known, compareOpts{maskMgmt: true})
			})
		}
	}
}

// TestSensorFieldsKnown guards the field lists: every name must be one ra
// 3.0.8.2 prints a column for (it silently drops unknown names).
func TestSensorFieldsKnown(t *testing.T) {
	corpus := corpusDir(t)
	ra := needTool(t, "ra")
	f := filepath.Join(corpus, "argus", "oracle", "generated_tcp_handshake", "v3.argus")
	if _, err := os.Stat(f); err != nil {
		t.Skipf("corpus file missing: %v", err)
	}
	for _, list := range [][]string{sensorFields, v3Fields} {
		out := mustRun(t, t.TempDir(), ra, raArgs(f, list)...)
		hdr := parseRaCSV(out).header
		if len(hdr) != len(list) {
			t.Errorf("ra printed %d columns for %d fields; unknown names in %v", len(hdr), len(list), list)
		}
	}
}

// scopeRef names a case in known-differences.tsv terms.
type scopeRef struct{ kind, scope string }

// checkRaCSV compares and reports, leaving out the differences
// known-differences.tsv lists for any of the given kinds and scopes (the
// first is the test's own and names the case in messages).
func checkRaCSV(t *testing.T, refs []scopeRef, want, got []byte, known []*knownDiff, o compareOpts) {
	t.Helper()
	o.known = func(label string, row int) bool {
		hit := false
		for _, k := range known {
			for _, r := range refs {
				if k.matches(r.kind, r.scope, label, row) {
					k.hits.Add(1)
					hit = true
				}
			}
		}
		return hit
	}
	summary, _ := compareRaCSV(want, got, o)
	if summary != "" {
		t.Errorf("%s %s: flowgate differs from Debian ra 3.0.8.2:\n%s", refs[0].kind, refs[0].scope, summary)
	}
}
