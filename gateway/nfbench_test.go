package gateway

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/flow"
)

// ipfixDatagrams encodes n synthetic IPv4 TCP flows with codecs/ipfix
// (MTU 1400: 30 records a message, near the 28) and returns the
// messages; the first carries the template.
func ipfixDatagrams(t testing.TB, n int) [][]byte {
	enc := ipfix.NewEncoder(nil, ipfix.WithMTU(1400))
	recs := make([]flow.Record, n)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	for i := range recs {
		r := &recs[i]
		r.Type = flow.TypeFlow
		r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
		r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4,
			Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
			SrcPort: uint16(1024 + i%50000), DstPort: 443, Proto: 6}
		r.Start, r.Last = base+int64(i)*1e6, base+int64(i)*1e6+5e8
		r.Pkts[0], r.Bytes[0] = uint64(1+i%100), uint64(60*(1+i%100))
	}
	var out [][]byte
	for len(recs) > 0 {
		b, k, err := enc.AppendPacket(nil, recs)
		if err != nil || k == 0 {
			t.Fatalf("encode: %d, %v", k, err)
		}
		out = append(out, b)
		recs = recs[k:]
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUDPReceiveIPFIX: IPFIX datagrams of 28 records over loopback
// into a one-socket listener with the real decoders; ns/op and allocs/op
// are per datagram, the sender's work included. records/s is what reached
// the handler; cpu-ns/record counts the whole process (sender too).
func BenchmarkUDPReceiveIPFIX(b *testing.B) {
	msgs := ipfixDatagrams(b, 28*200)
	cs := NewCodecSet()
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1}, cs.New)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(b, l.Addr().String(), 1)[0]
	var recs atomic.Uint64
	h := func(r []flow.Record) error { recs.Add(uint64(len(r))); return nil }
	// The template first, then wait for it: no data before its template.
	s.Write(msgs[0])
	b.ReportAllocs()
	b.SetBytes(int64(len(msgs[1])))
	b.ResetTimer()
	cpu0 := cpuTime()
	serveUntil(b, l, h, func() {
		for i := 0; i < b.N; i++ {
			s.Write(msgs[1+i%(len(msgs)-1)])
			if i%128 == 127 {
				// Stay under the receive buffer: the benchmark measures
				// the receive path, not the kernel's drops.
				for d := time.Now().Add(time.Second); l.Messages()+512 < uint64(i) && time.Now().Before(d); {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
		waitMessages(l, uint64(b.N)+1)
	}, func() bool { return true })
	cpu := cpuTime() - cpu0
	st := l.Stats()
	b.ReportMetric(float64(recs.Load())/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(recs.Load(), 1)), "cpu-ns/record")
	b.ReportMetric(float64(st.KernelDrops), "drops")
	if st.Errors > 0 {
		b.Fatalf("decode errors: %v", st.Samples)
	}
}

// TestLoopbackOffered offers IPFIX at a fixed rate (records per second,
// about 30 per datagram) to a listener for a few seconds and reports what
// arrived and what the kernel dropped. It runs only when
// FLOWGATE_LOOPBACK_RATE is set (e.g. 500000), as a measurement:
//
//	FLOWGATE_LOOPBACK_RATE=500000 go test ./gateway -run LoopbackOffered -v
func TestLoopbackOffered(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("FLOWGATE_LOOPBACK_RATE"))
	if rate <= 0 {
		t.Skip("FLOWGATE_LOOPBACK_RATE not set")
	}
	secs := 3
	if s, _ := strconv.Atoi(os.Getenv("FLOWGATE_LOOPBACK_SECONDS")); s > 0 {
		secs = s
	}
	workers, _ := strconv.Atoi(os.Getenv("FLOWGATE_LOOPBACK_WORKERS"))
	msgs := ipfixDatagrams(t, 28*1000)
	cs := NewCodecSet()
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: workers}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Several exporters, so that SO_REUSEPORT spreads them.
	senders := dialUDP(t, l.Addr().String(), 8)
	var recs atomic.Uint64
	h := func(r []flow.Record) error { recs.Add(uint64(len(r))); return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, h) }()
	for _, s := range senders {
		s.Write(msgs[0]) // templates
	}
	time.Sleep(50 * time.Millisecond)
	recs.Store(0)
	base := l.Stats()
	perMsg := float64(28*1000) / float64(len(msgs)) // records per datagram, on average
	dgPerSec := int(float64(rate) / perMsg)
	total := dgPerSec * secs
	cpu0 := cpuTime()
	start := time.Now()
	sent := 0
	for sent < total {
		// Send what is due every 200 µs.
		due := int(time.Since(start).Seconds() * float64(dgPerSec))
		for ; sent < due && sent < total; sent++ {
			senders[sent%len(senders)].Write(msgs[1+sent%(len(msgs)-1)])
		}
		time.Sleep(200 * time.Microsecond)
	}
	elapsed := time.Since(start)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		st := l.Stats()
		if st.Messages+st.KernelDrops-base.Messages-base.KernelDrops >= uint64(total) {
			break
		}
	}
	cpu := cpuTime() - cpu0
	cancel()
	<-done
	st := l.Stats()
	got := st.Messages - base.Messages
	t.Logf("offered %d records/s for %v (%d datagrams of %.1f records, %d sockets): received %d datagrams, %d records (%.0f records/s), kernel drops %d; process CPU %v (%.2f cores, sender included)",
		int(float64(total)*perMsg)/secs, elapsed.Round(time.Millisecond), total, perMsg, st.Sockets, got, recs.Load(), float64(recs.Load())/elapsed.Seconds(), st.KernelDrops-base.KernelDrops, cpu.Round(time.Millisecond), cpu.Seconds()/elapsed.Seconds())
}

// TestUDPListenerAllocsIPFIX: with the real IPFIX decoder, receiving and
// decoding 28-record datagrams allocates (nearly) nothing per datagram.
func TestUDPListenerAllocsIPFIX(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("network; the race detector allocates")
	}
	msgs := ipfixDatagrams(t, 28*100)
	cs := NewCodecSet()
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1, Batch: 32}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := dialUDP(t, l.Addr().String(), 1)[0]
	var before, after runtime.MemStats
	var recv uint64
	const warm, n = 500, 20000
	serveUntil(t, l, func([]flow.Record) error { return nil }, func() {
		for i := 0; i < warm; i++ {
			s.Write(msgs[i%len(msgs)])
		}
		waitMessages(l, warm)
		runtime.ReadMemStats(&before)
		base := l.Messages()
		for i := 0; i < n; i++ {
			s.Write(msgs[1+i%(len(msgs)-1)])
			if i%256 == 255 {
				time.Sleep(time.Millisecond)
			}
		}
		waitMessages(l, base+n)
		runtime.ReadMemStats(&after)
		recv = l.Messages() - base
	}, func() bool { return true })
	per := float64(after.Mallocs-before.Mallocs) / float64(recv)
	t.Logf("%d datagrams (%d records each), %d mallocs, %d bytes in the process (%.4f mallocs, %.1f bytes per datagram)",
		recv, 28, after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc, per, float64(after.TotalAlloc-before.TotalAlloc)/float64(recv))
	if recv < n/2 {
		t.Fatalf("only %d of %d datagrams arrived", recv, n)
	}
	if per > 0.05 {
		t.Errorf("%.3f allocations per datagram", per)
	}
}

// waitMessages waits, without allocating, until l has received n
// datagrams or none came for 200 ms (the rest were dropped), at most 5 s.
func waitMessages(l *UDPListener, n uint64) {
	last, idle := l.Messages(), 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		m := l.Messages()
		if m >= n {
			return
		}
		if m == last {
			if idle++; idle >= 200 {
				return
			}
		} else {
			last, idle = m, 0
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkTCPReceiveIPFIX: one IPFIX session streaming 30-record
// messages over loopback into a TCP listener with the real decoders;
// ns/op and allocs/op are per message, the writer included.
func BenchmarkTCPReceiveIPFIX(b *testing.B) {
	msgs := ipfixDatagrams(b, 28*200)
	var stream []byte
	for _, m := range msgs[1:] {
		stream = append(stream, m...)
	}
	cs := NewCodecSet()
	l, err := ListenTCP("127.0.0.1:0", Options{}, cs.New)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var recs atomic.Uint64
	h := func(r []flow.Record) error { recs.Add(uint64(len(r))); return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, h) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c.Write(msgs[0]) // the template
	per := len(msgs) - 1
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / per))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i += per {
		n := min(per, b.N-i)
		end := 0
		for k := 0; k < n; k++ {
			end += len(msgs[1+k])
		}
		if _, err := c.Write(stream[:end]); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); l.c.Messages.Load() < uint64(b.N)+1 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	c.Close()
	cancel()
	<-done
	b.ReportMetric(float64(recs.Load())/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(recs.Load(), 1)), "cpu-ns/record")
	if st := l.Stats(); st.Errors > 0 || st.Messages != uint64(b.N)+1 {
		b.Fatalf("messages %d of %d, errors %v", st.Messages, b.N+1, st.Samples)
	}
}
