package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/gateway/config"
)

// syncBuf is a bytes.Buffer safe for the daemon's sink goroutine and the
// test to share.
type syncBuf struct {
	ch chan struct{}
	b  bytes.Buffer
}

func newSyncBuf() *syncBuf { s := &syncBuf{ch: make(chan struct{}, 1)}; s.ch <- struct{}{}; return s }
func (s *syncBuf) Write(p []byte) (int, error) {
	<-s.ch
	defer func() { s.ch <- struct{}{} }()
	return s.b.Write(p)
}
func (s *syncBuf) String() string {
	<-s.ch
	defer func() { s.ch <- struct{}{} }()
	return s.b.String()
}

// TestGatewayDefault runs what `make run` runs, the embedded default
// config, in a temporary directory: it listens on UDP 2055 and 4739 and
// TCP 561, takes IPFIX from `flowgate convert`, writes JSON lines to
// stdout and Argus v5 under ./data, with the same record count. SIGTERM's drain is what ends it (the context here).
func TestGatewayDefault(t *testing.T) {
	corpus := os.Getenv("FLOWGATE_CORPUS")
	if corpus == "" {
		t.Skip("FLOWGATE_CORPUS not set: no corpus Argus file to send")
	}
	in := filepath.Join(corpus, "argus/openargus-clients/baseline.2024.01.25.out")
	t.Chdir(t.TempDir())
	c, err := config.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	c.Metrics = "127.0.0.1:0"
	stdout, stderr := newSyncBuf(), newSyncBuf()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runGateway(ctx, c, "", 0, stdout, stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "running") {
		select {
		case err := <-done:
			if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
				if os.Getenv("CI") == "true" {
					t.Fatalf("the default ports are not free in CI: %v", err)
				}
				t.Skipf("default ports not available here: %v", err)
			}
			t.Fatalf("gateway ended: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not running after 10 s:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, w := range []string{"nf+udp udp [::]:2055", "ipfix+udp udp [::]:4739", "argus+tcp tcp [::]:561", "metrics on http://127.0.0.1:"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("listeners printed lack %q:\n%s", w, stderr)
		}
	}
	// The corpus file's IP flows as IPFIX (its MARs and ARP flows have no
	// IPFIX form: --lossy counts them), paced so no datagram is lost.
	rep, err := convert(t, in, "ipfix+udp://127.0.0.1:4739?rate=50000", convertOpts{lossy: true})
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, rep)
	}
	var sent int
	for _, l := range strings.Split(rep, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "records" && f[1] == "sent" {
			sent, _ = strconv.Atoi(f[2])
		}
	}
	if sent == 0 {
		t.Fatalf("no count of records sent in convert's report:\n%s", rep)
	}
	for time.Now().Before(deadline.Add(20*time.Second)) && strings.Count(stdout.String(), "\n") < sent {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != sent {
		t.Errorf("JSON lines on stdout: %d, want the %d records sent", n, sent)
	}
	files, _ := filepath.Glob("data/flowgate.*.argus")
	if len(files) == 0 {
		t.Fatalf("no Argus file under data/ (stderr:\n%s)", stderr)
	}
	// Debian's ra 3.0.8.2 reads no Argus 5: count with ours (its output
	// is held to ra 5's by the ra tests).
	var out bytes.Buffer
	a, err := parseRaArgs(append(append([]string{"-n", "-s", "stime", "-r"}, files...), "-", "not", "man"))
	if err != nil {
		t.Fatal(err)
	}
	if err := runRa(a, nil, &out); err != nil {
		t.Fatalf("flowgate ra: %v", err)
	}
	// Less ra's column title line.
	if n := strings.Count(out.String(), "\n") - 1; n != sent {
		t.Errorf("flowgate ra prints %d records from %v, want %d", n, files, sent)
	}
	t.Logf("%d records: IPFIX in, %d JSON lines out, %d records in %v by flowgate ra", sent, strings.Count(stdout.String(), "\n"), strings.Count(out.String(), "\n")-1, files)
}
