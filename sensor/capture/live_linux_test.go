//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpDstPortFilter is "ip and udp dst port P and not a fragment" on
// Ethernet, in `tcpdump -ddd` format (read with ParseBPF).
func udpDstPortFilter(t *testing.T, port int) []BPFInstruction {
	src := fmt.Sprintf(`11
40 0 0 12
21 0 8 2048
48 0 0 23
21 0 6 17
40 0 0 20
69 4 0 8191
177 0 0 14
72 0 0 16
21 0 1 %d
6 0 0 262144
6 0 0 0
`, port)
	prog, err := ParseBPF(src)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// openLo opens the loopback interface with a filter for UDP to a port we
// listen on (so no ICMP unreachable comes back), skipping without root or
// CAP_NET_RAW.
func openLo(t *testing.T, opts LiveOptions) (LiveSource, *net.UDPConn, *net.UDPConn) {
	t.Helper()
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.LocalAddr().(*net.UDPAddr).Port
	opts.Filter = udpDstPortFilter(t, port)
	src, err := OpenLive("lo", opts)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("live capture needs root or CAP_NET_RAW (uid %d): %v", os.Getuid(), err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	c, err := net.DialUDP("udp4", nil, ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return src, c, ln
}

func TestLiveLoopback(t *testing.T) {
	src, c, ln := openLo(t, LiveOptions{Promisc: true, SnapLen: 128, ReadTimeout: 200 * time.Millisecond})
	port := ln.LocalAddr().(*net.UDPAddr).Port
	const n = 5
	msg := []byte(strings.Repeat("flowgate capture test ", 14)) // 308 bytes
	before := time.Now()
	for range n {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	got := 0
	for got < n && time.Now().Before(deadline) {
		var f Frame
		err := src.ReadFrame(&f)
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
		if f.LinkType != LinkEthernet || f.Len != 14+20+8+len(msg) || len(f.Data) != 128 {
			t.Fatalf("frame %d: link %d len %d caplen %d; want link 1 len %d caplen 128", got, f.LinkType, f.Len, len(f.Data), 14+20+8+len(msg))
		}
		if p := int(binary.BigEndian.Uint16(f.Data[14+20+2:])); p != port {
			t.Fatalf("frame %d: UDP destination port %d, want %d (filter)", got, p, port)
		}
		if ts := time.Unix(0, f.TS); ts.Before(before.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Fatalf("frame %d: time %v, sent at %v", got, ts, before)
		}
	}
	if got != n {
		t.Fatalf("captured %d of %d datagrams in 5 s", got, n)
	}
	// Each datagram once: the outgoing copy on lo is not reported.
	var f Frame
	if err := src.ReadFrame(&f); !errors.Is(err, ErrTimeout) {
		t.Fatalf("after %d frames: got %v (len %d), want ErrTimeout", n, err, f.Len)
	}
	if recv, drop := src.Stats(); recv < n || drop != 0 {
		t.Fatalf("Stats: received %d dropped %d; want >= %d and 0", recv, drop, n)
	}
}

// TestLiveAllocs: reading a frame from the ring allocates nothing.
func TestLiveAllocs(t *testing.T) {
	src, c, _ := openLo(t, LiveOptions{ReadTimeout: 2 * time.Second})
	const n = 150
	for i := range n {
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var f Frame
	if err := src.ReadFrame(&f); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := src.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per live ReadFrame, want 0", allocs)
	}
	for i := range 2 * n {
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	bs := src.(BatchSource)
	fs := make([]Frame, 1)
	bs.ReadFrames(fs) // the arena is made on the first call
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := bs.ReadFrames(fs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per live ReadFrames, want 0", allocs)
	}
}

// TestLiveClose: Close ends a ReadFrame that waits with no deadline.
func TestLiveClose(t *testing.T) {
	src, _, _ := openLo(t, LiveOptions{})
	done := make(chan error, 1)
	go func() {
		var f Frame
		done <- src.ReadFrame(&f)
	}()
	time.Sleep(50 * time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ReadFrame after Close: no error")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ReadFrame still waiting 3 s after Close")
	}
}

func TestParseBPF(t *testing.T) {
	for _, bad := range []string{"", "2\n6 0 0 1\n", "1\n70000 0 0 1\n", "x"} {
		if _, err := ParseBPF(bad); err == nil {
			t.Errorf("ParseBPF(%q): no error", bad)
		}
	}
	p, err := ParseBPF("1,6 0 0 65535")
	if err != nil || len(p) != 1 || p[0] != (BPFInstruction{Op: 6, K: 65535}) {
		t.Fatalf("got %v, %v", p, err)
	}
}

// TestLiveBatch sends datagrams in bursts that the kernel puts in
// different ring blocks (it hands a block over after 10 ms), then reads
// them in one ReadFrames batch: every frame of the batch, in every block,
// must still hold its own datagram once the batch is read.
func TestLiveBatch(t *testing.T) {
	src, c, _ := openLo(t, LiveOptions{ReadTimeout: 500 * time.Millisecond})
	const bursts, per = 5, 40
	for i := range bursts * per {
		msg := fmt.Appendf(nil, "datagram %06d", i)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if i%per == per-1 {
			time.Sleep(30 * time.Millisecond)
		}
	}
	bs, ok := src.(BatchSource)
	if !ok {
		t.Fatalf("%T is not a BatchSource", src)
	}
	fs := make([]Frame, 1024)
	got, batches := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for got < bursts*per && time.Now().Before(deadline) {
		n, err := bs.ReadFrames(fs)
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		batches++
		for _, f := range fs[:n] {
			want := fmt.Sprintf("datagram %06d", got)
			if len(f.Data) != 14+20+8+len(want) || string(f.Data[14+20+8:]) != want {
				t.Fatalf("batch %d: frame %q, want the datagram %q", batches, f.Data[min(len(f.Data), 42):], want)
			}
			got++
		}
	}
	if got != bursts*per {
		t.Fatalf("captured %d of %d datagrams", got, bursts*per)
	}
	t.Logf("%d datagrams sent in %d bursts read in %d batches", got, bursts, batches)
	// ReadFrame after ReadFrames, and an idle link.
	var f Frame
	if err := src.ReadFrame(&f); !errors.Is(err, ErrTimeout) {
		t.Fatalf("after the batches: %v, want ErrTimeout", err)
	}
	if n, err := bs.ReadFrames(fs); n != 0 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("ReadFrames on an idle link: %d, %v; want ErrTimeout", n, err)
	}
}

// TestLiveDrops overflows a 2 MiB ring, read by nobody: Stats counts the
// frames the kernel dropped, and the frames it received are those we then
// read plus the dropped ones (each datagram passes lo twice, out and in,
// and the kernel counts both; we report the incoming copy only).
func TestLiveDrops(t *testing.T) {
	src, c, _ := openLo(t, LiveOptions{BufferSize: 2 << 20, ReadTimeout: 300 * time.Millisecond})
	const sent = 4000
	msg := make([]byte, 1400)
	for range sent {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	bs := src.(BatchSource)
	fs := make([]Frame, 256)
	read := 0
	for {
		n, err := bs.ReadFrames(fs)
		if errors.Is(err, ErrTimeout) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read += n
	}
	recv, drops := src.Stats()
	t.Logf("sent %d datagrams; read %d frames; kernel: received %d, dropped %d", sent, read, recv, drops)
	if drops == 0 || read == 0 || read >= sent {
		t.Fatalf("read %d of %d frames with %d drops: the 2 MiB ring did not overflow as it must", read, sent, drops)
	}
	// The filter takes both copies of each datagram; every frame the
	// kernel took is either in the ring (read by us, or the outgoing copy
	// we skip) or dropped.
	if recv != 2*sent || recv < uint64(read)+drops {
		t.Fatalf("received %d: want twice the datagrams sent (%d), at least read+dropped (%d)", recv, 2*sent, uint64(read)+drops)
	}
}
