package csv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/netflow9"
)

// lockedBuf is a process's output, read while it runs.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pacedConn sends each message as one datagram, a little apart, so that
// nfcapd's socket buffer never overflows.
type pacedConn struct{ net.Conn }

func (p pacedConn) Write(b []byte) (int, error) {
	n, err := p.Conn.Write(b)
	time.Sleep(200 * time.Microsecond)
	return n, err
}

// TestNfcapdMade: flow files made here, by sending the corpus flows as
// NetFlow v9 (our encoder: IPv4, IPv6, TCP, UDP, ICMP; biflows as two
// records) to Debian's nfcapd 1.7.1, print through nfdump -o csv to the
// same flows as through nfdump -o json, read by the jsonl nfdump dialect;
// and nfdump prints as many flows as the encoder sent.
func TestNfcapdMade(t *testing.T) {
	recs := corpusFlows(t)
	bin, err := exec.LookPath("nfcapd")
	if err != nil {
		t.Skip("nfcapd not installed")
	}
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	cmd := exec.Command(bin, "-w", dir, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600", "-B", "8388608")
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	log := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	for i := 0; i < 250 && !strings.Contains(log.String(), "Startup"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the log line may lead the bind
	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	enc := netflow9.NewEncoder(pacedConn{conn}, netflow9.WithLossyEncode())
	for i := range recs {
		enc.Encode(&recs[i])
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("nfcapd did not stop: %s", log)
	}
	p := nfdumpPair{name: "nfcapd files of the corpus flows", csv: tool(t, "nfdump", "-R", dir, "-o", "csv"), json: tool(t, "nfdump", "-R", dir, "-o", "json")}
	flows, values := compareNfdump(t, p)
	sent := enc.Stats().Records
	if uint64(flows) != sent || flows == 0 {
		t.Errorf("nfdump prints %d flows, the encoder sent %d", flows, sent)
	}
	t.Logf("%d flows nfcapd stored from %d corpus records: nfdump -o csv reads to its -o json (%d values)", flows, len(recs), values)
}
