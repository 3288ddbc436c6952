package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

func TestParseMonitorID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  flow.SrcIDType
		id   []byte
		inf  string
		fail bool
	}{
		{in: "1234", typ: flow.SrcIDInt, id: []byte{0, 0, 4, 0xd2}},
		{in: "192.168.7.9", typ: flow.SrcIDIPv4, id: []byte{192, 168, 7, 9}},
		{in: "192.168.7.9/en0", typ: flow.SrcIDIPv4, id: []byte{192, 168, 7, 9}, inf: "en0"},
		{in: `"abcd"`, typ: flow.SrcIDString, id: []byte("abcd")},
		{in: "2001:db8::99", typ: flow.SrcIDIPv6, id: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99}},
		{in: "00112233-4455-6677-8899-aabbccddeeff/eth0", typ: flow.SrcIDUUID,
			id: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, inf: "eth0"},
		{in: "int:/77", typ: flow.SrcIDInt, id: []byte{0, 0, 0, 77}},
		{in: `"abcdef"`, fail: true},
		{in: "not-an-id", fail: true},
		{in: "1.2.3.4/toolong", fail: true},
	} {
		got, err := parseMonitorID(tc.in)
		if (err != nil) != tc.fail {
			t.Errorf("%q: err = %v", tc.in, err)
			continue
		}
		if tc.fail {
			continue
		}
		inf := string(bytes.TrimRight(got.Inf[:], "\x00"))
		if got.Type != tc.typ || !bytes.Equal(got.ID[:len(tc.id)], tc.id) || inf != tc.inf || got.HasInf != (tc.inf != "") {
			t.Errorf("%q: got %+v", tc.in, got)
		}
	}
}

func TestParseSensorArgs(t *testing.T) {
	a, err := parseSensorArgs([]string{"-X", "-r", "a.pcap", "b.pcap", "-w", "-", "-3", "-mAJRZ", "-U", "32", "-S", "2", "-e", "1.2.3.4", "-N", "10"})
	if err != nil {
		t.Fatal(err)
	}
	c := a.conf
	if len(a.files) != 2 || a.write != "-" || !a.v3 || !c.MAC || !c.AppBytes || !c.Jitter || !c.ResponseTime || !c.PacketSize ||
		c.CaptureDataLen != 32 || c.FlowStatus != 2*time.Second || c.MonitorID != "1.2.3.4" || a.rng != "10" {
		t.Errorf("got %+v", a)
	}
	for _, bad := range [][]string{{"-r"}, {"-r", "x", "-i", "eth0"}, {"-Q"}, {"-S", "soon"}} { // ("tcp" alone is a filter: TestParseSensorFilter)
		if _, err := parseSensorArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSensorTCPHandshake runs the sensor on a corpus capture and checks
// the record Debian's ra prints for it against what ra prints for Debian
// argus's own output of the same capture.
func TestSensorTCPHandshake(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs generated/pcaps/tcp_handshake.pcap")
	}
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("Debian's ra (argus-client) is not installed")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "f.argus")
	a, err := parseSensorArgs([]string{"-r", filepath.Join(c, "generated", "pcaps", "tcp_handshake.pcap"), "-w", out, "-3", "-m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := runSensor(a, nil, os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
	print := func(f string) []byte {
		cmd := exec.Command(ra, "-X", "-n", "-u", "-c", ",", "-s", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport",
			"spkts", "dpkts", "sbytes", "dbytes", "state", "sttl", "dttl", "smac", "dmac", "stcpb", "dtcpb", "-r", f)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("ra %s: %v", f, err)
		}
		return b
	}
	want := print(filepath.Join(c, "argus", "oracle", "generated_tcp_handshake", "v3full.argus"))
	if got := print(out); !bytes.Equal(got, want) {
		t.Errorf("flowgate sensor:\n%s\nargus 3.0.8.2:\n%s", got, want)
	}
}
