package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
)

// PacketEncoder fills one export message (a UDP datagram, an IPFIX message
// on a stream) from the first records of recs: the NetFlow v5, v9 and
// IPFIX encoders. It returns how many records it took; a
// *codecs.NotRepresentableError is about recs[n], which the caller skips.
type PacketEncoder interface {
	AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error)
}

// SendStats counts what a sender did.
type SendStats struct {
	Records          uint64 // flow records taken by the encoder
	Mgmt             uint64 // Argus management records: no NetFlow/IPFIX form, not sent
	Messages         uint64 // datagrams or messages written
	Bytes            uint64
	NotRepresentable uint64 // records the target format cannot hold (skipped)
	WriteErrors      uint64 // UDP: writes refused (no collector: ICMP port unreachable) and dropped
	Reconnects       uint64 // TCP: sessions opened again after a failure
	Resent           uint64 // TCP: messages written again on a new session
	Skipped          map[string]uint64
	LastErr          error // the last write error, for the report
}

// packer turns batches into messages with a PacketEncoder, counting what
// it skips.
type packer struct {
	strict bool
	enc    PacketEncoder
	buf    []byte
	stats  SendStats
	rate   Pacer
}

// pack encodes recs into messages, calling emit for each.
func (p *packer) pack(recs []flow.Record, emit func([]byte) error) error {
	for len(recs) > 0 {
		var n int
		var err error
		p.buf, n, err = p.enc.AppendPacket(p.buf[:0], recs)
		if len(p.buf) > 0 {
			if err := emit(p.buf); err != nil {
				return err
			}
			p.stats.Messages++
			p.stats.Bytes += uint64(len(p.buf))
		}
		// The encoders skip Argus MARs: count them apart, so that
		// Records counts the flows that went out.
		var mgmt uint64
		for i := range recs[:n] {
			if recs[i].Type == flow.TypeMgmt {
				mgmt++
			}
		}
		p.stats.Mgmt += mgmt
		p.stats.Records += uint64(n) - mgmt
		if err != nil {
			var nr *codecs.NotRepresentableError
			if !errors.As(err, &nr) || n >= len(recs) || p.strict {
				return err
			}
			p.stats.NotRepresentable++
			if p.stats.Skipped == nil {
				p.stats.Skipped = make(map[string]uint64)
			}
			k := skipKey(nr)
			if _, ok := p.stats.Skipped[k]; !ok && len(p.stats.Skipped) >= maxSkipKeys {
				k = "other"
			}
			p.stats.Skipped[k]++
			n++ // skip the record it could not hold
		} else if n == 0 {
			return fmt.Errorf("gateway: encoder took no record and gave no error")
		}
		p.rate.Wait(n)
		recs = recs[n:]
	}
	return nil
}

// Pacer keeps a sender under Rate records per second (0: no bound), the
// senders' rate= option.
type Pacer struct {
	Rate  int
	start time.Time
	sent  int64
}

// Wait accounts n records sent and sleeps while the sender is ahead.
func (pc *Pacer) Wait(n int) {
	if pc.Rate <= 0 {
		return
	}
	if pc.start.IsZero() {
		pc.start = time.Now()
	}
	pc.sent += int64(n)
	due := pc.start.Add(time.Duration(pc.sent * int64(time.Second) / int64(pc.Rate)))
	if d := time.Until(due); d > time.Millisecond {
		time.Sleep(d)
	}
}

// UDPSender sends records as NetFlow/IPFIX datagrams to one collector.
type UDPSender struct {
	mu   sync.Mutex
	conn *net.UDPConn
	p    packer
	emit func([]byte) error // s.write, bound once
}

// DialUDP opens a UDP sender to addr. The encoder fills each datagram
// (its MTU is the encoder's option, from Options.MTU).
func DialUDP(addr string, o Options, enc PacketEncoder) (*UDPSender, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	s := &UDPSender{conn: c.(*net.UDPConn), p: packer{strict: o.Strict, enc: enc, buf: make([]byte, 0, 65536), rate: Pacer{Rate: o.Rate}}}
	s.emit = s.write
	return s, nil
}

// Send encodes and sends recs. A datagram the kernel refuses (no
// collector listening yet: ICMP port unreachable) is counted and dropped,
// as UDP exporters do; other errors are returned.
func (s *UDPSender) Send(recs []flow.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.pack(recs, s.emit)
}

func (s *UDPSender) write(b []byte) error {
	_, err := s.conn.Write(b)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			s.p.stats.WriteErrors++
			s.p.stats.LastErr = err
			return nil
		}
		return err
	}
	return nil
}

// Stats returns the counts so far.
func (s *UDPSender) Stats() SendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.stats
}

// LocalAddr is the sender's own address (what collectors see as exporter).
func (s *UDPSender) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// Close closes the socket.
func (s *UDPSender) Close() error { return s.conn.Close() }

// TCPSender sends IPFIX messages over a TCP session (RFC 7011 §10.4) and
// opens a new session when the collector goes away. Each session gets a
// fresh encoder, so its templates are sent again at its start, as a new
// session needs.
type TCPSender struct {
	mu     sync.Mutex
	ctx    context.Context
	addr   string
	newEnc func() PacketEncoder
	conn   net.Conn
	p      packer
	out    []byte // the messages of the current batch
	dial   func(ctx context.Context, addr string) (net.Conn, error)
	// Backoff bounds the wait between reconnection attempts.
	backoff time.Duration
}

// Reconnection backoff: doubled from min up to max per failed attempt.
const (
	tcpBackoffMin = 50 * time.Millisecond
	tcpBackoffMax = 5 * time.Second
)

// DialTCP opens an IPFIX/TCP session to addr. It fails at once if the
// first connection fails; later failures reconnect until ctx is done.
func DialTCP(ctx context.Context, addr string, o Options, newEnc func() PacketEncoder) (*TCPSender, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	s := &TCPSender{ctx: ctx, addr: addr, newEnc: newEnc, dial: func(ctx context.Context, a string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", a)
	}}
	s.p.rate.Rate = o.Rate
	s.p.strict = o.Strict
	if err := s.connect(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *TCPSender) connect() error {
	c, err := s.dial(s.ctx, s.addr)
	if err != nil {
		return err
	}
	s.conn = c
	stats := s.p.stats
	s.p = packer{strict: s.p.strict, enc: s.newEnc(), buf: s.p.buf, stats: stats, rate: s.p.rate}
	return nil
}

// Send encodes recs into IPFIX messages and writes them in one write. If
// the session fails, Send reconnects (with backoff, until the context is
// done) and writes the batch again on the new session, re-encoded so that
// its templates come first; the failed session may have delivered part
// of the batch, so the collector can see some records twice (counted as
// Resent messages).
func (s *TCPSender) Send(recs []flow.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if s.conn != nil {
			before := s.p.stats
			s.out = s.out[:0]
			if err := s.p.pack(recs, s.collect); err != nil {
				return err
			}
			_, err := s.conn.Write(s.out)
			if err == nil {
				if attempt > 0 {
					s.p.stats.Resent += s.p.stats.Messages - before.Messages
				}
				s.backoff = 0
				return nil
			}
			s.p.stats = before // counted again when the batch goes out
			s.p.stats.LastErr = err
			s.conn.Close()
			s.conn = nil
		}
		if err := s.wait(); err != nil {
			return err
		}
		if err := s.connect(); err != nil {
			s.p.stats.LastErr = err
			continue
		}
		s.p.stats.Reconnects++
	}
}

func (s *TCPSender) collect(b []byte) error {
	s.out = append(s.out, b...)
	return nil
}

// wait sleeps the backoff, doubling it, or returns the context's error.
func (s *TCPSender) wait() error {
	if s.backoff == 0 {
		s.backoff = tcpBackoffMin
	}
	t := time.NewTimer(s.backoff)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return fmt.Errorf("ipfix+tcp://%s: %w (last error: %v)", s.addr, s.ctx.Err(), s.p.stats.LastErr)
	case <-t.C:
	}
	if s.backoff *= 2; s.backoff > tcpBackoffMax {
		s.backoff = tcpBackoffMax
	}
	return nil
}

// Stats returns the counts so far.
func (s *TCPSender) Stats() SendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.stats
}

// Close ends the session.
func (s *TCPSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// StreamSender writes export messages one after another to a stream: a
// raw message file (what ReadMessages reads back).
type StreamSender struct {
	w    io.Writer
	p    packer
	emit func([]byte) error
}

// NewStreamSender writes the messages enc makes to w.
func NewStreamSender(w io.Writer, o Options, enc PacketEncoder) *StreamSender {
	s := &StreamSender{w: w, p: packer{strict: o.Strict, enc: enc, rate: Pacer{Rate: o.Rate}}}
	s.emit = s.write
	return s
}

func (s *StreamSender) write(b []byte) error {
	_, err := s.w.Write(b)
	return err
}

// Send encodes recs and writes their messages.
func (s *StreamSender) Send(recs []flow.Record) error { return s.p.pack(recs, s.emit) }

// Stats returns the counts so far.
func (s *StreamSender) Stats() SendStats { return s.p.stats }

// maxSkipKeys bounds SendStats.Skipped.
const maxSkipKeys = 64

// skipKey names a not-representable record's reason without the value
// that some encoders append ("saddr: v5 holds IPv4 addresses only"), so
// that the table does not grow with every address.
func skipKey(nr *codecs.NotRepresentableError) string {
	r := nr.Reason
	if i := strings.LastIndex(r, ": "); i > 0 {
		r = r[:i]
	}
	return nr.Field + ": " + r
}
