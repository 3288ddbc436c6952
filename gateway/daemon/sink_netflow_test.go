package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// nfCollector is a gateway listener on loopback that keeps what it decodes.
type nfCollector struct {
	mu    sync.Mutex
	recs  []flow.Record
	stop  context.CancelFunc
	done  chan struct{}
	addr  string
	stats func() gateway.Stats
}

func (c *nfCollector) handle(recs []flow.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		r.Detach()
		c.recs = append(c.recs, r)
	}
	return nil
}

func (c *nfCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

// wait waits until the collector has n records or a second passes with
// none new.
func (c *nfCollector) wait(n int) []flow.Record {
	last, since := -1, time.Now()
	for {
		k := c.count()
		if k >= n || time.Since(since) > time.Second {
			break
		}
		if k != last {
			last, since = k, time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]flow.Record(nil), c.recs...)
}

func (c *nfCollector) close() {
	c.stop()
	<-c.done
}

func listenUDP(t testing.TB, f gateway.Format) *nfCollector {
	t.Helper()
	cs := gateway.NewCodecSet()
	l, err := gateway.ListenUDP("127.0.0.1:0", gateway.Options{Workers: 1}, func() gateway.Decoders { return cs.New().Only(f) })
	if err != nil {
		t.Fatal(err)
	}
	return nfServe(l.Serve, l.Addr().String(), l.Stats)
}

func listenTCP(t testing.TB, addr string) *nfCollector {
	t.Helper()
	cs := gateway.NewCodecSet()
	l, err := gateway.ListenTCP(addr, gateway.Options{}, cs.New)
	if err != nil {
		t.Fatal(err)
	}
	return nfServe(l.Serve, l.Addr().String(), l.Stats)
}

func nfServe(run func(context.Context, gateway.Handler) error, addr string, stats func() gateway.Stats) *nfCollector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &nfCollector{stop: cancel, done: make(chan struct{}), addr: addr, stats: stats}
	go func() {
		defer close(c.done)
		run(ctx, c.handle)
	}()
	return c
}

func netSinkCfg(t testing.TB, text string) config.Sink {
	t.Helper()
	ep, err := gateway.ParseEndpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	return config.Sink{Endpoint: config.Endpoint{Text: text, Kind: config.KindNetFlow, Net: ep}}
}

// sameFlow compares what NetFlow v9 and IPFIX carry of a flow: its key,
// both directions' packets and bytes, and its times to the millisecond.
func sameFlow(a, b *flow.Record) error {
	switch {
	case a.Key.Src != b.Key.Src || a.Key.Dst != b.Key.Dst || a.Key.Proto != b.Key.Proto:
		return fmt.Errorf("key %v %v %d, want %v %v %d", b.Key.Src, b.Key.Dst, b.Key.Proto, a.Key.Src, a.Key.Dst, a.Key.Proto)
	case a.Key.SrcPort != b.Key.SrcPort || a.Key.DstPort != b.Key.DstPort:
		return fmt.Errorf("ports %d %d, want %d %d", b.Key.SrcPort, b.Key.DstPort, a.Key.SrcPort, a.Key.DstPort)
	case a.Pkts != b.Pkts || a.Bytes != b.Bytes:
		return fmt.Errorf("packets %v bytes %v, want %v %v", b.Pkts, b.Bytes, a.Pkts, a.Bytes)
	case a.Start/1e6 != b.Start/1e6 || a.Last/1e6 != b.Last/1e6:
		return fmt.Errorf("times %d %d, want %d %d (ms)", b.Start/1e6, b.Last/1e6, a.Start/1e6, a.Last/1e6)
	}
	return nil
}

// ipFlows are the corpus's Argus 5 flow records an exporter can carry
// (IPv4 and IPv6 flows; the MARs and layer-2 flows are tested apart).
func ipFlows(t testing.TB) (all, ip []flow.Record) {
	all, _ = corpusArgus(t, "oracle/*/v5.argus")
	for _, r := range all {
		if r.Type != flow.TypeMgmt && (r.Key.AddrType == flow.AddrIPv4 || r.Key.AddrType == flow.AddrIPv6) && r.Key.Src.IsValid() {
			ip = append(ip, r)
		}
	}
	return all, ip
}

// TestExporterSinkUDP sends the corpus's IP flows to a gateway listener
// on loopback as NetFlow v9 and IPFIX: every record decodes back to its
// key, counters and times, in order; MARs are lost as not representable.
func TestExporterSinkUDP(t *testing.T) {
	all, ip := ipFlows(t)
	for _, f := range []gateway.Format{gateway.FormatNF9, gateway.FormatIPFIX} {
		t.Run(string(f), func(t *testing.T) {
			c := listenUDP(t, f)
			defer c.close()
			s, err := newNetFlowSink(netSinkCfg(t, string(f)+"+udp://"+c.addr), Env{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := newTally()
			writeBatches(t, s, ip, 50, nil, 0, l)
			if len(l.recs) != 0 {
				t.Fatalf("lost %v of the IP flows", l.n)
			}
			want := ip
			if f == gateway.FormatNF9 {
				want = oneWay(ip) // v9 records are one-way (IPFIX has RFC 5103 biflows)
			}
			got := c.wait(len(want))
			if len(got) != len(want) {
				t.Fatalf("collector decoded %d records of %d (stats %+v)", len(got), len(want), c.stats())
			}
			for i := range want {
				if err := sameFlow(&want[i], &got[i]); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			// MARs have no NetFlow form.
			l = newTally()
			mars := 0
			for i := range all {
				if all[i].Type == flow.TypeMgmt {
					mars++
				}
			}
			if err := s.Write(all, l.lost); err != nil {
				t.Fatal(err)
			}
			if l.n[ReasonNotRepresentable] < mars || l.n[ReasonSinkError] != 0 {
				t.Fatalf("lost %v, want the %d MARs (and layer-2 flows) as not representable", l.n, mars)
			}
			var sent []flow.Record
			for i := range all {
				if !slices.Contains(l.recs, &all[i]) {
					sent = append(sent, all[i])
				}
			}
			if f == gateway.FormatNF9 {
				sent = oneWay(sent)
			}
			got = c.wait(len(want) + len(sent))
			if len(got) != len(want)+len(sent) {
				t.Fatalf("collector decoded %d records, want %d", len(got)-len(want), len(sent))
			}
		})
	}
}

// oneWay is recs as one-way records (NetFlow v5 and v9): a biflow is two
// records, the second reversed.
func oneWay(recs []flow.Record) []flow.Record {
	var out []flow.Record
	for _, r := range recs {
		fwd := r
		fwd.Pkts[flow.Dst], fwd.Bytes[flow.Dst] = 0, 0
		out = append(out, fwd)
		if r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0 {
			rev := r
			rev.Key.Src, rev.Key.Dst = r.Key.Dst, r.Key.Src
			rev.Key.SrcPort, rev.Key.DstPort = r.Key.DstPort, r.Key.SrcPort
			rev.Pkts = [2]uint64{r.Pkts[flow.Dst], 0}
			rev.Bytes = [2]uint64{r.Bytes[flow.Dst], 0}
			out = append(out, rev)
		}
	}
	return out
}

// TestExporterSinkNF5NotRepresentable: NetFlow v5 holds IPv4 flows only:
// each IPv6 flow is handed to lost as not representable, counted, and
// the IPv4 flows around it arrive (a biflow as two v5 records).
func TestExporterSinkNF5NotRepresentable(t *testing.T) {
	_, ip := ipFlows(t)
	var v4 []flow.Record
	v6 := 0
	for _, r := range ip {
		if r.Key.AddrType == flow.AddrIPv6 {
			v6++
		} else {
			v4 = append(v4, r)
		}
	}
	if v6 == 0 || len(v4) == 0 {
		t.Fatal("the corpus has no IPv6 flow, or no IPv4 one")
	}
	c := listenUDP(t, gateway.FormatNF5)
	defer c.close()
	s, err := newNetFlowSink(netSinkCfg(t, "nf5+udp://"+c.addr), Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newTally()
	writeBatches(t, s, ip, 64, nil, 0, l)
	if l.n[ReasonNotRepresentable] != v6 || len(l.recs) != v6 {
		t.Fatalf("lost %v, want the %d IPv6 flows as not representable", l.n, v6)
	}
	for _, r := range l.recs {
		if r.Key.AddrType != flow.AddrIPv6 {
			t.Fatalf("lost an IPv4 flow: %v", r.Key)
		}
	}
	want := oneWay(v4)
	got := c.wait(len(want))
	if len(got) != len(want) {
		t.Fatalf("collector decoded %d v5 records, want %d", len(got), len(want))
	}
	var gp, wp, gb, wb uint64
	for i := range want {
		gp, wp = gp+got[i].Pkts[0]+got[i].Pkts[1], wp+want[i].Pkts[0]
		gb, wb = gb+got[i].Bytes[0]+got[i].Bytes[1], wb+want[i].Bytes[0]
		if got[i].Key.Src != want[i].Key.Src || got[i].Key.Dst != want[i].Key.Dst || got[i].Key.Proto != want[i].Key.Proto {
			t.Fatalf("v5 record %d: %v -> %v, want %v -> %v", i, got[i].Key.Src, got[i].Key.Dst, want[i].Key.Src, want[i].Key.Dst)
		}
	}
	if gp != wp || gb != wb {
		t.Fatalf("packets %d bytes %d, want %d %d", gp, gb, wp, wb)
	}
}

// TestExporterSinkUDPRefused: with no collector on the port, the
// datagrams the kernel refuses lose their records as sink errors (not
// silently), and the sink is not ready.
func TestExporterSinkUDPRefused(t *testing.T) {
	_, ip := ipFlows(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	s, err := newNetFlowSink(netSinkCfg(t, "ipfix+udp://"+addr+"?mtu=512"), Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newTally()
	var werr error
	for i := 0; i < 10; i++ {
		if err := s.Write(ip[:20], l.lost); err != nil {
			werr = err
		}
		time.Sleep(2 * time.Millisecond) // the ICMP port unreachable comes back
	}
	if l.n[ReasonSinkError] == 0 || !errors.Is(werr, ErrExporter) {
		t.Fatalf("lost %v, error %v: want refused datagrams' records lost as sink errors", l.n, werr)
	}
	if err := s.(Readier).Ready(); err == nil {
		t.Fatal("ready with datagrams refused")
	}
}

// TestExporterSinkTCP: IPFIX over TCP to a gateway listener; the
// collector stops: the sink is not ready, a Write gives up after
// tcpSendWait and loses its batch as sink errors; the collector comes
// back on the same port: the next Write reconnects (templates again on
// the new session) and its records arrive whole.
func TestExporterSinkTCP(t *testing.T) {
	defer func(w, r time.Duration) { tcpSendWait, tcpRedial = w, r }(tcpSendWait, tcpRedial)
	tcpSendWait, tcpRedial = 300*time.Millisecond, 50*time.Millisecond
	_, ip := ipFlows(t)
	c := listenTCP(t, "127.0.0.1:0")
	addr := c.addr
	s, err := newNetFlowSink(netSinkCfg(t, "ipfix+tcp://"+addr), Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newTally()
	half := len(ip) / 2
	writeBatches(t, s, ip[:half], 50, nil, 0, l)
	got := c.wait(half)
	if len(got) != half || len(l.recs) != 0 {
		t.Fatalf("collector has %d of %d, lost %v", len(got), half, l.n)
	}
	for i := range got {
		if err := sameFlow(&ip[i], &got[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := s.(Readier).Ready(); err != nil {
		t.Fatalf("not ready with the collector up: %v", err)
	}
	c.close()

	// The collector is gone: Writes fail within tcpSendWait.
	start := time.Now()
	var werr error
	for i := 0; i < 3; i++ {
		if err := s.Write(ip[half:half+10], l.lost); err != nil {
			werr = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	if time.Since(start) > 3*tcpSendWait+time.Second {
		t.Fatalf("Writes blocked %v with the collector down", time.Since(start))
	}
	if werr == nil || l.n[ReasonSinkError] == 0 {
		// A first write may still go into the dead session's buffer.
		t.Fatalf("lost %v, error %v: want sink errors", l.n, werr)
	}
	if err := s.(Readier).Ready(); err == nil {
		t.Fatal("ready with the collector down")
	}

	// Back on the same port.
	c = listenTCP(t, addr)
	defer c.close()
	time.Sleep(2 * tcpRedial)
	l = newTally()
	writeBatches(t, s, ip[half:], 50, nil, 0, l)
	if len(l.recs) != 0 {
		t.Fatalf("lost %v after the collector came back", l.n)
	}
	got = c.wait(len(ip) - half)
	if len(got) != len(ip)-half {
		t.Fatalf("collector has %d of %d after reconnecting", len(got), len(ip)-half)
	}
	for i := range got {
		if err := sameFlow(&ip[half+i], &got[i]); err != nil {
			t.Fatalf("record %d after reconnecting: %v", half+i, err)
		}
	}
	if err := s.(Readier).Ready(); err != nil {
		t.Fatalf("not ready after reconnecting: %v", err)
	}
}

// TestExporterSinkAllocs: sending a batch over UDP allocates nothing once
// the templates are out.
func TestExporterSinkAllocs(t *testing.T) {
	_, ip := ipFlows(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	for _, f := range []string{"nf5", "nf9", "ipfix"} {
		s, err := newNetFlowSink(netSinkCfg(t, f+"+udp://"+pc.LocalAddr().String()), Env{})
		if err != nil {
			t.Fatal(err)
		}
		recs := ip[:200]
		if f == "nf5" {
			// Without the IPv6 flows: v5's encoder makes an error value
			// for each one it refuses (not the path of records sent).
			recs = nil
			for _, r := range ip {
				if r.Key.AddrType == flow.AddrIPv4 && len(recs) < 200 {
					recs = append(recs, r)
				}
			}
		}
		s.Write(recs, nopLost)
		// Best of three: on a loaded machine a send can fail now and
		// then (the reader is slow to drain loopback), and the error
		// path allocates its error; a steady per-batch allocation fails
		// all three.
		a := 0.0
		for try := 0; try < 3; try++ {
			if a = testing.AllocsPerRun(20, func() { s.Write(recs, nopLost) }); a == 0 {
				break
			}
		}
		s.Close()
		if a != 0 {
			t.Errorf("%s: %.1f allocations per batch of 200", f, a)
		}
	}
}

// BenchmarkExporterSinkUDP: corpus IP flows as IPFIX datagrams to a
// loopback socket that reads and drops them.
func BenchmarkExporterSinkUDP(b *testing.B) {
	_, ip := ipFlows(b)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	s, err := newNetFlowSink(netSinkCfg(b, "ipfix+udp://"+pc.LocalAddr().String()), Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 256 {
		k := i % (len(ip) - 256)
		s.Write(ip[k:k+min(256, b.N-i)], nopLost)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
