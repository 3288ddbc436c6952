package sensor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/sensor/track"
)

// TestArgusOracleGenerated runs Debian argus 3.0.8.2 and the sensor (-3)
// on a generated capture of 200,000 packets (conformance/tools/genpcap:
// TCP with handshakes, retransmissions and resets, DNS, ICMP echo and
// errors, 20% IPv6, status records and idle expiry over 10 s of traffic),
// with argus's default record set and with -m -A -J -Z -U 32, and requires
// every record to print the same in Debian ra, line for line (sorted):
// key, times, flags, state, counters, TTL/TOS/IP id, MAC, VLAN, MPLS,
// TCP windows, base sequence, RTT, jitter, sizes and user data (swin of
// one-SYN flows excepted: argus's stale SYN window, blankLoneSynWin).
func TestArgusOracleGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	needRA(t)
	if _, err := exec.LookPath("argus"); err != nil {
		t.Skip("argus not installed (apt-get install argus-server)")
	}
	pcap := genPcap(t, 200000)
	tmp := t.TempDir()
	fields := slices.Concat(shardFields, jitterFields, optionFields)
	for _, v := range []struct {
		name string
		args []string
		opt  Options
	}{
		{"default", nil, Options{Argus3: true}},
		{"mAJZU", []string{"-m", "-A", "-J", "-Z", "-U", "32"}, Options{Argus3: true,
			Track: track.Options{MAC: true, AppBytes: true, Jitter: true, PktSize: true, UserData: 32}}},
	} {
		t.Run(v.name, func(t *testing.T) {
			ref := filepath.Join(tmp, v.name+".argus")
			args := append(append([]string{"-X"}, v.args...), "-r", pcap, "-w", ref)
			if out, err := exec.Command("argus", args...).CombinedOutput(); err != nil {
				t.Fatalf("argus %v: %v\n%s", args, err, out)
			}
			ours := filepath.Join(tmp, v.name+".ours.argus")
			ourArgus(t, pcap, ours, v.opt)
			want, got := raLines(t, ref, fields), raLines(t, ours, fields)
			// argus's stale SYN window (a sensor bug): a flow of one SYN
			// is written with the ARGUS_TCP_INIT DSR, whose win field
			// the sensor never sets (stale buffer bytes: 8192, 2732672,
			// ...), where we write the SYN's window. Left out of the
			// comparison for those records only.
			want, got = blankLoneSynWin(want, fields), blankLoneSynWin(got, fields)
			if len(want) < 40000 {
				t.Fatalf("argus wrote %d records, expected a generated capture's tens of thousands", len(want))
			}
			diff := 0
			for i := 0; i < max(len(want), len(got)); i++ {
				var w, g string
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				if w != g {
					if diff < 5 {
						t.Errorf("line %d:\nargus: %s\nours:  %s", i, w, g)
					}
					diff++
				}
			}
			t.Logf("%s: %d records, %d lines differ (%d fields each)", v.name, len(want), diff, len(fields))
		})
	}
}

// raLines prints a file's flow records with Debian ra, sorted. The lines
// are compared whole (user data may hold the delimiter).
func raLines(t *testing.T, file string, fields []string) []string {
	t.Helper()
	args := append([]string{"-X", "-n", "-u", "-c", ",", "-r", file, "-s"}, fields...)
	cmd := exec.Command("ra", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ra %s: %v\n%s", file, err, stderr.Bytes())
	}
	var lines []string
	for i, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if f := strings.SplitN(l, ",", 6); i > 0 && len(f) > 5 && strings.TrimSpace(f[4]) != "man" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// blankLoneSynWin empties swin in the lines of one-packet REQ records.
func blankLoneSynWin(lines, fields []string) []string {
	pk, st, sw := slices.Index(fields, "pkts"), slices.Index(fields, "state"), slices.Index(fields, "swin")
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",")
		if max(pk, st, sw) < len(f) && strings.TrimSpace(f[pk]) == "1" && strings.TrimSpace(f[st]) == "REQ" {
			f[sw] = ""
		}
		out[i] = strings.Join(f, ",")
	}
	slices.Sort(out)
	return out
}
