package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// Every network wait in these tests is bounded by ioTimeout.
const ioTimeout = 10 * time.Second

// startServer serves on 127.0.0.1 (port 0) and closes the server at the
// end of the test.
func startServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	return startServerOn(t, opts, nil)
}

func startServerOn(t testing.TB, opts Options, wrap func(net.Listener) net.Listener) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	s := New(opts)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		case <-time.After(ioTimeout):
			t.Errorf("Serve did not return after Close")
		}
	})
	return s, addr
}

type testClient struct {
	t    testing.TB
	conn net.Conn
	mar  []byte
}

// dial connects and reads the initial MAR.
func dial(t testing.TB, addr string) *testClient {
	t.Helper()
	return dialWith(t, addr, net.Dialer{Timeout: ioTimeout})
}

func dialWith(t testing.TB, addr string, d net.Dialer) *testClient {
	t.Helper()
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(ioTimeout))
	c := &testClient{t: t, conn: conn, mar: make([]byte, 128)}
	if _, err := io.ReadFull(conn, c.mar); err != nil {
		t.Fatalf("reading the MAR: %v", err)
	}
	return c
}

func (c *testClient) send(cmd string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(cmd)); err != nil {
		c.t.Fatalf("send %q: %v", cmd, err)
	}
}

func (c *testClient) reply() string {
	c.t.Helper()
	var b [2]byte
	if _, err := io.ReadFull(c.conn, b[:]); err != nil {
		c.t.Fatalf("reading the reply: %v", err)
	}
	return string(b[:])
}

// reader decodes the stream, the MAR already read included.
func (c *testClient) reader() *argus.Reader {
	c.t.Helper()
	r, err := argus.NewReader(io.MultiReader(bytes.NewReader(c.mar), c.conn))
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// records decodes the MAR and then n records.
func (c *testClient) records(n int) []flow.Record {
	c.t.Helper()
	r := c.reader()
	var m flow.Record
	if err := r.Decode(&m); err != nil || m.Type != flow.TypeMgmt || m.Cause != flow.CauseStart {
		c.t.Fatalf("first record: %v, type %#x cause %#x; want the START MAR", err, m.Type, m.Cause)
	}
	out := make([]flow.Record, n)
	for i := range out {
		if err := r.Decode(&out[i]); err != nil {
			c.t.Fatalf("record %d of %d: %v", i, n, err)
		}
		out[i].Detach()
	}
	return out
}

// expectEOF checks that the server closes the connection.
func (c *testClient) expectEOF() {
	c.t.Helper()
	var b [256]byte
	for range 1000 {
		_, err := c.conn.Read(b[:])
		if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for the close: %v", err)
		}
	}
	c.t.Fatalf("the server kept sending")
}

// waitFor polls cond until it holds, at most ioTimeout.
func waitFor(t testing.TB, what string, cond func(Stats) bool, s *Server) Stats {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		st := s.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startedN(n int) func(Stats) bool {
	return func(st Stats) bool {
		k := 0
		for _, c := range st.Clients {
			if c.Started {
				k++
			}
		}
		return k == n
	}
}

func flowRec(proto uint8, i int) flow.Record {
	var r flow.Record
	r.Type, r.Cause = flow.TypeFlow, flow.CauseStart
	r.Has = flow.HasKey | flow.HasTime | flow.HasMetrics
	r.Key = flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: proto,
		Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), SrcPort: uint16(40000 + i%20000),
		Dst: netip.MustParseAddr("10.9.9.9"), DstPort: 53}
	r.Start = 1700000000_000000000 + int64(i)*1000
	r.Last = r.Start + 5000
	r.Pkts, r.Bytes = [2]uint64{uint64(i) + 1, 1}, [2]uint64{100, 60}
	return r
}

func statusMAR() flow.Record {
	var m flow.Record
	m.Type, m.Cause, m.Has = flow.TypeMgmt, flow.CauseStatus, flow.HasMgmt
	m.Mgmt = flow.Mgmt{NextSeq: 7, StartTime: 1700000000_000000000, Now: 1700000005_000000000,
		ReportInterval: 5, MarInterval: 60, PktsRcvd: 1234, RecordLen: -1}
	return m
}

func TestStream(t *testing.T) {
	for _, v := range []int{3, 5} {
		t.Run(map[int]string{3: "v3", 5: "v5"}[v], func(t *testing.T) {
			s, addr := startServer(t, Options{Version: v})
			c := dial(t, addr)
			wantHdr := []byte{0x80 | byte(v), 0x10, 0, 32}
			if !bytes.Equal(c.mar[:4], wantHdr) {
				t.Fatalf("MAR header % x, want % x", c.mar[:4], wantHdr)
			}
			if v == 3 {
				c.send("START: ")
			} else {
				c.send("START: user='x',cmd='ra[123]'")
			}
			waitFor(t, "START", startedN(1), s)
			recs := []flow.Record{flowRec(6, 1), flowRec(17, 2), statusMAR(), flowRec(17, 3)}
			for i := range recs {
				s.Publish(&recs[i])
			}
			got := c.records(len(recs))
			for i := range recs {
				w, g := &recs[i], &got[i]
				if g.Type != w.Type || g.Cause != w.Cause {
					t.Errorf("record %d: type %#x cause %#x, want %#x %#x", i, g.Type, g.Cause, w.Type, w.Cause)
				}
				if w.Type == flow.TypeMgmt {
					if g.Mgmt.PktsRcvd != 1234 || g.Mgmt.Major != byte(v) {
						t.Errorf("status MAR: %+v", g.Mgmt)
					}
					continue
				}
				if g.Key.Src != w.Key.Src || g.Key.Dst != w.Key.Dst || g.Key.Proto != w.Key.Proto ||
					g.Key.SrcPort != w.Key.SrcPort || g.Pkts != w.Pkts || g.Bytes != w.Bytes || g.Start != w.Start {
					t.Errorf("record %d: got %v %v %v pkts %v, want %v %v %v pkts %v", i,
						g.Key.Src, g.Key.Dst, g.Key.Proto, g.Pkts, w.Key.Src, w.Key.Dst, w.Key.Proto, w.Pkts)
				}
			}
			st := waitFor(t, "sent", func(st Stats) bool { return st.Sent == 4 }, s)
			if st.Published != 4 || st.Encoded != 4 || st.Dropped != 0 || st.Offered != 4 {
				t.Errorf("stats %+v", st)
			}
			c.send("DONE: ")
			c.expectEOF()
			waitFor(t, "disconnect", func(st Stats) bool { return len(st.Clients) == 0 }, s)
		})
	}
}

// Records published before START are not sent, and no record is encoded
// while no client is started.
func TestNothingBeforeStart(t *testing.T) {
	s, addr := startServer(t, Options{Version: 3})
	c := dial(t, addr)
	r := flowRec(6, 1)
	s.Publish(&r)
	if st := s.Stats(); st.Encoded != 0 || st.Published != 1 {
		t.Errorf("stats before START %+v", st)
	}
	c.send("START: ")
	waitFor(t, "START", startedN(1), s)
	r2 := flowRec(17, 2)
	s.Publish(&r2)
	got := c.records(1)
	if got[0].Key.Proto != 17 {
		t.Errorf("first record after START has proto %d, want 17", got[0].Key.Proto)
	}
}

func TestSeveralClients(t *testing.T) {
	s, addr := startServer(t, Options{Version: 5})
	const nc, nr = 5, 200
	cs := make([]*testClient, nc)
	for i := range cs {
		cs[i] = dial(t, addr)
		cs[i].send("START: ")
	}
	waitFor(t, "START", startedN(nc), s)
	var wg sync.WaitGroup
	got := make([][]flow.Record, nc)
	for i, c := range cs {
		wg.Go(func() { got[i] = c.records(nr) })
	}
	for i := range nr {
		r := flowRec(6, i)
		s.Publish(&r)
	}
	wg.Wait()
	for i := range got {
		for j, r := range got[i] {
			if r.Pkts[0] != uint64(j)+1 {
				t.Fatalf("client %d record %d: pkts %d, want %d", i, j, r.Pkts[0], j+1)
			}
		}
	}
	st := waitFor(t, "sent", func(st Stats) bool { return st.Sent == nc*nr }, s)
	if st.Dropped != 0 || st.Offered != nc*nr {
		t.Errorf("stats %+v", st)
	}
}

func TestFilter(t *testing.T) {
	s, addr := startServer(t, Options{Version: 3})
	c := dial(t, addr)
	c.send("FILTER: man or (tcp and")
	if r := c.reply(); r != "ER" {
		t.Fatalf("bad filter: reply %q, want ER", r)
	}
	c.send("FILTER: man or (udp)")
	if r := c.reply(); r != "OK" {
		t.Fatalf("filter: reply %q, want OK", r)
	}
	c.send("START: ")
	st := waitFor(t, "START", startedN(1), s)
	if f := st.Clients[0].Filter; f != "man or (udp)" {
		t.Errorf("client filter %q", f)
	}
	recs := []flow.Record{flowRec(6, 1), flowRec(17, 2), statusMAR(), flowRec(6, 3), flowRec(17, 4)}
	for i := range recs {
		s.Publish(&recs[i])
	}
	got := c.records(3)
	if got[0].Key.Proto != 17 || got[0].Pkts[0] != 3 || got[1].Type != flow.TypeMgmt ||
		got[2].Key.Proto != 17 || got[2].Pkts[0] != 5 {
		t.Errorf("filtered stream: %v/%d, %#x, %v/%d", got[0].Key.Proto, got[0].Pkts[0], got[1].Type,
			got[2].Key.Proto, got[2].Pkts[0])
	}
	st = waitFor(t, "sent", func(st Stats) bool { return st.Sent == 3 }, s)
	if st.Filtered != 2 || st.Offered != 5 {
		t.Errorf("stats %+v", st)
	}
}

// A client that never reads: Publish goes on, the client's overflow is
// dropped and counted, and a reading client beside it gets every record
// its own queue had room for, accounted exactly.
func TestSlowClient(t *testing.T) {
	small := func(ln net.Listener) net.Listener { return smallBufListener{ln} }
	s, addr := startServerOn(t, Options{Version: 5, QueueRecords: 64, QueueBytes: 1 << 20}, small)
	slow := dialWith(t, addr, smallDialer)
	slow.send("START: ")
	fast := dial(t, addr)
	fast.send("START: ")
	waitFor(t, "START", startedN(2), s)

	var received int64
	done := make(chan error, 1)
	go func() {
		r := fast.reader()
		var rec flow.Record
		for {
			if err := r.Decode(&rec); err != nil {
				done <- err
				return
			}
			if rec.Type != flow.TypeMgmt {
				received++
			}
		}
	}()

	pub := make(chan int, 1)
	go func() {
		n := 0
		for n < 200000 {
			r := flowRec(17, n)
			s.Publish(&r)
			n++
			if n%1000 == 0 && s.Stats().Clients[0].Dropped > 1000 {
				break
			}
		}
		pub <- n
	}()
	var n int
	select {
	case n = <-pub:
	case <-time.After(ioTimeout):
		t.Fatal("Publish blocked behind a client that does not read")
	}
	st := s.Stats()
	sc := st.Clients[0]
	if sc.Dropped == 0 {
		t.Fatalf("slow client dropped nothing after %d records: %+v", n, sc)
	}
	for _, c := range st.Clients {
		if sum := c.Sent + c.Queued + c.Dropped + c.Filtered + c.Discarded; c.Offered != int64(n) || sum != c.Offered {
			t.Errorf("client %d: offered %d (published %d), sent+queued+dropped+filtered+discarded = %d: %+v",
				c.ID, c.Offered, n, sum, c)
		}
		if c.Queued > 64 {
			t.Errorf("client %d: %d records queued, bound 64", c.ID, c.Queued)
		}
	}
	// The fast client reads what was sent to it.
	fc := waitFor(t, "fast client drained", func(st Stats) bool { return st.Clients[1].Queued == 0 }, s).Clients[1]
	fast.send("DONE: ")
	if err := <-done; err != io.EOF {
		t.Logf("fast client ended with %v", err)
	}
	if received != fc.Sent {
		t.Errorf("fast client received %d records, server sent %d (dropped %d)", received, fc.Sent, fc.Dropped)
	}
	t.Logf("published %d; slow: sent %d dropped %d; fast: sent %d dropped %d", n, sc.Sent, sc.Dropped, fc.Sent, fc.Dropped)
}

// smallDialer's connections have a small receive buffer.
var smallDialer = net.Dialer{Timeout: ioTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
}}

// smallBufListener shrinks the send buffer of accepted connections, so
// that a client that does not read fills it quickly.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestTooManyClients(t *testing.T) {
	s, addr := startServer(t, Options{Version: 3, MaxClients: 2})
	a := dial(t, addr)
	dial(t, addr)
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	b, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
	if want := []byte{0x83, 0x82, 0, 1}; !bytes.Equal(b, want) {
		t.Fatalf("third client got % x, want % x", b, want)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Accepted != 2 {
		t.Errorf("stats %+v", st)
	}
	// A slot frees when a client leaves.
	a.send("DONE: ")
	a.expectEOF()
	waitFor(t, "a slot", func(st Stats) bool { return len(st.Clients) == 1 }, s)
	c := dial(t, addr)
	if c.mar[0] != 0x83 || c.mar[1] != 0x10 {
		t.Errorf("fourth client got % x", c.mar[:4])
	}
}

func TestStartupTimeout(t *testing.T) {
	s, addr := startServer(t, Options{Version: 5, StartupTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	c.expectEOF()
	st := waitFor(t, "timeout", func(st Stats) bool { return len(st.Clients) == 0 }, s)
	if st.TimedOut != 1 {
		t.Errorf("stats %+v", st)
	}
	// A started client is not timed out.
	c = dial(t, addr)
	c.send("START: ")
	waitFor(t, "START", startedN(1), s)
	time.Sleep(400 * time.Millisecond)
	r := flowRec(6, 1)
	s.Publish(&r)
	c.records(1)
}

func TestShutdownDrains(t *testing.T) {
	s, addr := startServer(t, Options{Version: 3})
	c := dial(t, addr)
	c.send("START: ")
	waitFor(t, "START", startedN(1), s)
	const n = 500
	for i := range n {
		r := flowRec(6, i)
		s.Publish(&r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(ctx) }()
	c.records(n)
	c.expectEOF()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != n || st.Discarded != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSplitCommands(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"START: ", []string{"START:"}},
		{"START: user='x',cmd='ra[1]'", []string{"START: user='x',cmd='ra[1]'"}},
		{"FILTER: man or (tcp)START: ", []string{"FILTER: man or (tcp)", "START:"}},
		{"FILTER: udp\x00\nDONE: \x00", []string{"FILTER: udp", "DONE:"}},
		{"\x00\x00", nil},
	} {
		got := splitCommands([]byte(c.in))
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if len(gs) != len(c.want) {
			t.Errorf("splitCommands(%q) = %q, want %q", c.in, gs, c.want)
			continue
		}
		for i := range gs {
			if gs[i] != c.want[i] {
				t.Errorf("splitCommands(%q) = %q, want %q", c.in, gs, c.want)
			}
		}
	}
}

func TestBadVersion(t *testing.T) {
	s := New(Options{Version: 4})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err == nil || errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve with version 4 = %v, want an error", err)
	}
}

func TestPublishAllocs(t *testing.T) {
	s := New(Options{Version: 5})
	r := flowRec(6, 1)
	if n := testing.AllocsPerRun(100, func() { s.Publish(&r) }); n != 0 {
		t.Errorf("Publish with no client: %v allocations, want 0", n)
	}
}

// A FILTER after START replaces the filter without a reply (a reply would
// break the record framing); FILE: is refused with ER.
func TestCommandsAfterStart(t *testing.T) {
	s, addr := startServer(t, Options{Version: 5})
	c := dial(t, addr)
	c.send("FILE: /tmp/x")
	if r := c.reply(); r != "ER" {
		t.Fatalf("FILE: reply %q, want ER", r)
	}
	c.send("MODEL: x")
	c.send("START: ")
	waitFor(t, "START", startedN(1), s)
	c.send("FILTER: udp")
	waitFor(t, "the new filter", func(st Stats) bool { return st.Clients[0].Filter == "udp" }, s)
	recs := []flow.Record{flowRec(6, 1), flowRec(17, 2)}
	for i := range recs {
		s.Publish(&recs[i])
	}
	got := c.records(1)
	if got[0].Key.Proto != 17 {
		t.Errorf("got proto %d, want 17", got[0].Key.Proto)
	}
}

// With WriteTimeout, a started client that stops reading is disconnected
// and what was queued for it is counted as discarded.
func TestWriteTimeout(t *testing.T) {
	small := func(ln net.Listener) net.Listener { return smallBufListener{ln} }
	s, addr := startServerOn(t, Options{Version: 3, WriteTimeout: 100 * time.Millisecond}, small)
	c := dialWith(t, addr, smallDialer)
	c.send("START: ")
	waitFor(t, "START", startedN(1), s)
	deadline := time.Now().Add(ioTimeout)
	for i := 0; len(s.Stats().Clients) > 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("stalled client still connected: %+v", s.Stats())
		}
		r := flowRec(17, i)
		s.Publish(&r)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	st := s.Stats()
	if st.Discarded == 0 || st.Offered != st.Sent+st.Dropped+st.Discarded {
		t.Errorf("stats %+v", st)
	}
}
