package gateway

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// collector gathers copies of what a listener hands over.
type collector struct {
	mu   sync.Mutex
	recs []flow.Record
}

func (c *collector) handle(recs []flow.Record) error {
	c.mu.Lock()
	for i := range recs {
		r := recs[i]
		r.Detach()
		c.recs = append(c.recs, r)
	}
	c.mu.Unlock()
	return nil
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

// serveUntil runs l until cond holds or the time is up, then stops it.
func serveUntil(t testing.TB, l *UDPListener, h Handler, send func(), cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, h) }()
	send()
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func dialUDP(t testing.TB, to string, n int) []*net.UDPConn {
	var cs []*net.UDPConn
	for i := 0; i < n; i++ {
		c, err := net.Dial("udp", to)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c.(*net.UDPConn))
	}
	return cs
}

// TestUDPListenerCorpus sends every flowbeat vendor payload from several
// exporters (source ports) to a two-socket listener and checks that each
// arrives whole, from its sender, once, and that an exporter's datagrams
// all reach the same decoders (SO_REUSEPORT's 4-tuple hash).
func TestUDPListenerCorpus(t *testing.T) {
	dats := corpusDat(t)
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2, Batch: 8}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if asked, got := l.Granted(); got < asked {
		t.Logf("receive buffer: asked %d, granted %d", asked, got)
	}
	senders := dialUDP(t, l.Addr().String(), 8)
	var c collector
	var want []flow.Record
	fake := newFakeDecoders()
	sent := 0
	serveUntil(t, l, c.handle, func() {
		for round := 0; round < 3; round++ {
			for i, b := range dats {
				s := senders[(i+round)%len(senders)]
				if _, err := s.Write(b); err != nil {
					t.Fatal(err)
				}
				from := s.LocalAddr().(*net.UDPAddr).AddrPort()
				want, _ = fake.Decode(b, from, want)
				sent++
			}
		}
	}, func() bool { return l.Stats().Messages == uint64(sent) })

	st := l.Stats()
	if st.Messages != uint64(sent) || st.KernelDrops != 0 {
		t.Fatalf("received %d of %d datagrams, kernel drops %d", st.Messages, sent, st.KernelDrops)
	}
	got := fakeKeys(c.recs)
	exp := fakeKeys(want)
	if len(got) != len(exp) {
		t.Fatalf("%d records, want %d (decode errors %d: %v)", len(got), len(exp), st.Errors, st.Samples)
	}
	for i := range got {
		if got[i] != exp[i] {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], exp[i])
		}
	}
	// The flowbeat set has messages of all three versions; some are
	// invalid on purpose, but the fake decoder takes any version 5/9/10.
	if st.V5 == 0 || st.V9 == 0 || st.IPFIX == 0 || st.V5+st.V9+st.IPFIX != st.Messages {
		t.Errorf("per-version counts v5 %d v9 %d ipfix %d of %d", st.V5, st.V9, st.IPFIX, st.Messages)
	}
	decoderOf := map[string]uint32{}
	for _, r := range c.recs {
		k := r.Exporter.String()
		if id, ok := decoderOf[k]; ok && id != r.ExportSeq {
			t.Errorf("exporter %s reached two decoder sets (%d, %d)", k, id, r.ExportSeq)
		}
		decoderOf[k] = r.ExportSeq
	}
	if multiSocket && len(st.PerSocketMsg) != 2 {
		t.Errorf("%d sockets, want 2", len(st.PerSocketMsg))
	}
	t.Logf("per socket %v, rcvbuf %d/%d", st.PerSocketMsg, st.RcvBuf, st.RcvBufAsked)
}

// TestUDPListenerErrors: undecodable datagrams are counted per exporter
// and reason, and the listener keeps going.
func TestUDPListenerErrors(t *testing.T) {
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 2)
	var c collector
	msgs := [][]byte{{0, 7, 1, 2}, {0}, {0, 10, 0xde, 0xad}, {0, 9, 0, 0}, {}, {0, 5, 0, 0}}
	serveUntil(t, l, c.handle, func() {
		for i, m := range msgs {
			s[i%2].Write(m)
		}
	}, func() bool { return l.Stats().Messages == uint64(len(msgs)) })
	st := l.Stats()
	if st.Messages != 6 || st.Records != 2 || st.Errors != 4 || c.len() != 2 {
		t.Fatalf("messages %d records %d errors %d handed %d", st.Messages, st.Records, st.Errors, c.len())
	}
	a0 := s[0].LocalAddr().(*net.UDPAddr).AddrPort()
	a1 := s[1].LocalAddr().(*net.UDPAddr).AddrPort()
	want := map[ErrorKey]uint64{
		{a0, "version"}: 1, {a1, "truncated"}: 1, {a0, "corrupt"}: 1, {a0, "truncated"}: 1, // the empty datagram
	}
	if len(st.ErrorRows) != len(want) {
		t.Errorf("error rows %v, want %v", st.ErrorRows, want)
	}
	for _, r := range st.ErrorRows {
		if want[r.ErrorKey] != r.N {
			t.Errorf("error row %v: %d, want %d", r.ErrorKey, r.N, want[r.ErrorKey])
		}
	}
}

// TestUDPListenerStopsOnHandlerError: a failing sink stops every worker.
func TestUDPListenerStopsOnHandlerError(t *testing.T) {
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		done <- l.Serve(ctx, func([]flow.Record) error { return errSinkFull })
	}()
	for i := 0; i < 100; i++ {
		s[0].Write([]byte{0, 5, 0, 0})
		select {
		case err := <-done:
			if err != errSinkFull {
				t.Fatalf("Serve = %v, want the handler's error", err)
			}
			if ctx.Err() != nil {
				t.Fatal("stopped by the timeout, not by the handler")
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("Serve did not stop")
}

var errSinkFull = &net.OpError{Op: "write", Err: net.ErrClosed}

// TestUDPListenerAllocs: receiving and decoding allocates nothing per
// datagram (the fake decoder allocates nothing once its slice has grown).
func TestUDPListenerAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("network; the race detector allocates")
	}
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1, Batch: 32}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 1)[0]
	msg := make([]byte, 1400)
	msg[1] = 10
	var got int
	count := func(recs []flow.Record) error { got += len(recs); return nil }
	const n = 20000
	var before, after runtime.MemStats
	var recv uint64
	serveUntil(t, l, count, func() {
		for i := 0; i < 200; i++ { // warm up: slices reach their size
			s.Write(msg)
		}
		waitMessages(l, 200)
		runtime.ReadMemStats(&before)
		base := l.Messages()
		for i := 0; i < n; i++ {
			s.Write(msg)
			if i%512 == 511 {
				time.Sleep(time.Millisecond) // stay under the receive buffer
			}
		}
		waitMessages(l, base+n)
		runtime.ReadMemStats(&after)
		recv = l.Messages() - base
	}, func() bool { return true })
	per := float64(after.Mallocs-before.Mallocs) / float64(recv)
	t.Logf("%d datagrams, %d mallocs in the process (%.4f per datagram)", recv, after.Mallocs-before.Mallocs, per)
	if recv < n/2 {
		t.Fatalf("only %d of %d datagrams arrived", recv, n)
	}
	// The sender, the test's polling and the runtime allocate a little;
	// one allocation per datagram would be 1.0.
	if per > 0.05 {
		t.Errorf("%.3f allocations per datagram", per)
	}
}

// BenchmarkUDPReceive: datagrams of 1,400 bytes over loopback into a
// one-socket listener with the fake decoder; the sender runs beside it,
// paced to stay under the receive buffer.
func BenchmarkUDPReceive(b *testing.B) {
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1}, newFakeDecoders)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(b, l.Addr().String(), 1)[0]
	msg := make([]byte, 1400)
	msg[1] = 10
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	serveUntil(b, l, func([]flow.Record) error { return nil }, func() {
		for i := 0; i < b.N; i++ {
			s.Write(msg)
			if i%128 == 127 {
				// Stay under the receive buffer: this measures the
				// receive path, not the kernel's drops.
				for d := time.Now().Add(time.Second); l.Messages()+1024 < uint64(i) && time.Now().Before(d); {
					time.Sleep(20 * time.Microsecond)
				}
			}
		}
		waitMessages(l, uint64(b.N))
	}, func() bool { return true })
	st := l.Stats()
	b.ReportMetric(float64(st.Messages)/b.Elapsed().Seconds(), "datagrams/s")
	b.ReportMetric(float64(st.KernelDrops), "drops")
}

// TestUDPListenerKernelDrops: with a tiny receive buffer and a stalled
// sink the kernel drops datagrams, and every one is accounted for:
// received + dropped = sent.
func TestUDPListenerKernelDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kernel drop counters are Linux-only")
	}
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1, RcvBuf: 4096}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 1)[0]
	msg := make([]byte, 512)
	msg[1] = 5
	release := make(chan struct{})
	first := true
	stall := func([]flow.Record) error {
		if first {
			first = false
			<-release
		}
		return nil
	}
	const n = 500
	serveUntil(t, l, stall, func() {
		s.Write(msg)
		waitMessages(l, 1)
		for i := 1; i < n; i++ {
			s.Write(msg)
		}
		close(release)
	}, func() bool { st := l.Stats(); return st.Messages+st.KernelDrops >= n })
	st := l.Stats()
	t.Logf("received %d, kernel drops %d, rcvbuf granted %d", st.Messages, st.KernelDrops, st.RcvBuf)
	if st.KernelDrops == 0 || st.Messages+st.KernelDrops != n {
		t.Errorf("received %d + dropped %d, want %d in all with some dropped", st.Messages, st.KernelDrops, n)
	}
}

// TestBatchBound: however many records a batch of datagrams decodes to,
// the handler gets at most maxBatchRecords at a time (plus one message's).
func TestBatchBound(t *testing.T) {
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1, Batch: 64}, func() Decoders {
		d := &manyDecoder{per: 1000}
		return Decoders{V5: d, V9: d, IPFIX: d}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 1)[0]
	var largest, total int
	h := func(r []flow.Record) error {
		largest = max(largest, len(r))
		total += len(r)
		return nil
	}
	release := make(chan struct{})
	first := true
	serveUntil(t, l, func(r []flow.Record) error {
		if first {
			first = false
			<-release // let datagrams queue so that one recvmmsg takes many
		}
		return h(r)
	}, func() {
		s.Write([]byte{0, 10})
		waitMessages(l, 1)
		for i := 0; i < 60; i++ {
			s.Write([]byte{0, 10})
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
	}, func() bool { return l.Messages() == 61 })
	if total != 61000 || largest > maxBatchRecords+1000 || largest < 2000 {
		t.Errorf("records %d, largest batch %d (bound %d)", total, largest, maxBatchRecords)
	}
}

// manyDecoder makes per records of every message.
type manyDecoder struct{ per int }

func (d *manyDecoder) DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	for i := 0; i < d.per; i++ {
		dst = append(dst, flow.Record{Exporter: from})
	}
	return dst, nil
}

// TestUDPListenerDualStack: on a wildcard address an IPv4 exporter is seen
// as its IPv4 address (not v4-mapped IPv6), and IPv6 exporters as IPv6,
// so that template scopes and reports name exporters one way.
func TestUDPListenerDualStack(t *testing.T) {
	l, err := ListenUDP(":0", Options{Workers: 2}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(int(l.Addr().Port()))
	var c collector
	var want []netip.AddrPort
	serveUntil(t, l, c.handle, func() {
		for _, to := range []string{"127.0.0.1:" + port, "[::1]:" + port} {
			conn, err := net.Dial("udp", to)
			if err != nil {
				t.Skipf("%s: %v", to, err)
			}
			defer conn.Close()
			conn.Write([]byte{0, 5, 0, 0})
			want = append(want, conn.LocalAddr().(*net.UDPAddr).AddrPort())
		}
	}, func() bool { return c.len() == 2 })
	got := map[netip.AddrPort]bool{}
	for _, r := range c.recs {
		got[r.Exporter] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("exporter %s not seen as such: %v", w, got)
		}
	}
	if !want[0].Addr().Is4() {
		t.Errorf("dialled IPv4 from %s", want[0])
	}
}
