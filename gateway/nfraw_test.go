package gateway

import (
	"bytes"
	"net"
	"net/netip"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// rawCollector gathers copies of what a RawHandler is handed.
type rawCollector struct {
	mu   sync.Mutex
	msgs []Message
}

func (c *rawCollector) handle(batch []Message) error {
	c.mu.Lock()
	for _, m := range batch {
		m.Data = append([]byte(nil), m.Data...)
		c.msgs = append(c.msgs, m)
	}
	c.mu.Unlock()
	return nil
}

func (c *rawCollector) byExporter() map[netip.AddrPort][]Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[netip.AddrPort][]Message{}
	for _, x := range c.msgs {
		m[x.From] = append(m[x.From], x)
	}
	return m
}

// TestUDPListenerRaw: the datagrams of the generated export captures
// (softflowd and pmacct: v5, v9, IPFIX), each capture sent by an exporter
// of its own to a two-socket listener, reach the RawHandler byte for byte,
// in each exporter's order, with the sender as From, the listener as To
// and a receive time inside the test's window. Without decoding the
// records handler sees nothing; with decoding it sees what a listener
// without the hook gives (direct decoding of the same datagrams).
func TestUDPListenerRaw(t *testing.T) {
	pcaps := exportPcaps(t)
	var streams [][][]byte
	for _, p := range pcaps {
		var s [][]byte
		if _, err := ReadMessages(p, FormatNF, func(b []Message) error {
			for _, m := range b {
				s = append(s, append([]byte(nil), m.Data...))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(s) > 0 {
			streams = append(streams, s)
		}
	}
	for _, decode := range []bool{false, true} {
		name := "raw-only"
		if decode {
			name = "raw+decode"
		}
		t.Run(name, func(t *testing.T) {
			l, err := ListenUDP("127.0.0.1:0", Options{Workers: 2}, NewCodecSet().New)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var raw rawCollector
			if err := l.SetRaw(raw.handle, decode); err != nil {
				t.Fatal(err)
			}
			senders := dialUDP(t, l.Addr().String(), len(streams))
			direct := NewCodecSet().New()
			var want []flow.Record
			var c collector
			sent := 0
			start := time.Now().UnixNano()
			serveUntil(t, l, c.handle, func() {
				for i, s := range streams {
					from := senders[i].LocalAddr().(*net.UDPAddr).AddrPort()
					for k, b := range s {
						senders[i].Write(b)
						sent++
						if k%256 == 255 {
							time.Sleep(time.Millisecond) // stay under the receive buffer
						}
						n := len(want)
						want, _ = direct.Decode(b, from, want)
						for k := n; k < len(want); k++ {
							want[k].Detach()
						}
					}
				}
			}, func() bool { return l.Messages() == uint64(sent) })
			end := time.Now().UnixNano()
			st := l.Stats()
			if st.Messages != uint64(sent) || st.KernelDrops != 0 {
				t.Fatalf("%d of %d datagrams, kernel drops %d", st.Messages, sent, st.KernelDrops)
			}
			got := raw.byExporter()
			for i, s := range streams {
				from := senders[i].LocalAddr().(*net.UDPAddr).AddrPort()
				g := got[from]
				if len(g) != len(s) {
					t.Fatalf("exporter %s: %d raw messages, sent %d", from, len(g), len(s))
				}
				for k := range s {
					m := g[k]
					if !bytes.Equal(m.Data, s[k]) {
						t.Fatalf("exporter %s message %d: %d bytes differ from the %d sent", from, k, len(m.Data), len(s[k]))
					}
					if m.To != l.Addr() || m.TS < start || m.TS > end || m.Pos != 0 {
						t.Fatalf("exporter %s message %d: to %s ts %d (window %d..%d) pos %d", from, k, m.To, m.TS, start, end, m.Pos)
					}
				}
			}
			if !decode {
				if len(c.recs) != 0 || st.Records != 0 || st.Errors != 0 {
					t.Fatalf("raw only: %d records handed, %d counted, %d errors", len(c.recs), st.Records, st.Errors)
				}
				return
			}
			if st.Errors != 0 || len(c.recs) != len(want) || len(want) == 0 {
				t.Fatalf("%d errors (%v), %d records, direct %d", st.Errors, st.Samples, len(c.recs), len(want))
			}
			g, w := byExporter(c.recs), byExporter(want)
			for e, wr := range w {
				if !reflect.DeepEqual(wr, g[e]) {
					t.Fatalf("exporter %s: records differ from direct decoding", e)
				}
			}
			t.Logf("%d captures, %d datagrams, %d records", len(streams), sent, len(want))
		})
	}
}

// TestTCPListenerRaw: two IPFIX sessions sending the corpus's IPFIX
// messages cut in odd pieces: the RawHandler gets each message whole, in
// order, with its offset in the stream as Pos and the session's address
// as From.
func TestTCPListenerRaw(t *testing.T) {
	msgs := corpusIPFIX(t)
	l, err := ListenTCP("127.0.0.1:0", Options{}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var raw rawCollector
	if err := l.SetRaw(raw.handle, false); err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	var froms []netip.AddrPort
	serveTCP(t, l, nil, func() {
		for s := 0; s < 2; s++ {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			froms = append(froms, conn.LocalAddr().(*net.TCPAddr).AddrPort())
			writeChunks(t, conn, stream)
		}
	}, func() bool { return l.Stats().Messages == uint64(2*len(msgs)) })
	got := raw.byExporter()
	for _, from := range froms {
		g := got[from]
		if len(g) != len(msgs) {
			t.Fatalf("session %s: %d raw messages, sent %d", from, len(g), len(msgs))
		}
		var off int64
		for i, m := range g {
			if !bytes.Equal(m.Data, msgs[i]) || m.Pos != off || m.To != l.Addr() {
				t.Fatalf("session %s message %d: %d bytes at %d to %s, want %d bytes at %d", from, i, len(m.Data), m.Pos, m.To, len(msgs[i]), off)
			}
			off += int64(len(msgs[i]))
		}
	}
	if st := l.Stats(); st.Records != 0 || st.Errors != 0 {
		t.Errorf("raw only: %d records, %d errors", st.Records, st.Errors)
	}
}

// TestSetRawAfterServe: the hook is fixed once Serve runs.
func TestSetRawAfterServe(t *testing.T) {
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	serveUntil(t, l, func([]flow.Record) error { return nil }, func() {
		for !l.serving.Load() {
			time.Sleep(time.Millisecond)
		}
		if err := l.SetRaw(func([]Message) error { return nil }, false); err != ErrRawServing {
			t.Errorf("SetRaw during Serve: %v", err)
		}
	}, func() bool { return true })
}

// TestUDPListenerRawAllocs: with the raw hook set, receiving allocates
// nothing per datagram (the batch slice grows once).
func TestUDPListenerRawAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("network; the race detector allocates")
	}
	l, err := ListenUDP("127.0.0.1:0", Options{Workers: 1, Batch: 32}, newFakeDecoders)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got, bytes int
	if err := l.SetRaw(func(b []Message) error {
		got += len(b)
		for i := range b {
			bytes += len(b[i].Data)
		}
		return nil
	}, false); err != nil {
		t.Fatal(err)
	}
	s := dialUDP(t, l.Addr().String(), 1)[0]
	msg := make([]byte, 1400)
	msg[1] = 10
	const n = 20000
	var before, after runtime.MemStats
	var recv uint64
	serveUntil(t, l, nil, func() {
		for i := 0; i < 200; i++ {
			s.Write(msg)
		}
		waitMessages(l, 200)
		runtime.ReadMemStats(&before)
		base := l.Messages()
		for i := 0; i < n; i++ {
			s.Write(msg)
			if i%512 == 511 {
				time.Sleep(time.Millisecond)
			}
		}
		waitMessages(l, base+n)
		runtime.ReadMemStats(&after)
		recv = l.Messages() - base
	}, func() bool { return true })
	per := float64(after.Mallocs-before.Mallocs) / float64(recv)
	t.Logf("%d datagrams, %d mallocs (%.4f per datagram)", recv, after.Mallocs-before.Mallocs, per)
	if recv < n/2 {
		t.Fatalf("only %d of %d datagrams arrived", recv, n)
	}
	if per > 0.05 {
		t.Errorf("%.3f allocations per datagram", per)
	}
	if uint64(got) != l.Messages() || bytes != got*len(msg) {
		t.Errorf("raw handler saw %d datagrams (%d bytes), listener %d", got, bytes, l.Messages())
	}
}
