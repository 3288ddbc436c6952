package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// countLines counts the lines of a file ("" missing: 0).
func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

func tcpCount(recs []flow.Record) int {
	n := 0
	for _, r := range recs {
		if r.Key.Proto == 6 {
			n++
		}
	}
	return n
}

// TestGatewaySIGHUP: a gateway process takes IPFIX over UDP while its
// config is rewritten and SIGHUP sent twice: a sink added, a filter and
// a dialect changed, then a config with an error (kept out). The sink
// that stays the same writes every record sent, none lost across the
// reloads, and the added sink gets what came after its reload.
func TestGatewaySIGHUP(t *testing.T) {
	var recs []flow.Record
	for _, r := range groupRecords(t, 8071) {
		if p := r.Key.Proto; r.Key.Kind == flow.Kind5Tuple && (p == 6 || p == 17) && r.Key.SrcPort != 0 {
			recs = append(recs, r)
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gw.yaml")
	write := func(extra string) {
		y := fmt.Sprintf("version: 1\nmetrics: 127.0.0.1:0\npipelines:\n  - name: p\n    sources: [ipfix+udp://127.0.0.1:%d]\n    sinks:\n      - json:%s/all.json\n%s", port, dir, extra)
		if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	gw, gerr := gatewayProc(t, cfg, dir)
	defer gw.Process.Kill()
	for !strings.Contains(gerr.String(), "running") {
		if gw.ProcessState != nil {
			t.Fatalf("gateway ended: %s", gerr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ep, _ := gateway.ParseEndpoint(fmt.Sprintf("ipfix+udp://127.0.0.1:%d", port))
	enc, err := newPacketEncoder(ep, false, &gateway.CodecConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := gateway.DialUDP(ep.Addr, gateway.Options{Strict: true, Rate: 50000}, enc)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	sendAll := func() {
		for i := 0; i < len(recs); i += 100 {
			if err := snd.Send(recs[i:min(i+100, len(recs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// settled waits until the sinks have written n records in all (the
	// gateway's /metrics), so that a reload's filter meets none of the
	// round before.
	settled := func(n int) {
		i := strings.Index(gerr.String(), "metrics on http://")
		if i < 0 {
			t.Fatalf("no metrics address:\n%s", gerr)
		}
		url := strings.Fields(gerr.String()[i+len("metrics on "):])[0]
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			resp, err := http.Get(url)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			total := 0
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "flowgate_sink_records_total{") {
					v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
					total += int(v)
				}
			}
			if total >= n {
				return
			}
		}
		t.Fatalf("sinks did not write %d records in 10 s", n)
	}
	hup := func(until string) {
		if err := gw.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(gerr.String(), until); {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP:\n%s", until, gerr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sendAll()
	settled(len(recs))
	// Reload 1: the same source and sink, plus a filtered ECS sink.
	write(fmt.Sprintf("      - {endpoint: 'json:%s/tcp.json', dialect: ecs}\n    filter: tcp\n", dir))
	hup("msg=reloaded")
	sendAll()
	settled(len(recs) + 2*tcpCount(recs))
	// Reload 2: a config with an error: the running one stays.
	os.WriteFile(cfg, []byte("version: 1\npipelines:\n  - name: p\n    sources: [ipfix+udp://127.0.0.1:1]\n    sinks: [nowhere:x]\n"), 0o644)
	hup("reload failed")
	sendAll()
	time.Sleep(500 * time.Millisecond)
	gw.Process.Signal(syscall.SIGTERM)
	if err := gw.Wait(); err != nil {
		t.Fatalf("gateway: %v\n%s", err, gerr)
	}
	sent := int(snd.Stats().Records)
	all := countLines(t, filepath.Join(dir, "all.json"))
	tcp := countLines(t, filepath.Join(dir, "tcp.json"))
	tcpSent := tcpCount(recs)
	t.Logf("sent %d records in 3 rounds around 2 SIGHUPs; all.json %d lines, tcp.json %d (of %d tcp a round)", sent, all, tcp, tcpSent)
	if !strings.Contains(gerr.String(), "msg=reloaded") || !strings.Contains(gerr.String(), "reload failed") {
		t.Errorf("stderr lacks the reload and the refused reload:\n%s", gerr)
	}
	// After reload 1 the filter keeps tcp only, in both sinks.
	if want := len(recs) + 2*tcpSent; all != want {
		t.Errorf("all.json has %d lines, want %d (a round unfiltered, two filtered)", all, want)
	}
	if tcp != 2*tcpSent {
		t.Errorf("tcp.json has %d lines, want %d (two rounds)", tcp, 2*tcpSent)
	}
}
