package conformance

// Driving the real NetFlow tools on loopback (ports above 30000, chosen per
// run): nfcapd 1.7.1 receiving and repeating (-R) what an exporter sends,
// nfdump printing it, softflowd 1.1.0 exporting corpus captures, tshark 4.0
// decoding a capture of the datagrams. docs: ../shared/docs/oracles.md.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freeUDPPort returns a loopback UDP port above 30000 that was free a moment
// ago (oracles.md: never the well-known ones).
func freeUDPPort(tb testing.TB) int {
	tb.Helper()
	for i := 0; i < 50; i++ {
		p := 30000 + int(time.Now().UnixNano()/1000%30000) + i
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			c.Close()
			return p
		}
	}
	tb.Fatal("no free UDP port above 30000")
	return 0
}

// udpSink collects every datagram sent to it.
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []udpPayload
	done chan struct{}
}

func newUDPSink(tb testing.TB) *udpSink {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	s := &udpSink{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, udpPayload{From: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), Time: time.Now(),
				Data: append([]byte(nil), buf[:n]...), Name: fmt.Sprintf("datagram %d", len(s.got)+1)})
			s.mu.Unlock()
		}
	}()
	tb.Cleanup(s.close)
	return s
}

func (s *udpSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *udpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// settle waits until no datagram arrived for quiet (at most max).
func (s *udpSink) settle(quiet, max time.Duration) []udpPayload {
	end := time.Now().Add(max)
	last, lastN := time.Now(), s.count()
	for time.Now().Before(end) {
		time.Sleep(quiet / 5)
		if n := s.count(); n != lastN {
			last, lastN = time.Now(), n
		} else if time.Since(last) >= quiet {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]udpPayload(nil), s.got...)
}

func (s *udpSink) close() {
	s.conn.Close()
	<-s.done
}

// nfcapd is a running Debian nfcapd writing into dir.
type nfcapd struct {
	cmd  *exec.Cmd
	dir  string
	port int
	log  *lockedBuf
}

// lockedBuf is an output buffer a process writes while the test reads it.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
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

// startNfcapd starts nfcapd on a free loopback port; repeat, when > 0, is a
// UDP port nfcapd copies every datagram to (-R), so our collector receives
// exactly what nfcapd did.
func startNfcapd(tb testing.TB, repeat int) *nfcapd {
	tb.Helper()
	bin := nfTool(tb, "nfcapd")
	dir := tb.TempDir()
	port := freeUDPPort(tb)
	args := []string{"-w", dir, "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3600", "-B", "8388608"}
	if repeat > 0 {
		args = append(args, "-R", fmt.Sprintf("127.0.0.1/%d", repeat))
	}
	n := &nfcapd{cmd: exec.Command(bin, args...), dir: dir, port: port, log: &lockedBuf{}}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	if err := n.cmd.Start(); err != nil {
		tb.Fatalf("nfcapd: %v", err)
	}
	tb.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			n.cmd.Process.Kill()
			n.cmd.Wait()
		}
	})
	// Ready once it says so (it has bound its socket by then); probing
	// the port with a bind of our own could take it from nfcapd.
	for i := 0; i < 250; i++ {
		if strings.Contains(n.log.String(), "Startup") {
			time.Sleep(50 * time.Millisecond) // the log line may lead the bind
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("nfcapd did not start on port %d: %s", port, n.log)
	return nil
}

// stop ends nfcapd by signal (it flushes and closes its file) and returns
// what nfdump prints of everything it stored, as JSON flows.
func (n *nfcapd) stop(tb testing.TB) []nfFlow {
	tb.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-done
		tb.Fatalf("nfcapd did not stop: %s", n.log)
	}
	nfdump := nfTool(tb, "nfdump")
	out := mustRun(tb, n.dir, nfdump, "-R", n.dir, "-o", "json")
	fs, err := parseNfdumpJSON(out)
	if err != nil {
		tb.Fatalf("%v\n%s", err, clip(out, 2000))
	}
	// The CSV printer must agree on everything it shows but times: they
	// have whole seconds there, which leaves flows of one key with equal
	// counters (repeated DNS queries) ambiguous to pair.
	csvOut := mustRun(tb, n.dir, nfdump, "-R", n.dir, "-o", "csv")
	cf, err := parseNfdumpCSV(csvOut)
	if err != nil {
		tb.Fatalf("%v\n%s", err, clip(csvOut, 2000))
	}
	if _, d := compareFlows(fs, cf, nfCompareOpts{Kind: "nfdump-csv-json", TimeTol: -1, NoRevFlags: true}); len(d) > 0 {
		tb.Errorf("nfdump -o csv and -o json disagree: %v", d)
	}
	return fs
}

// v5Flows decodes a NetFlow v5 datagram by its fixed layout (Cisco's v5
// format: 24-byte header, 48-byte records) with the RFC 3954 §8 uptime
// arithmetic: the reference side for v5.
func v5Flows(b []byte) ([]nfFlow, error) {
	if len(b) < 24 || binary.BigEndian.Uint16(b) != 5 {
		return nil, errors.New("not NetFlow v5")
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if 24+48*n > len(b) {
		return nil, fmt.Errorf("v5 count %d past the datagram (%d bytes)", n, len(b))
	}
	up := int64(binary.BigEndian.Uint32(b[4:]))
	now := int64(binary.BigEndian.Uint32(b[8:]))*1e9 + int64(binary.BigEndian.Uint32(b[12:]))
	var out []nfFlow
	for i := 0; i < n; i++ {
		r := b[24+48*i:]
		at := func(off int) int64 {
			return now - int64(uint32(up-int64(binary.BigEndian.Uint32(r[off:]))))*1e6
		}
		out = append(out, nfFlow{
			Src: netip.AddrFrom4([4]byte(r[0:4])), Dst: netip.AddrFrom4([4]byte(r[4:8])),
			Pkts: uint64(binary.BigEndian.Uint32(r[16:])), Bytes: uint64(binary.BigEndian.Uint32(r[20:])),
			Start: at(24), End: at(28),
			SrcPort: binary.BigEndian.Uint16(r[32:]), DstPort: binary.BigEndian.Uint16(r[34:]),
			Flags: r[37], Proto: r[38],
		})
	}
	return out, nil
}

// writeExportPcap writes datagrams as Ethernet/IPv4/UDP frames from their
// sender to 127.0.0.1:port in a classic pcap, for tshark.
func writeExportPcap(tb testing.TB, path string, dgs []udpPayload, port int) {
	tb.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, 1) // Ethernet
	for i, d := range dgs {
		src := d.From.Addr()
		if !src.Is4() {
			src = netip.MustParseAddr("127.0.0.1")
		}
		ipLen := 20 + 8 + len(d.Data)
		if ipLen > 65535 {
			tb.Fatalf("datagram %d too long", i)
		}
		f := make([]byte, 14, 14+ipLen)
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
		s4, d4 := src.As4(), [4]byte{127, 0, 0, 1}
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		f = append(f, ip...)
		udp := make([]byte, 8)
		binary.BigEndian.PutUint16(udp[0:], d.From.Port())
		binary.BigEndian.PutUint16(udp[2:], uint16(port))
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(d.Data)))
		f = append(append(f, udp...), d.Data...)
		ts := d.Time
		if ts.IsZero() {
			ts = time.Unix(1700000000+int64(i), 0)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()/1000))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// tsharkExports decodes datagrams with tshark as cflow and returns its
// packets (expert errors and flows).
func tsharkExports(tb testing.TB, dgs []udpPayload) []tsharkPacket {
	tb.Helper()
	bin := nfTool(tb, "tshark")
	dir := tb.TempDir()
	const port = 39999
	p := filepath.Join(dir, "exports.pcap")
	writeExportPcap(tb, p, dgs, port)
	out := mustRun(tb, dir, bin, "-r", p, "-d", fmt.Sprintf("udp.port==%d,cflow", port), "-T", "json", "-J", "cflow")
	pk, err := parseTsharkJSON(out)
	if err != nil {
		tb.Fatal(err)
	}
	if len(pk) != len(dgs) {
		tb.Errorf("tshark printed %d packets for %d datagrams", len(pk), len(dgs))
	}
	return pk
}

// softflowdRun has softflowd export a capture to port and waits for it.
func softflowdRun(tb testing.TB, pcap string, port int, args ...string) {
	tb.Helper()
	bin := nfTool(tb, "softflowd")
	// oracles.md: -c none (its control socket blocks -r forever), -a
	// (capture times, not uptime), -m so flows are not expired early.
	full := append([]string{"-d", "-a", "-c", "none", "-m", "262144"}, args...)
	full = append(full, "-r", pcap, "-n", fmt.Sprintf("127.0.0.1:%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = tb.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("softflowd %s: %v\n%s", strings.Join(full, " "), err, clip(out, 2000))
	}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
