package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
			// A filter that passes everything: its OK shows the server
			// reading our commands, and START follows it at once.
			src, err := newArgusSourceOpts(atSourceCfg(addr), Env{Pipeline: "p"},
				serve.RemoteOptions{Filter: "man or not man", MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
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
			// first record is published (a loaded machine is slow).
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

// The real sensor: Debian's argus 3.0.8.2 capturing on lo serves its
// records on a port (-P); an argus:// source and `ra -S` read it at the
// same time. Datagrams sent from a known port show up in both as the
// same flow records (times, packets, bytes), and the status MARs (-M 1)
// arrive too. Needs root (argus captures on lo).
func TestArgusSourceRealArgus(t *testing.T) {
	if testing.Short() {
		t.Skip("a live capture")
	}
	for _, tool := range []string{"/usr/sbin/argus", "/usr/bin/ra"} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("argus -i lo needs root")
	}
	port := atFreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 3*atTimeout)
	defer cancel()
	var aerr bytes.Buffer
	argusCmd := exec.CommandContext(ctx, "argus", "-X", "-i", "lo", "-P", strconv.Itoa(port), "-S", "1", "-M", "1", "-w", "/dev/null")
	argusCmd.Stderr = &aerr
	if err := argusCmd.Start(); err != nil {
		t.Skipf("argus: %v", err)
	}
	defer func() {
		argusCmd.Process.Kill()
		argusCmd.Wait()
	}()
	atEventually(t, "argus listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	src, _ := newArgusSourceOpts(atSourceCfg(addr), Env{}, serve.RemoteOptions{MinBackoff: 50 * time.Millisecond})
	em := &atEmitter{keep: true}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx, em) }()
	defer func() {
		rcancel()
		<-done
	}()
	var raOut, raErr atSyncBuf
	raCmd := exec.CommandContext(ctx, "ra", "-X", "-S", addr, "-n", "-u", "-c", ",",
		"-s", "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts", "sbytes")
	raCmd.Stdout, raCmd.Stderr = &raOut, &raErr
	if err := raCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		raCmd.Process.Kill()
		raCmd.Wait()
	}()
	atEventually(t, "the source's connection", func() bool { return src.Ready() == nil })

	// Datagrams from one port to a socket that takes them (a closed port
	// would answer with ICMP, and the sender's next write would fail).
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dport := sink.LocalAddr().(*net.UDPAddr).Port
	// ra has started once it prints a probe flow: until then it would
	// miss records the source gets.
	probe, err := net.DialUDP("udp", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	probeKey := fmt.Sprintf(",udp,127.0.0.1,%d,127.0.0.1,%d,", probe.LocalAddr().(*net.UDPAddr).Port, dport)
	atEventually(t, "ra printing a probe flow", func() bool {
		probe.Write([]byte("probe"))
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(raOut.String(), probeKey)
	})
	probe.Close()
	// Loopback is busy in CI (other tests' brokers and listeners), and
	// argus's capture drops packets then: a batch whose flow neither
	// argus client ever sees is sent again from a new port, up to 3 times.
	const sent = 5
	var sport int
	var ours func() ([]string, uint64)
	var theirs func() []string
	for attempt := 1; ; attempt++ {
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: dport})
		if err != nil {
			t.Fatal(err)
		}
		sport = conn.LocalAddr().(*net.UDPAddr).Port
		for range sent {
			if _, err := conn.Write([]byte("flowgate argus interop")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		conn.Close()
		ours = func() (lines []string, pkts uint64) {
			for _, r := range em.snapshot() {
				if r.Type == flow.TypeMgmt || r.Key.Proto != 17 || int(r.Key.DstPort) != dport || int(r.Key.SrcPort) != sport {
					continue
				}
				lines = append(lines, fmt.Sprintf("%d.%06d,%d.%06d,udp,%s,%d,%s,%d,%d,%d",
					r.Start/1e9, r.Start%1e9/1e3, r.Last/1e9, r.Last%1e9/1e3, r.Key.Src, r.Key.SrcPort, r.Key.Dst, r.Key.DstPort, r.Pkts[0], r.Bytes[0]))
				pkts += r.Pkts[0]
			}
			return lines, pkts
		}
		theirs = func() []string {
			var lines []string
			for _, l := range strings.Split(raOut.String(), "\n") {
				if strings.Contains(l, fmt.Sprintf(",udp,127.0.0.1,%d,127.0.0.1,%d,", sport, dport)) {
					lines = append(lines, l)
				}
			}
			return lines
		}
		deadline := time.Now().Add(atTimeout)
		for {
			l, p := ours()
			if p >= sent && len(theirs()) >= len(l) {
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		l, p := ours()
		if p >= sent && len(theirs()) >= len(l) {
			break
		}
		if attempt == 3 || strings.Join(l, "\n") != strings.Join(theirs(), "\n") {
			// The two clients disagree, or 3 tries failed.
			t.Fatalf("no flow records of the datagrams (%d:%d -> %d) after %v: ours %q (of %d records), ra's %q; ra printed %d bytes, stderr %s",
				sport, dport, sent, atTimeout, l, len(em.snapshot()), theirs(), len(raOut.String()), raErr.String())
		}
		t.Logf("attempt %d: both argus clients saw %d of %d datagrams from port %d (argus dropped the rest); sending again", attempt, p, sent, sport)
	}
	got, pkts := ours()
	if pkts != sent {
		t.Errorf("%d packets in the flow records, sent %d", pkts, sent)
	}
	if want := theirs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("argus:// source:\n%s\nra -S:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	status := 0
	for _, r := range em.snapshot() {
		if r.Type == flow.TypeMgmt && r.Cause == flow.CauseStatus {
			status++
		}
	}
	st := src.Stats()
	if status == 0 || len(st.Lost) != 0 {
		t.Errorf("%d status MARs; stats %+v", status, st)
	}
	if rs := src.r.Stats(); rs.Version != 3 {
		t.Errorf("stream version %d, want 3", rs.Version)
	}
	t.Logf("%d records (%d status MARs); the datagrams' flow: %s", st.Records, status, strings.Join(got, " | "))
}
