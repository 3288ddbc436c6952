package conformance

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRaFlagsVsDebianRa runs Debian's ra 3.0.8.2 and flowgate ra with the
// same command lines (field editing, widths, precision, labels, record
// ranges, time ranges, delimiters, name levels, filters) on 3.x corpus
// files and requires byte-identical output and the same exit status.
func TestRaFlagsVsDebianRa(t *testing.T) {
	oracle := corpusDir(t, "argus", "oracle")
	ra := needTool(t, "ra")
	fg := flowgateBin(t)
	files := []string{
		"traffic_zeek-traces_http_get/v3.argus",
		"traffic_zeek-traces_communityid_icmp/v3full.argus",
		"generated_udp_dns/v3.argus",
		"traffic_tcpdump_dns_udp/v3.argus",
		"zeek-traces_ftp_ipv6/v3full.argus",
	}
	lines := [][]string{
		{},
		{"-n"},
		{"-nn"},
		{"-u"},
		{"-p", "0"},
		{"-p", "3"},
		{"-p", "9", "-s", "stime", "dur", "rate", "load"},
		{"-L", "-1"},
		{"-L", "2"},
		{"-c", ",", "-n"},
		{"-c", `\t`},
		{"-N", "2"},
		{"-N", "2-3"},
		{"-s", "stime", "dur", "+ltime", "-flgs"},
		{"-s", "+2srcid", "-s", "+sttl"},
		{"-s", "stime:8", "saddr:5", "dport:3", "pkts:2"},
		{"-s", "saddr", "daddr", "proto", "sport", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state", "-n", "-c", ";"},
		{"-n", "-", "tcp"},
		{"-n", "-", "udp", "and", "port", "53"},
		{"-n", "-", "not", "tcp", "and", "pkts", "gt", "1"},
		{"-n", "-", "icmp", "or", "src", "port", "21"},
		{"-n", "-M", "man"},
		{"-n", "-", "man"},
		{"-n", "-M", "man", "-", "man"},
		{"-n", "-M", "man", "-", "tcp"},
		{"-n", "-t", "2011/06/27"},
	}
	for _, f := range files {
		in := filepath.Join(oracle, f)
		if _, err := os.Stat(in); err != nil {
			t.Logf("skip %s: %v", f, err)
			continue
		}
		for _, l := range lines {
			args := append([]string{"-X", "-r", in}, l...)
			name := f + " " + strings.Join(l, " ")
			want, wantCode := runStatus(t, ra, args)
			got, gotCode := runStatus(t, fg, append([]string{"ra"}, args...))
			if l := lineWithMgmt(l); l {
				// management records carry the sensor's wall clock
				want, got = maskMgmtLines(want), maskMgmtLines(got)
			}
			if !bytes.Equal(want, got) || wantCode != gotCode {
				t.Errorf("%s:\nra (exit %d):\n%s\nflowgate (exit %d):\n%s", name, wantCode, clip(want, 600), gotCode, clip(got, 600))
			}
		}
	}
}

func runStatus(t *testing.T, prog string, args []string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", prog, err)
	}
	return out.Bytes(), code
}

func lineWithMgmt(l []string) bool {
	for _, w := range l {
		if w == "man" {
			return true
		}
	}
	return false
}

// maskMgmtLines blanks the lines of management records (state STA, CON
// for a MAR, STP) whose times are the sensor's wall clock: it keeps only
// their last column.
func maskMgmtLines(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte(" man ")) {
			f := bytes.Fields(l)
			l = append([]byte("MAR "), f[len(f)-1]...)
		}
		out = append(out, l)
	}
	return bytes.Join(out, []byte("\n"))
}
