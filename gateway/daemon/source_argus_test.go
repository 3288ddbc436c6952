package daemon

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/serve"
)

var atBuild struct {
	once sync.Once
	path string
	err  error
}

// atFlowgate builds cmd/flowgate once per test binary.
func atFlowgate(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/flowgate")
	}
	atBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "flowgate-argus-test")
		if err != nil {
			atBuild.err = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		atBuild.path = filepath.Join(dir, "flowgate")
		cmd := exec.Command("go", "build", "-o", atBuild.path, "./cmd/flowgate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			atBuild.err = err
			t.Logf("%s", out)
		}
	})
	if atBuild.err != nil {
		t.Skipf("go build ./cmd/flowgate: %v", atBuild.err)
	}
	return atBuild.path
}

// atFreePort returns a loopback port free a moment ago.
func atFreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// An argus:// source reading `flowgate sensor -P PORT` gets the records
// that `flowgate sensor -w file` writes for the same capture. The sensor
// reads the capture from a pipe (-r -) that is filled only once the source
// has started, since records published before any client starts go to
// nobody.
func TestArgusSourceFlowgateSensor(t *testing.T) {
	bin := atFlowgate(t)
	for _, rel := range []string{"traffic/slips/test7-malicious.pcap", "traffic/tcpdump/dns_tcp.pcap"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			pcap := atCorpus(t, rel)
			dir := t.TempDir()
			ref := filepath.Join(dir, "ref.argus")
			if out, err := exec.Command(bin, "sensor", "-X", "-r", pcap, "-w", ref).CombinedOutput(); err != nil {
				t.Fatalf("flowgate sensor -w: %v\n%s", err, out)
			}
			want, _ := atRead(t, ref)

			port := atFreePort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*atTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "sensor", "-X", "-P", strconv.Itoa(port), "-r", "-")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Kill()
				<-exited
			}()

			addr := "127.0.0.1:" + strconv.Itoa(port)
			src, err := newArgusSourceOpts(atSourceCfg(addr), Env{Pipeline: "p"},
				serve.RemoteOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			em := &atEmitter{keep: true}
			rctx, rcancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Run(rctx, em) }()
			defer func() {
				rcancel()
				<-done
			}()
			atEventually(t, "the source's connection", func() bool { return src.Ready() == nil })
			// START is on its way; let the server take it before the
			// first record is published.
			time.Sleep(300 * time.Millisecond)
			data, err := os.ReadFile(pcap)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stdin.Write(data); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Fatalf("flowgate sensor -P: %v\n%s", err, stderr.String())
				}
			case <-time.After(atTimeout):
				t.Fatal("flowgate sensor -P did not exit")
			}
			// The sensor drained its client before exiting; the source
			// has seen the end of the stream.
			atEventually(t, "the end of the stream", func() bool { return src.Ready() != nil })
			got := em.snapshot()

			// The sensor emits its START MAR as a record: first in the
			// file, published after the server's own initial MAR (which
			// the source does not emit) on the stream. MARs carry the
			// wall clock: compared by count.
			var wantFlows, gotFlows []flow.Record
			wantMARs, gotMARs := 0, 0
			for _, r := range want {
				if r.Type == flow.TypeMgmt {
					wantMARs++
				} else {
					wantFlows = append(wantFlows, r)
				}
			}
			for _, r := range got {
				if r.Type == flow.TypeMgmt {
					gotMARs++
				} else {
					gotFlows = append(gotFlows, r)
				}
			}
			if len(gotFlows) != len(wantFlows) || gotMARs != wantMARs {
				t.Fatalf("got %d flows and %d MARs, the file has %d and %d", len(gotFlows), gotMARs, len(wantFlows), wantMARs)
			}
			for i := range gotFlows {
				if !bytes.Equal(atEncode(t, 5, &gotFlows[i]), atEncode(t, 5, &wantFlows[i])) {
					t.Fatalf("flow %d differs:\n got %+v\nwant %+v", i, gotFlows[i], wantFlows[i])
				}
			}
			st := src.Stats()
			if st.Records != uint64(len(got)) || len(st.Lost) != 0 {
				t.Errorf("stats %+v", st)
			}
			t.Logf("%d flows, %d MARs", len(gotFlows), gotMARs)
		})
	}
}

// A server that sends a truncated record: the source counts it as
// malformed with the peer as exporter, is not ready, and retries.
func TestArgusSourceMalformed(t *testing.T) {
	path := atCorpus(t, "argus/oracle/generated_tcp_handshake/v5.argus")
	recs, _ := atRead(t, path)
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A fake server: the file's MAR (argus 5.0.3's), a record, then the
	// record again cut short.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mar := file[:128]
	rec := atEncode(t, 5, &recs[1])
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write(mar)
				var cmd [64]byte
				c.Read(cmd[:])
				c.Write(rec)
				c.Write(rec[:len(rec)-4])
			}()
		}
	}()
	src, _ := newArgusSourceOpts(atSourceCfg(ln.Addr().String()), Env{},
		serve.RemoteOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	em := &atEmitter{keep: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, em) }()
	atEventually(t, "three malformed", func() bool {
		st := src.Stats()
		return len(st.Lost) == 1 && st.Lost[0].N >= 3
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	st := src.Stats()
	l := st.Lost[0]
	if l.Reason != ReasonMalformed || l.Exporter != "127.0.0.1" || l.Unit != "records" || l.Detail == "" {
		t.Errorf("loss %+v", l)
	}
	if st.Records < l.N-1 || src.Ready() == nil {
		t.Errorf("stats %+v, ready %v", st, src.Ready())
	}
	for _, r := range em.snapshot() {
		if r.Key != recs[1].Key {
			t.Fatalf("emitted a record that was not sent: %+v", r.Key)
		}
	}
	t.Logf("%s", l.Detail)
}
