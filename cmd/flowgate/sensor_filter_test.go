package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/sensor/capture"
)

func TestParseSensorFilter(t *testing.T) {
	for _, c := range []struct {
		args  []string
		files []string
		expr  string
	}{
		{[]string{"-r", "a.pcap", "-w", "x", "-", "udp", "port", "53"}, []string{"a.pcap"}, "udp port 53"},
		{[]string{"-r", "a.pcap", "b.pcap", "-w", "x", "-", "tcp"}, []string{"a.pcap", "b.pcap"}, "tcp"},
		{[]string{"-w", "x", "-i", "eth0", "not", "arp"}, nil, "not arp"},
		{[]string{"-r", "a.pcap", "-w", "x"}, []string{"a.pcap"}, ""},
	} {
		a, err := parseSensorArgs(c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if a.conf.Filter != c.expr || !slices.Equal(a.files, c.files) {
			t.Errorf("%q: files %q filter %q, want %q %q", c.args, a.files, a.conf.Filter, c.files, c.expr)
		}
	}
}

// TestSensorFilterOracle: a packet filter on capture files selects what
// it selects for Debian argus 3.0.8.2 given the same expression: ra
// prints the same records.
func TestSensorFilterOracle(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	for _, tool := range []string{"argus", "ra", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	tmp := t.TempDir()
	fields := strings.Fields("stime ltime proto saddr sport dir daddr dport spkts dpkts sbytes dbytes state flgs sttl dttl")
	for _, c := range []struct{ capture, expr string }{
		{"traffic/slips/test8-malicious.pcap", "udp"},
		{"traffic/slips/test8-malicious.pcap", "not arp"},
		{"traffic/slips/malicious-ssh-bruteforce.pcap", "tcp dst port 902 and host 147.32.80.40"},
		{"traffic/zeek-traces/communityid/icmp.pcap", "icmp[icmptype] = icmp-echoreply"},
	} {
		in := filepath.Join(corpus, c.capture)
		ref, ours := filepath.Join(tmp, "a.argus"), filepath.Join(tmp, "f.argus")
		if out, err := exec.Command("argus", "-X", "-r", in, "-w", ref, "-", c.expr).CombinedOutput(); err != nil {
			t.Fatalf("argus: %v\n%s", err, out)
		}
		a, err := parseSensorArgs([]string{"-3", "-r", in, "-w", ours, "-", c.expr})
		if err != nil {
			t.Fatal(err)
		}
		if err := runSensor(a, nil, os.Stdout, os.Stderr); err != nil {
			t.Fatalf("%s %q: %v", c.capture, c.expr, err)
		}
		want, got := raSortedLines(t, ref, fields), raSortedLines(t, ours, fields)
		if len(want) == 0 {
			t.Fatalf("%s %q: argus selected nothing", c.capture, c.expr)
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s %q: argus %d records, ours %d:\nargus %q\nours  %q", c.capture, c.expr, len(want), len(got), want, got)
		}
		t.Logf("%s %q: %d records as argus", c.capture, c.expr, len(got))
		os.Remove(ref)
		os.Remove(ours)
	}
}

func raSortedLines(t *testing.T, file string, fields []string) []string {
	t.Helper()
	cmd := exec.Command("ra", append([]string{"-X", "-n", "-u", "-c", ",", "-r", file, "-s"}, fields...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ra %s: %v", file, err)
	}
	var lines []string
	for i, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Split(l, ","); i > 0 && len(f) > 2 && strings.TrimSpace(f[2]) != "man" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// TestLiveFilter: the expression compiled by compileFilter runs in the
// kernel: on lo, of UDP datagrams to two ports only those to the port the
// filter names reach us.
func TestLiveFilter(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed")
	}
	var lns [2]*net.UDPConn
	for i := range lns {
		ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns[i] = ln
	}
	want := lns[0].LocalAddr().(*net.UDPAddr).Port
	prog, err := compileFilter("lo", "udp dst port "+itoa(want))
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenLive("lo", capture.LiveOptions{Filter: prog, ReadTimeout: 200 * time.Millisecond})
	if err != nil {
		if strings.Contains(err.Error(), "permitted") || strings.Contains(err.Error(), "permission") || errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	for i := 0; i < 10; i++ {
		for _, ln := range lns {
			c, err := net.DialUDP("udp4", nil, ln.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("flowgate"))
			c.Close()
		}
	}
	seen := map[int]int{}
	deadline := time.Now().Add(3 * time.Second)
	var f capture.Frame
	for time.Now().Before(deadline) && seen[want] < 10 {
		if err := src.ReadFrame(&f); err != nil {
			continue
		}
		// Ethernet (lo's link type) + IPv4 header + UDP destination port.
		if len(f.Data) >= 14+20+4 {
			ihl := int(f.Data[14]&0x0f) * 4
			if len(f.Data) >= 14+ihl+4 {
				seen[int(f.Data[14+ihl+2])<<8|int(f.Data[14+ihl+3])]++
			}
		}
	}
	if seen[want] != 10 || len(seen) != 1 {
		t.Fatalf("ports seen %v, want only %d ×10", seen, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
