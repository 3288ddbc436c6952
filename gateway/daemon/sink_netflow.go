package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/mappings"
)

// NetFlow/IPFIX exporter sinks: nf5+udp://, nf9+udp://, ipfix+udp:// and
// ipfix+tcp://. The encoders are strict: a record the format cannot hold
// (an IPv6 flow in v5, a value wider than its element) is lost as not
// representable, never sent altered; an Argus MAR has no NetFlow form and
// is lost the same way.
//
// Over UDP each datagram's records are known, so a datagram the kernel
// refuses (ECONNREFUSED: the collector's port is closed, as ICMP said of
// an earlier one) loses exactly its records, as sink_error. Over TCP the
// gateway's sender keeps the session (RFC 7011 §10.4: templates again on
// each new session) and sends a batch again on a new session when one
// fails; a Write waits at most tcpSendWait for that, then loses the batch
// and the next Writes reconnect, no more often than tcpRedial.

// Bounds of an ipfix+tcp:// sink's waits.
var (
	tcpSendWait = 5 * time.Second
	tcpRedial   = time.Second
)

// ErrExporter is what an exporter sink's send failures wrap.
var ErrExporter = errors.New("daemon: exporter sink")

// netflowSink is one exporter sink.
type netflowSink struct {
	name   string
	ep     gateway.Endpoint
	newEnc func() gateway.PacketEncoder

	// UDP.
	conn *net.UDPConn
	enc  gateway.PacketEncoder
	buf  []byte
	pace gateway.Pacer

	// TCP.
	tcp      *gateway.TCPSender
	tcpStop  context.CancelFunc
	lastDial time.Time
	refused  refusals

	// Ready's view, shared with scrapes.
	stMu    sync.Mutex
	lastErr error
	errAt   time.Time
	sending time.Time // a TCP Send in progress since
}

func newNetFlowSink(s config.Sink, env Env) (Sink, error) {
	ep := s.Net
	newEnc, err := exporterEncoder(ep, env.Mapping)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	n := &netflowSink{name: s.Text, ep: ep, newEnc: newEnc}
	switch {
	case ep.Transport == gateway.TransportUDP:
		c, err := net.Dial("udp", ep.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Text, err)
		}
		n.conn = c.(*net.UDPConn)
		n.enc = newEnc()
		n.buf = make([]byte, 0, 65536)
		n.pace.Rate = ep.Opts.Rate
	case ep.Scheme == "ipfix+tcp":
		// The collector may be down at start: the sink is then up but not
		// ready, and its Writes dial again.
		if err := n.dial(); err != nil && env.Log != nil {
			env.Log.Warn("collector not reachable; records are lost until it is", "sink", s.Text, "err", err)
		}
	default:
		return nil, fmt.Errorf("%w: %s as a sink (nf5+udp, nf9+udp, ipfix+udp, ipfix+tcp)", ErrNotImplemented, s.Text)
	}
	return n, nil
}

// exporterEncoder returns the maker of ep's strict encoder; a pipeline
// mapping of the format's schema (ipfix, netflow9) shapes its templates.
func exporterEncoder(ep gateway.Endpoint, m *mappings.File) (func() gateway.PacketEncoder, error) {
	stream := ep.Transport != gateway.TransportUDP
	switch ep.Format {
	case gateway.FormatNF5:
		return func() gateway.PacketEncoder { return netflow5.NewEncoder(nil, time.Now) }, nil
	case gateway.FormatNF9:
		var opts []netflow9.EncoderOption
		if ep.Opts.MTU > 0 {
			opts = append(opts, netflow9.WithMTU(ep.Opts.MTU))
		}
		if stream {
			opts = append(opts, netflow9.WithTemplateRefresh(0, 0))
		}
		if m != nil && m.Schema == "netflow9" {
			nm, err := netflow9.NewMapping(m)
			if err != nil {
				return nil, fmt.Errorf("mapping: %w", err)
			}
			opts = append(opts, netflow9.WithEncoderMapping(nm))
		}
		return func() gateway.PacketEncoder { return netflow9.NewEncoder(nil, opts...) }, nil
	case gateway.FormatIPFIX:
		var opts []ipfix.EncoderOption
		if ep.Opts.MTU > 0 {
			opts = append(opts, ipfix.WithMTU(ep.Opts.MTU))
		}
		if stream {
			// Templates once per session, at its start.
			opts = append(opts, ipfix.WithTemplateRefresh(0, 0))
		}
		switch ep.Opts.Times {
		case "ms":
			opts = append(opts, ipfix.WithMilliseconds())
		case "ns":
			opts = append(opts, ipfix.WithNanoseconds())
		}
		if m != nil && m.Schema == "ipfix" {
			im, err := ipfix.NewMapping(m)
			if err != nil {
				return nil, fmt.Errorf("mapping: %w", err)
			}
			opts = append(opts, ipfix.WithEncoderMapping(im))
		}
		return func() gateway.PacketEncoder { return ipfix.NewEncoder(nil, opts...) }, nil
	}
	return nil, fmt.Errorf("%w: a sink needs its version: nf5+udp, nf9+udp, ipfix+udp or ipfix+tcp", ErrNotImplemented)
}

func (s *netflowSink) String() string { return s.name }

// Listening is not implemented: an exporter connects, it does not listen.

func (s *netflowSink) Write(recs []flow.Record, lost LostFunc) error {
	if s.conn != nil {
		return s.writeUDP(recs, lost)
	}
	return s.writeTCP(recs, lost)
}

// writeUDP fills datagrams with the encoder and sends each, so that a
// refused one loses its own records.
func (s *netflowSink) writeUDP(recs []flow.Record, lost LostFunc) error {
	var werr error
	for len(recs) > 0 {
		var n int
		var err error
		s.buf, n, err = s.enc.AppendPacket(s.buf[:0], recs)
		if n > len(recs) || n == 0 && err == nil {
			loseAll(recs, lost, ReasonSinkError)
			return firstErr(werr, fmt.Errorf("%w: %s: the encoder took %d of %d records", ErrExporter, s.name, n, len(recs)))
		}
		failed := false
		if len(s.buf) > 0 {
			if _, e := s.conn.Write(s.buf); e != nil {
				failed = true
				if werr == nil {
					werr = fmt.Errorf("%w: %s: %w", ErrExporter, s.name, e)
				}
			}
		}
		for i := range recs[:n] {
			switch {
			case recs[i].Type == flow.TypeMgmt:
				lost(&recs[i], ReasonNotRepresentable)
			case failed:
				lost(&recs[i], ReasonSinkError)
			}
		}
		if err != nil {
			if !errors.Is(err, codecs.ErrNotRepresentable) || n >= len(recs) {
				loseAll(recs[n:], lost, ReasonSinkError)
				return firstErr(werr, fmt.Errorf("%w: %s: %w", ErrExporter, s.name, err))
			}
			lost(&recs[n], ReasonNotRepresentable)
			n++
		}
		s.pace.Wait(n)
		recs = recs[n:]
	}
	s.noteErr(werr)
	return werr
}

// refusals notes which records of the batch being sent the encoders
// refused. The gateway's TCP sender runs a batch through the encoder
// again on a new session, from its start: a pass starts at offset 0.
type refusals struct {
	mu    sync.Mutex
	total int // the batch's length
	idx   []int
}

// refusingEncoder is a strict encoder whose refusals are noted.
type refusingEncoder struct {
	gateway.PacketEncoder
	r *refusals
}

func (e refusingEncoder) AppendPacket(dst []byte, recs []flow.Record) ([]byte, int, error) {
	b, n, err := e.PacketEncoder.AppendPacket(dst, recs)
	e.r.mu.Lock()
	off := e.r.total - len(recs)
	if off == 0 {
		e.r.idx = e.r.idx[:0] // a new pass over the batch (only a pass's first call is at 0)
	}
	if err != nil && errors.Is(err, codecs.ErrNotRepresentable) && n < len(recs) {
		e.r.idx = append(e.r.idx, off+n)
	}
	e.r.mu.Unlock()
	return b, n, err
}

func (s *netflowSink) dial() error {
	s.lastDial = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	opts := s.ep.Opts
	opts.Strict = false // the sender skips a refused record; refusingEncoder says which
	t, err := gateway.DialTCP(ctx, s.ep.Addr, opts, func() gateway.PacketEncoder {
		return refusingEncoder{s.newEnc(), &s.refused}
	})
	if err != nil {
		cancel()
		err = fmt.Errorf("%w: %s: %w", ErrExporter, s.name, err)
		s.noteErr(err)
		return err
	}
	s.tcp, s.tcpStop = t, cancel
	s.noteErr(nil)
	return nil
}

// writeTCP sends the batch on the session. With the collector gone, the
// sender reconnects and sends the batch again; a Write gives up after
// tcpSendWait (the daemon's Close must not wait on a dead collector) and
// drops the sender, and the next Writes dial again.
func (s *netflowSink) writeTCP(recs []flow.Record, lost LostFunc) error {
	if s.tcp == nil {
		if time.Since(s.lastDial) < tcpRedial {
			loseAll(recs, lost, ReasonSinkError)
			return s.currentErr()
		}
		if err := s.dial(); err != nil {
			loseAll(recs, lost, ReasonSinkError)
			return err
		}
	}
	s.refused.mu.Lock()
	s.refused.total, s.refused.idx = len(recs), s.refused.idx[:0]
	s.refused.mu.Unlock()
	// The watchdog cancels the sender's context: its reconnection loop
	// then gives up and Send returns. (A timer per batch, not per record.)
	watch := time.AfterFunc(tcpSendWait, s.tcpStop)
	s.setSending(time.Now())
	err := s.tcp.Send(recs)
	s.setSending(time.Time{})
	fired := !watch.Stop()
	s.refused.mu.Lock()
	refused := s.refused.idx
	s.refused.mu.Unlock()
	k := 0
	for i := range recs {
		switch {
		case k < len(refused) && refused[k] == i:
			lost(&recs[i], ReasonNotRepresentable)
			k++
		case recs[i].Type == flow.TypeMgmt:
			lost(&recs[i], ReasonNotRepresentable)
		case err != nil:
			// The session failed and did not come back in time (part of
			// the batch may have reached the collector before it failed).
			lost(&recs[i], ReasonSinkError)
		}
	}
	if err != nil || fired {
		s.tcp.Close()
		s.tcpStop()
		s.tcp = nil
	}
	if err != nil {
		err = fmt.Errorf("%w: %s: collector unreachable for %v: %w", ErrExporter, s.name, tcpSendWait, err)
	}
	s.noteErr(err)
	return err
}

func (s *netflowSink) noteErr(err error) {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	if err != nil {
		s.lastErr, s.errAt = err, time.Now()
	} else if s.tcp != nil {
		s.lastErr = nil // a TCP session that works is ready again
	}
}

func (s *netflowSink) currentErr() error {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	return s.lastErr
}

func (s *netflowSink) setSending(t time.Time) {
	s.stMu.Lock()
	s.sending = t
	s.stMu.Unlock()
}

// Ready: a TCP sink is not ready while it has no session or a send has
// waited over a second (the sender is reconnecting); a UDP one for ten
// seconds after a datagram was refused.
func (s *netflowSink) Ready() error {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	if !s.sending.IsZero() && time.Since(s.sending) > time.Second {
		return fmt.Errorf("%w: %s: a send has waited %v for the collector (reconnecting)", ErrExporter, s.name, time.Since(s.sending).Round(time.Second))
	}
	if s.conn != nil {
		if s.lastErr != nil && time.Since(s.errAt) < 10*time.Second {
			return s.lastErr
		}
		return nil
	}
	return s.lastErr
}

// Flush: datagrams and messages go out as they are made; nothing waits.
func (s *netflowSink) Flush() error { return nil }

func (s *netflowSink) Close() error {
	if s.conn != nil {
		return s.conn.Close()
	}
	if s.tcp != nil {
		err := s.tcp.Close()
		s.tcpStop()
		s.tcp = nil
		return err
	}
	return nil
}
