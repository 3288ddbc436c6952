package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/capture"
)

func TestParseSensorLongOptions(t *testing.T) {
	a, err := parseSensorArgs([]string{"-r", "a.pcap", "--shards", "3", "-w", "-", "--metrics=:9102", "-M", "10"})
	if err != nil {
		t.Fatal(err)
	}
	if a.shards != 3 || a.metrics != ":9102" || len(a.files) != 1 || a.write != "-" || a.conf.MarStatus.Seconds() != 10 {
		t.Errorf("got %+v", a)
	}
	for in, want := range map[string]int64{"512M": 512 << 20, "2G": 2 << 30, "64KiB": 64 << 10, "1048576": 1 << 20, "3mb": 3 << 20} {
		a, err := parseSensorArgs([]string{"--max-memory", in})
		if err != nil || a.maxMem != want {
			t.Errorf("--max-memory %s: %d, %v; want %d", in, a.maxMem, err, want)
		}
	}
	for _, bad := range [][]string{{"--shards", "0"}, {"--shards", "x"}, {"--shards"}, {"--metrics", "nocolon"}, {"--frobnicate", "1"},
		{"--max-memory", "0"}, {"--max-memory", "12Q"}, {"--max-memory", "-5M"}, {"--max-memory", "99999999999T"}} {
		if _, err := parseSensorArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSensorShardsEndToEnd: `flowgate sensor --shards 2` writes the
// records `--shards 1` writes (as Debian's ra prints them, sorted: seq
// aside, each shard numbers its own flows) on a corpus capture with TCP,
// DNS and ICMP.
func TestSensorShardsEndToEnd(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("Debian's ra (argus-client) is not installed")
	}
	pcap := filepath.Join(c, "traffic", "slips", "test7-malicious.pcap")
	dir := t.TempDir()
	print := func(shards string) []string {
		out := filepath.Join(dir, shards+".argus")
		a, err := parseSensorArgs([]string{"-r", pcap, "-w", out, "-3", "-m", "-A", "-J", "-R", "-Z", "--shards", shards})
		if err != nil {
			t.Fatal(err)
		}
		if err := runSensor(a, nil, io.Discard, os.Stderr); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ra, "-X", "-n", "-u", "-c", ",", "-r", out, "-s", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport",
			"spkts", "dpkts", "sbytes", "dbytes", "state", "sttl", "dttl", "smac", "dmac", "stcpb", "dtcpb", "synack", "ackdat", "sjit", "djit", "smaxsz", "dminsz", "sappbytes")
		cmd.Env = append(os.Environ(), "TZ=UTC")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("ra %s: %v", out, err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		sort.Strings(lines)
		return lines
	}
	one, two := print("1"), print("2")
	if len(one) < 100 {
		t.Fatalf("%d lines", len(one))
	}
	if strings.Join(one, "\n") != strings.Join(two, "\n") {
		t.Errorf("1 shard: %d lines, 2 shards: %d lines, not the same", len(one), len(two))
	}
}

// TestSensorMetrics: /metrics shows the sensor's counters: the frames
// tshark counts in the capture, the records Debian's ra reads from the
// sensor's output, and the table gauges.
func TestSensorMetrics(t *testing.T) {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set")
	}
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("Debian's ra (argus-client) is not installed")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed")
	}
	pcap := filepath.Join(c, "traffic", "slips", "test7-malicious.pcap")
	out := filepath.Join(t.TempDir(), "m.argus")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w, err := argus.NewWriter(bw, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := sensor.New(sensor.Options{Argus3: true, Shards: 2}, func(r *flow.Record) {
		if err := w.Encode(r); err != nil {
			t.Error(err)
		}
	})
	addr, stop, err := serveMetrics("127.0.0.1:0", s, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	b := capture.Batch(src)
	fs := make([]capture.Frame, 64)
	for {
		n, err := b.ReadFrames(fs)
		if err != nil {
			break
		}
		s.Frames(fs[:n])
	}
	src.Close()
	// Mid-run: the flows are in the tables, once the shards (which take
	// the frames on their own goroutines) have published their batches.
	mid := scrape(t, addr)
	for i := 0; i < 100 && mid["flowgate_sensor_active_flows"] <= 0; i++ {
		time.Sleep(20 * time.Millisecond)
		mid = scrape(t, addr)
	}
	if mid["flowgate_sensor_active_flows"] <= 0 || mid["flowgate_sensor_table_memory_bytes"] <= 0 || mid["flowgate_sensor_shards"] != 2 {
		t.Errorf("mid-run gauges: %v", mid)
	}
	s.Close()
	w.Close()
	bw.Flush()
	f.Close()
	got := scrape(t, addr)

	tb, err := exec.Command(tshark, "-r", pcap, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatal(err)
	}
	frames := float64(strings.Count(string(tb), "\n"))
	cmd := exec.Command(ra, "-X", "-n", "-r", out, "-s", "proto", "-", "not", "man")
	rb, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	records := float64(strings.Count(string(rb), "\n") - 1) // header
	for name, want := range map[string]float64{
		"flowgate_sensor_packets_total":                               frames,
		"flowgate_sensor_records_total":                               records,
		"flowgate_sensor_active_flows":                                0,
		`flowgate_sensor_dropped_packets_total{by="kernel"}`:          0,
		`flowgate_sensor_dropped_packets_total{by="sensor"}`:          0,
		"flowgate_sensor_flows_forced_expired_total":                  0,
		`flowgate_sensor_undecoded_packets_total{reason="truncated"}`: 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if got["flowgate_sensor_flows_created_total"] < records/2 || got["flowgate_sensor_bytes_total"] < frames*40 {
		t.Errorf("metrics %v", got)
	}
}

// scrape reads /metrics into name{labels} -> value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", l)
		}
		m[l[:i]] = v
	}
	return m
}
