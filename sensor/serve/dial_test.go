package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// collector gathers what a Remote hands on, detached.
type collector struct {
	mu   sync.Mutex
	recs []flow.Record
}

func (c *collector) handle(recs []flow.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range recs {
		r := recs[i]
		r.Extra = append([]flow.Field(nil), r.Extra...)
		r.Detach()
		c.recs = append(c.recs, r)
	}
	return nil
}

func (c *collector) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

func (c *collector) snapshot() []flow.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]flow.Record(nil), c.recs...)
}

// runRemote runs r until the test ends; the returned func stops it and
// returns Run's error.
func runRemote(t testing.TB, r *Remote, h Handler) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(ioTimeout):
				err = errors.New("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// eventually polls cond for at most ioTimeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fastRetry() RemoteOptions {
	return RemoteOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, HandshakeTimeout: ioTimeout}
}

// corpusFiles returns Argus files of the oracle corpus (v3 and v5, the
// full-option ones included).
func corpusFiles(t testing.TB, dirs ...string) []string {
	t.Helper()
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS is not set")
	}
	var out []string
	for _, d := range dirs {
		for _, f := range []string{"v3.argus", "v3full.argus", "v5.argus", "v5full.argus"} {
			p := filepath.Join(root, "argus", "oracle", d, f)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		t.Skip("no corpus Argus files")
	}
	return out
}

// The records a Remote hands on are those of the Argus file the server
// was fed from (written by the real argus 3.0.8.2 and 5.0.3 sensors), in
// both stream versions; the initial MAR is not handed on.
func TestRemoteCorpus(t *testing.T) {
	files := corpusFiles(t, "generated_tcp_handshake", "generated_ipv6_tcp", "generated_long_flow",
		"traffic_slips_test7-malicious", "traffic_tcpdump_dns_udp", "generated_mpls")
	for _, path := range files {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			recs := readArgus(t, path)
			f, _ := os.Open(path)
			rd, err := argus.NewReader(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			mar := recs[0]
			s, addr := startServer(t, Options{Version: rd.Version(), MAR: func() flow.Record { return mar }})
			var c collector
			r := NewRemote(addr, fastRetry())
			runRemote(t, r, c.handle)
			waitFor(t, "START", startedN(1), s)
			for i := 1; i < len(recs); i++ {
				s.Publish(&recs[i])
			}
			eventually(t, "the records", func() bool { return c.n() >= len(recs)-1 })
			got := c.snapshot()
			if len(got) != len(recs)-1 {
				t.Fatalf("got %d records, want %d", len(got), len(recs)-1)
			}
			// Compared through the writer: jitter NaNs are not equal to
			// themselves in reflect.DeepEqual, and the bytes say all.
			for i := range got {
				g, w := encodeOne(t, rd.Version(), &got[i]), encodeOne(t, rd.Version(), &recs[i+1])
				if !bytes.Equal(g, w) || got[i].Key != recs[i+1].Key || got[i].SrcID != recs[i+1].SrcID {
					t.Fatalf("record %d differs:\n got %+v\nwant %+v", i+1, got[i], recs[i+1])
				}
			}
			st := r.Stats()
			if !st.Connected || st.Connects != 1 || st.Version != rd.Version() || st.Records != int64(len(got)) || st.Malformed != 0 {
				t.Errorf("stats %+v", st)
			}
			if err := r.Ready(); err != nil {
				t.Errorf("Ready = %v", err)
			}
			if ss := s.Stats(); ss.SentBytes+128 != st.Bytes {
				t.Errorf("client decoded %d bytes, server sent %d + the MAR", st.Bytes, ss.SentBytes)
			}
		})
	}
}

// A filter is applied by the server: the records that arrive are the ones
// Debian's ra 3.0.8.2 selects from the file with the same expression.
func TestRemoteFilter(t *testing.T) {
	files := corpusFiles(t, "traffic_slips_test7-malicious")
	path := files[0] // v3.argus
	if _, err := os.Stat(raPath); err != nil {
		t.Skip("ra is not installed")
	}
	recs := readArgus(t, path)
	for _, expr := range []string{"tcp", "udp or icmp", "man or (tcp and port 80)"} {
		t.Run(expr, func(t *testing.T) {
			out, err := exec.Command(raPath, "-X", "-n", "-u", "-c", ",", "-M", "man", "-r", path, "-s", "stime", "proto", "-", expr).Output()
			if err != nil && len(out) > 0 {
				t.Fatalf("ra: %v", err)
			}
			// ra prints the file's initial MAR too (with -M man, when the
			// filter lets MARs through); a Remote does not hand it on.
			want, mars := 0, 0
			for _, line := range strings.Split(string(out), "\n") {
				switch {
				case line == "" || line[0] < '0' || line[0] > '9': // the header
				case strings.Contains(line, ",man"):
					mars++
				default:
					want++
				}
			}
			want += max(mars-1, 0)
			mar := recs[0]
			s, addr := startServer(t, Options{Version: 3, MAR: func() flow.Record { return mar }})
			opts := fastRetry()
			opts.Filter = expr
			var c collector
			r := NewRemote(addr, opts)
			runRemote(t, r, c.handle)
			waitFor(t, "START", startedN(1), s)
			if got := s.Stats().Clients[0].Filter; got != expr {
				t.Errorf("server has filter %q, want %q", got, expr)
			}
			for i := 1; i < len(recs); i++ {
				s.Publish(&recs[i])
			}
			eventually(t, "the server's counters", func() bool {
				st := s.Stats()
				return st.Sent+st.Filtered == int64(len(recs)-1)
			})
			eventually(t, "the records", func() bool { return int64(c.n()) == s.Stats().Sent })
			if got := c.n(); got != want {
				t.Errorf("got %d records, ra -r selects %d", got, want)
			}
		})
	}
}

func TestRemoteFilterRefused(t *testing.T) {
	s, addr := startServer(t, Options{})
	opts := fastRetry()
	opts.Filter = "tcp and and"
	r := NewRemote(addr, opts)
	runRemote(t, r, func([]flow.Record) error { return nil })
	eventually(t, "a refused filter", func() bool { return errors.Is(r.Ready(), ErrFilterRefused) })
	if st := r.Stats(); st.Connects != 0 || st.Failures == 0 {
		t.Errorf("stats %+v", st)
	}
	if st := s.Stats(); st.Accepted == 0 || len(st.Clients) > 1 {
		t.Errorf("server stats %+v", st)
	}
}

// The server goes away and comes back on the same port: the Remote
// reconnects and goes on, and Ready says so in between.
func TestRemoteReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s1 := New(Options{})
	go s1.Serve(ln)
	var c collector
	r := NewRemote(addr, fastRetry())
	stop := runRemote(t, r, c.handle)
	waitFor(t, "START", startedN(1), s1)
	if err := r.Ready(); err != nil {
		t.Errorf("Ready = %v", err)
	}
	for i := range 100 {
		rec := flowRec(17, i)
		s1.Publish(&rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first 100", func() bool { return c.n() == 100 })
	eventually(t, "not ready", func() bool { return r.Ready() != nil })
	if err := r.Ready(); !errors.Is(err, ErrStreamEnded) && !strings.Contains(err.Error(), "refused") {
		t.Errorf("Ready = %v, want the end of the stream or a refused dial", err)
	}
	time.Sleep(100 * time.Millisecond) // a few refused attempts
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	s2 := New(Options{})
	go s2.Serve(ln2)
	defer s2.Close()
	waitFor(t, "START again", startedN(1), s2)
	for i := range 100 {
		rec := flowRec(6, 100+i)
		s2.Publish(&rec)
	}
	eventually(t, "all 200", func() bool { return c.n() == 200 })
	eventually(t, "ready", func() bool { return r.Ready() == nil })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, rec := range c.snapshot() {
		proto := uint8(17)
		if i >= 100 {
			proto = 6
		}
		if want := flowRec(proto, i); rec.Key != want.Key || rec.Pkts != want.Pkts {
			t.Fatalf("record %d: key %v pkts %v, want %v %v", i, rec.Key, rec.Pkts, want.Key, want.Pkts)
		}
	}
	st := r.Stats()
	if st.Connects != 2 || st.Reconnects < 2 || st.Failures < 1 || st.Malformed != 0 || st.Records != 200 {
		t.Errorf("stats %+v", st)
	}
}

// encodeOne returns rec's bytes in version (after the writer's MAR).
func encodeOne(t testing.TB, version int, rec *flow.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := argus.NewWriter(&b, version)
	if err != nil {
		t.Fatal(err)
	}
	m := statusMAR()
	if err := w.Encode(&m); err != nil {
		t.Fatal(err)
	}
	if err := w.Encode(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()[128:]
}

// encodeStream returns a v5 (or v3) stream: MAR and the records.
func encodeStream(t testing.TB, version int, recs ...flow.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := argus.NewWriter(&b, version)
	if err != nil {
		t.Fatal(err)
	}
	m := statusMAR()
	m.Cause = flow.CauseStart
	if err := w.Encode(&m); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Encode(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeServer accepts connections and sends each one script: the bytes up
// to the MAR at once, the rest after the client's first command. Then it
// closes the connection.
func fakeServer(t testing.TB, script []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(ioTimeout))
				head := script[:min(len(script), 128)]
				if _, err := conn.Write(head); err != nil || len(script) <= 128 {
					return
				}
				var cmd [64]byte
				if _, err := conn.Read(cmd[:]); err != nil {
					return
				}
				conn.Write(script[128:])
			}()
		}
	}()
	return ln.Addr().String()
}

// A hostile or broken server is counted and retried, never a panic: the
// good records before the damage are handed on, the damage is counted
// with its offset.
func TestRemoteHostile(t *testing.T) {
	r1, r2 := flowRec(6, 1), flowRec(17, 2)
	good := encodeStream(t, 5, r1, r2)
	rec1Len := (len(good) - 128) / 2
	sasl := append([]byte(nil), good...)
	sasl[6] |= 0x10 // status 0x00001000
	badCookie := append([]byte(nil), good...)
	badCookie[8] = 0
	for _, tc := range []struct {
		name    string
		script  []byte
		records int   // handed on per connection
		offset  int64 // of the damage (-1: no decode error)
		want    error
	}{
		// A record of unknown immediate DSRs is not damage (they are kept
		// in Extra), so the garbage here is what a confused peer sends.
		{"garbage after the MAR", append(append([]byte(nil), good[:128]...), bytes.Repeat([]byte{0xFF}, 64)...), 0, 128, codecs.ErrTruncated},
		{"text after the MAR", append(append([]byte(nil), good[:128]...), "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"...), 0, 128, nil},
		{"truncated record", good[:128+rec1Len+10], 1, int64(128 + rec1Len), codecs.ErrTruncated},
		{"record longer than the stream", append(append([]byte(nil), good[:128+rec1Len]...), 0x15, 0x10, 0xFF, 0xFF, 1, 2, 3, 4), 1, int64(128 + rec1Len), codecs.ErrTruncated},
		{"corrupt DSR", append(append([]byte(nil), good[:128]...), 0x15, 0x10, 0x00, 0x02, 0x02, 0x01, 0x00, 0x09), 0, 128, codecs.ErrCorrupt},
		{"too many clients", []byte{0x85, 0x82, 0x00, 0x01}, 0, -1, ErrTooManyClients},
		{"access denied", []byte{0x83, 0x81, 0x00, 0x01}, 0, -1, ErrAccessDenied},
		{"not argus", []byte("HTTP/1.0 400 Bad Request\r\n\r\n"), 0, -1, ErrNotArgus},
		{"MAR of 5 words", []byte{0x85, 0x10, 0x00, 0x05, 0, 0, 0, 0}, 0, -1, ErrNotArgus},
		{"bad cookie", badCookie, 0, -1, codecs.ErrUnknownFormat},
		{"SASL", sasl, 0, -1, ErrSASL},
		{"clean end", good, 2, -1, ErrStreamEnded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.script)
			var c collector
			r := NewRemote(addr, fastRetry())
			stop := runRemote(t, r, c.handle)
			eventually(t, "three attempts", func() bool { return r.Stats().Reconnects >= 3 })
			if err := stop(); err != nil {
				t.Fatalf("Run = %v", err)
			}
			st := r.Stats()
			if tc.want == nil && !isMalformed(st.LastErr) || tc.want != nil && !errors.Is(st.LastErr, tc.want) {
				t.Errorf("last error %v, want %v", st.LastErr, tc.want)
			}
			if err := r.Ready(); err == nil {
				t.Errorf("Ready = nil after %v", st.LastErr)
			}
			attempts := st.Reconnects + 1
			if tc.records > 0 && st.Records < int64(tc.records)*(attempts-1) {
				t.Errorf("%d records in %d attempts, want %d each", st.Records, attempts, tc.records)
			}
			for _, rec := range c.snapshot() {
				if rec.Key != r1.Key && rec.Key != r2.Key {
					t.Errorf("handed on a record that was not sent: %+v", rec.Key)
				}
			}
			if tc.offset < 0 {
				if st.Malformed != 0 {
					t.Errorf("malformed %d, want 0", st.Malformed)
				}
				return
			}
			if st.Malformed < attempts-1 || len(st.Bad) == 0 {
				t.Fatalf("malformed %d in %d attempts; stats %+v", st.Malformed, attempts, st)
			}
			if b := st.Bad[0]; b.Offset != tc.offset || b.Stage != "decode" || b.PeerHost() != "127.0.0.1" {
				t.Errorf("bad input at %d (%s, peer %s), want offset %d: %v", b.Offset, b.Stage, b.PeerHost(), tc.offset, &b)
			}
			if len(st.MalformedBy) != 1 || st.MalformedBy[0].Peer != "127.0.0.1" || st.MalformedBy[0].N != st.Malformed {
				t.Errorf("malformed by peer %+v", st.MalformedBy)
			}
		})
	}
}

// A server that accepts and says nothing is given up on after the
// handshake timeout.
func TestRemoteSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	opts := fastRetry()
	opts.HandshakeTimeout = 50 * time.Millisecond
	r := NewRemote(ln.Addr().String(), opts)
	runRemote(t, r, func([]flow.Record) error { return nil })
	eventually(t, "a timeout", func() bool {
		var ne net.Error
		return errors.As(r.Ready(), &ne) && ne.Timeout()
	})
}

// A handler error stops Run, which returns it.
func TestRemoteHandlerError(t *testing.T) {
	addr := fakeServer(t, encodeStream(t, 5, flowRec(6, 1)))
	errStop := errors.New("stop")
	r := NewRemote(addr, fastRetry())
	err := r.Run(context.Background(), func([]flow.Record) error { return errStop })
	if err != errStop {
		t.Fatalf("Run = %v, want the handler's error", err)
	}
}

// Close makes Run return.
func TestRemoteClose(t *testing.T) {
	s, addr := startServer(t, Options{})
	r := NewRemote(addr, fastRetry())
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), func([]flow.Record) error { return nil }) }()
	waitFor(t, "START", startedN(1), s)
	r.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Run did not return after Close")
	}
}

// pipeServer serves an endless stream on one end of a net.Pipe: the
// stream's MAR, then its records over and over.
func pipeServer(t testing.TB, stream []byte) net.Conn {
	t.Helper()
	cli, srv := net.Pipe()
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() {
		if _, err := srv.Write(stream[:128]); err != nil {
			return
		}
		var cmd [64]byte
		if _, err := srv.Read(cmd[:]); err != nil {
			return
		}
		go io.Copy(io.Discard, srv)
		body := bytes.Repeat(stream[128:], max(1, 64<<10/len(stream[128:])))
		for {
			if _, err := srv.Write(body); err != nil {
				return
			}
		}
	}()
	return cli
}

// The steady state allocates nothing per record: decoding, detaching into
// the arena and handing batches on.
func TestRemoteAllocs(t *testing.T) {
	var recs []flow.Record
	for i := range 64 {
		recs = append(recs, flowRec(uint8(6+11*(i%2)), i))
	}
	for i := 0; i < len(recs); i += 4 { // aliased bytes to detach
		recs[i].Label, recs[i].Has = []byte(fmt.Sprintf("note=%d", i)), recs[i].Has|flow.HasLabel
	}
	recs = append(recs, statusMAR())
	conn := pipeServer(t, encodeStream(t, 5, recs...))
	r := NewRemote("pipe", RemoteOptions{})
	tick := make(chan struct{})
	n := 0
	go r.serveConn(context.Background(), conn, func(b []flow.Record) error {
		n += len(b)
		if n >= 10000 {
			n = 0
			tick <- struct{}{}
		}
		return nil
	})
	<-tick // warm up: buffers grown
	allocs := testing.AllocsPerRun(20, func() { <-tick })
	if allocs > 0 {
		t.Errorf("%.1f allocations per 10000 records, want 0", allocs)
	}
	r.Close()
	conn.Close()
}

// BenchmarkRemote: a raw server writes pre-encoded records to loopback
// TCP as fast as it can; the Remote decodes them and hands batches on.
func BenchmarkRemote(b *testing.B) {
	var recs []flow.Record
	for i := range 64 {
		recs = append(recs, flowRec(uint8(6+11*(i%2)), i))
	}
	stream := encodeStream(b, 5, recs...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		srv := pipeServerConn(conn, stream)
		<-srv
	}()
	r := NewRemote(ln.Addr().String(), RemoteOptions{})
	errDone := errors.New("done")
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	err = r.Run(context.Background(), func(recs []flow.Record) error {
		n += len(recs)
		if n >= b.N {
			return errDone
		}
		return nil
	})
	b.StopTimer()
	if err != errDone {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.Stats().Bytes)/float64(n), "B/rec")
}

// pipeServerConn is pipeServer's loop on a connection; the channel is
// closed when it ends.
func pipeServerConn(conn net.Conn, stream []byte) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := conn.Write(stream[:128]); err != nil {
			return
		}
		var cmd [64]byte
		if _, err := conn.Read(cmd[:]); err != nil {
			return
		}
		body := bytes.Repeat(stream[128:], max(1, 256<<10/len(stream[128:])))
		for {
			if _, err := conn.Write(body); err != nil {
				return
			}
		}
	}()
	return done
}

// FuzzRemote feeds arbitrary server output to the client's handshake and
// decode path: it must end with an error or the end of the stream, never
// a panic, and a decode error's offset lies in the input.
func FuzzRemote(f *testing.F) {
	f.Add(encodeStream(f, 5, flowRec(6, 1), flowRec(17, 2), statusMAR()))
	f.Add(encodeStream(f, 3, flowRec(6, 1), flowRec(1, 2)))
	f.Add([]byte{0x85, 0x82, 0x00, 0x01})
	if root := os.Getenv("FLOWGATE_CORPUS"); root != "" {
		for _, name := range []string{"generated_tcp_handshake/v5full.argus", "generated_ipv6_tcp/v3full.argus",
			"traffic_tcpdump_dns_udp/v5.argus"} {
			if b, err := os.ReadFile(filepath.Join(root, "argus", "oracle", name)); err == nil {
				f.Add(b[:min(len(b), 4096)])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		defer cli.Close()
		go func() {
			defer srv.Close()
			go io.Copy(io.Discard, srv)
			srv.Write(data)
		}()
		r := NewRemote("fuzz", RemoteOptions{HandshakeTimeout: time.Second})
		_, err := r.serveConn(context.Background(), cli, func(recs []flow.Record) error {
			for i := range recs {
				_ = recs[i].Key.Src.IsValid()
			}
			return nil
		})
		if err == nil {
			t.Fatal("serveConn returned nil")
		}
		var re *RemoteError
		if errors.As(err, &re) && re.Stage == "decode" && (re.Offset < 128 || re.Offset > int64(len(data))) {
			t.Fatalf("decode error at %d of %d bytes: %v", re.Offset, len(data), err)
		}
		_ = fmt.Sprint(err)
	})
}

// A gateway pulls a sensor's records as `ra -S sensor:561` does, keeps
// reconnecting, and reports on its readiness.
func ExampleRemote() {
	r := NewRemote("sensor.example.net:561", RemoteOptions{Filter: "man or tcp"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, func(recs []flow.Record) error {
		for i := range recs {
			_ = recs[i] // valid during the call only: copy (Detach) what is kept
		}
		return nil
	})
	if err := r.Ready(); err != nil {
		fmt.Println("not streaming yet:", errors.Is(err, ErrNotConnected))
	}
	st := r.Stats()
	_ = st.Reconnects // and Malformed, Bad (with offsets), LastErr
}
