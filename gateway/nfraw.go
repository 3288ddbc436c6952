package gateway

import (
	"errors"
	"net/netip"
	"time"
)

// RawHandler receives export messages exactly as they arrived: each
// Message is one UDP datagram or one IPFIX-over-TCP message, with its
// exporter (From), the listener's address (To), the receive time (TS,
// Unix ns) and, over TCP, its offset in the session's stream (Pos). It is
// how a raw-datagram pipeline (a Kafka topic of format "raw") takes
// messages without decoding them: decoding can then be replayed later, by
// a consumer, with a fixed mapping.
//
// The batch and the Data slices alias the listener's buffers until it
// returns. A listener calls it from each worker's (UDP) or session's (TCP)
// goroutine, so it must be safe for concurrent use. Its error stops the
// listener, as a Handler's does. Messages of one exporter arrive in order
// within one goroutine (SO_REUSEPORT hashes the 4-tuple; a TCP session is
// one stream).
type RawHandler func(batch []Message) error

// ErrRawServing is returned by SetRaw after Serve has started.
var ErrRawServing = errors.New("gateway: SetRaw after Serve")

// rawTap collects one worker's or session's messages for a RawHandler;
// batchDecoder holds it (nil when no RawHandler is set, which costs one
// nil test a message). Its slice grows once to the batch size and is
// reused: no allocation per message.
type rawTap struct {
	h      RawHandler
	to     netip.AddrPort
	decode bool // the messages are decoded too (for the Handler)
	batch  []Message
	stream bool  // TCP: Pos is the offset in the session's stream
	pos    int64 // the next message's offset
}

func (t *rawTap) add(b []byte, from netip.AddrPort) {
	m := Message{Data: b, From: from, To: t.to, TS: time.Now().UnixNano()}
	if t.stream {
		m.Pos = t.pos
		t.pos += int64(len(b))
	}
	t.batch = append(t.batch, m)
}

func (t *rawTap) flush() error {
	if len(t.batch) == 0 {
		return nil
	}
	err := t.h(t.batch)
	clear(t.batch) // let go of the buffers' addresses
	t.batch = t.batch[:0]
	return err
}

// SetRaw hands every datagram to h as received, before (decode true) or
// instead of (decode false) decoding it; with decode false, Serve may be
// given a nil Handler and the listener's template state stays empty. Call
// it before Serve.
func (l *UDPListener) SetRaw(h RawHandler, decode bool) error {
	if l.serving.Load() {
		return ErrRawServing
	}
	for _, w := range l.workers {
		w.bd.raw = nil
		if h != nil {
			w.bd.raw = &rawTap{h: h, to: l.addr, decode: decode}
		}
	}
	return nil
}

// SetRaw hands every IPFIX message of every session to h as received,
// before (decode true) or instead of (decode false) decoding it. Pos is
// the message's offset in its session's stream. Call it before Serve.
func (l *TCPListener) SetRaw(h RawHandler, decode bool) error {
	if l.serving.Load() {
		return ErrRawServing
	}
	l.raw, l.rawDecode = h, decode
	return nil
}

// rawTap is a session's tap, nil when no RawHandler is set.
func (l *TCPListener) rawTap() *rawTap {
	if l.raw == nil {
		return nil
	}
	return &rawTap{h: l.raw, to: l.Addr(), decode: l.rawDecode, stream: true}
}
