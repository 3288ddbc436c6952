package serve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// The client side of the protocol (argus-format.md §8): a Remote pulls
// records from an argus sensor, a `flowgate sensor -P`, a radium or a
// flowgate gateway's argus+tcp sink, as `ra -S host:port` does, and keeps
// reconnecting.
//
// Handshake: read the 128-byte initial MAR (its cookie says 3.x or 5.x; a
// 4-byte error MAR 0x8V 0x8X 00 01 means access denied or too many
// clients), send "FILTER: <expr>" and wait for the 2-byte "OK" when a
// filter is set, then send "START: " (ra 3.0.8.2's exact bytes; 5.x
// servers match the prefix). From then on the socket carries records
// framed as in a file, read by the codecs/argus stream reader.

// Remote defaults.
const (
	DefaultMinBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultBatch            = 256
)

// Errors of a Remote. The ones from the peer are wrapped in a
// *RemoteError with the address.
var (
	ErrTooManyClients = errors.New("serve: server refused: too many clients")
	ErrAccessDenied   = errors.New("serve: server refused: access denied")
	ErrNotArgus       = errors.New("serve: peer is not an Argus server (no MAR)")
	ErrSASL           = errors.New("serve: server requires SASL authentication (not supported)")
	ErrFilterRefused  = errors.New("serve: server refused the filter")
	ErrNotConnected   = errors.New("serve: not connected yet")
	ErrStreamEnded    = errors.New("serve: server closed the stream")
)

// RemoteError is a failure of one connection to a server: what failed
// (dial, handshake, read, decode) and the stream offset where a read or
// decode failed.
type RemoteError struct {
	Addr   string // as given to NewRemote
	Peer   string // the connected address ("" before connect)
	Stage  string // "dial", "handshake", "read", "decode"
	Offset int64  // stream offset (the initial MAR is bytes 0-127) for read and decode
	Err    error
}

func (e *RemoteError) Error() string {
	s := "argus://" + e.Addr
	if e.Peer != "" && e.Peer != e.Addr {
		s += " (" + e.Peer + ")"
	}
	switch e.Stage {
	case "decode": // the decode error says where
		return s + ": " + e.Err.Error()
	case "read":
		return s + fmt.Sprintf(": read at byte %d: %v", e.Offset, e.Err)
	}
	return s + ": " + e.Stage + ": " + e.Err.Error()
}

func (e *RemoteError) Unwrap() error { return e.Err }

// RemoteOptions configure a Remote. The zero value connects with the
// defaults and no filter.
type RemoteOptions struct {
	// Filter, if set, is sent as "FILTER: <expr>" (ra's filter
	// language) so that the server leaves out what does not match. ra
	// sends "man or (<expr>)" to keep the MARs.
	Filter string
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts: it doubles after every failed or broken connection, from
	// MinBackoff up to MaxBackoff, and returns to MinBackoff after a
	// connection that delivered records and ended cleanly.
	MinBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds dialling, reading the MAR and the filter
	// reply.
	HandshakeTimeout time.Duration
	// IdleTimeout, when positive, drops a started connection that
	// receives nothing for this long (a sensor sends status MARs every
	// MAR interval, 60 s by default). Zero relies on TCP keepalive.
	IdleTimeout time.Duration
	// Batch is the most records handed to the handler at once (0 means
	// DefaultBatch). A batch is also handed over whenever the reader has
	// consumed what the socket delivered, so a trickle is not delayed.
	Batch int
	// Logger receives connection events (nil: discard).
	Logger *slog.Logger
}

// RemoteStats are a Remote's counters.
type RemoteStats struct {
	Connected  bool   // started and reading now
	Peer       string // the current (or last) peer address
	Version    int    // the Argus version of the current (or last) stream
	Connects   int64  // connections that reached START
	Reconnects int64  // connection attempts after the first
	Failures   int64  // attempts that failed before START (dial, handshake)
	Records    int64  // records handed to the handler, MARs included
	MARs       int64  // of which management records
	Bytes      int64  // stream bytes decoded, initial MARs included
	// Malformed counts connections reset for bad input (a corrupt or
	// truncated record); Bad holds the last few of them, with the peer
	// and the offset, newest last.
	Malformed   int64
	Bad         []RemoteError
	MalformedBy []PeerCount // Malformed per peer host
	// LastErr is the error that ended the last connection (nil while the
	// first one is up, or if none ended).
	LastErr error
}

// PeerCount is a count for one peer host (an address resolved from the
// configured name: a name may resolve to several servers over time).
type PeerCount struct {
	Peer string // host, no port
	N    int64
	Last string // the last error, for logs
}

// maxBad bounds RemoteStats.Bad.
const maxBad = 8

// Remote reads records from one Argus server, reconnecting. Run reads;
// Stats and Ready are safe to call from other goroutines.
type Remote struct {
	addr string
	opts RemoteOptions
	log  *slog.Logger

	records   atomic.Int64
	mars      atomic.Int64
	bytes     atomic.Int64
	connected atomic.Bool

	mu         sync.Mutex // guards the fields below
	peer       string
	version    int
	connects   int64
	reconnects int64
	failures   int64
	malformed  int64
	bad        []RemoteError
	badBy      []PeerCount
	lastErr    error
	conn       net.Conn // the current connection, for Close
	closed     bool

	// Reused across connections by Run's goroutine only.
	batch []flow.Record
	arena []byte
	in    connReader
}

// NewRemote returns a Remote for addr (host:port). Nothing is dialled
// until Run.
func NewRemote(addr string, opts RemoteOptions) *Remote {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	r := &Remote{addr: addr, opts: opts, log: opts.Logger, batch: make([]flow.Record, opts.Batch)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Addr returns the address Run dials.
func (r *Remote) Addr() string { return r.addr }

// Stats returns a snapshot of the counters.
func (r *Remote) Stats() RemoteStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RemoteStats{Connected: r.connected.Load(), Peer: r.peer, Version: r.version,
		Connects: r.connects, Reconnects: r.reconnects, Failures: r.failures,
		Records: r.records.Load(), MARs: r.mars.Load(), Bytes: r.bytes.Load(),
		Malformed: r.malformed, Bad: append([]RemoteError(nil), r.bad...),
		MalformedBy: append([]PeerCount(nil), r.badBy...), LastErr: r.lastErr}
}

// Ready returns nil while a started connection is up, else why not: the
// error that ended the last connection or attempt, or ErrNotConnected.
func (r *Remote) Ready() error {
	if r.connected.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr != nil {
		return r.lastErr
	}
	return &RemoteError{Addr: r.addr, Stage: "dial", Err: ErrNotConnected}
}

// Close ends the current connection and makes Run return. It is safe to
// call more than once and concurrently with Run.
func (r *Remote) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.conn != nil {
		r.conn.Close()
	}
	return nil
}

func (r *Remote) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Handler takes a batch of records. recs and the bytes they point at are
// valid only during the call. An error stops Run, which returns it.
type Handler func(recs []flow.Record) error

// handlerError marks an error of the handler as it travels up through
// the argus reader (it is returned by connReader.Read).
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// Run connects, reads and reconnects until ctx ends (it returns nil then),
// Close is called (nil), or h returns an error (that error).
func (r *Remote) Run(ctx context.Context, h Handler) error {
	backoff := r.opts.MinBackoff
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil || r.isClosed() {
			return nil
		}
		if attempt > 0 {
			r.mu.Lock()
			r.reconnects++
			r.mu.Unlock()
		}
		delivered, err := r.session(ctx, h)
		if he := (*handlerError)(nil); errors.As(err, &he) {
			return he.err
		}
		if ctx.Err() != nil || r.isClosed() {
			return nil
		}
		repeated := r.noteEnd(err)
		if delivered && !isMalformed(err) {
			backoff = r.opts.MinBackoff
		}
		// Jitter of up to a fifth, so that gateways restarted together
		// do not reconnect in step.
		wait := backoff - time.Duration(rand.Int64N(int64(backoff)/5+1))
		// A server that stays down fails the same way every attempt:
		// said once, then at debug level.
		level := slog.LevelWarn
		if repeated {
			level = slog.LevelDebug
		}
		r.log.Log(context.Background(), level, "argus: connection ended; reconnecting", "addr", r.addr, "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
	}
}

func isMalformed(err error) bool {
	return errors.Is(err, codecs.ErrCorrupt) || errors.Is(err, codecs.ErrTruncated) ||
		errors.Is(err, codecs.ErrUnknownFormat) || errors.Is(err, codecs.ErrUnsupported)
}

// noteEnd records the error that ended a connection or an attempt and
// reports whether the previous attempt ended the same way.
func (r *Remote) noteEnd(err error) (repeated bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	repeated = r.lastErr != nil && err != nil && r.lastErr.Error() == err.Error()
	r.lastErr = err
	var re *RemoteError
	if errors.As(err, &re) && re.Stage == "decode" {
		r.malformed++
		if len(r.bad) == maxBad {
			r.bad = append(r.bad[:0], r.bad[1:]...)
		}
		r.bad = append(r.bad, *re)
		host := peerHost(re.Peer)
		for i := range r.badBy {
			if r.badBy[i].Peer == host {
				r.badBy[i].N++
				r.badBy[i].Last = re.Error()
				return repeated
			}
		}
		r.badBy = append(r.badBy, PeerCount{Peer: host, N: 1, Last: re.Error()})
	}
	return repeated
}

// session is one connection: dial, handshake, read until it fails. It
// reports whether any record reached the handler.
func (r *Remote) session(ctx context.Context, h Handler) (delivered bool, err error) {
	d := net.Dialer{Timeout: r.opts.HandshakeTimeout}
	conn, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		r.failed()
		return false, &RemoteError{Addr: r.addr, Stage: "dial", Err: err}
	}
	return r.serveConn(ctx, conn, h)
}

// serveConn runs the protocol on conn until it fails or ctx ends.
func (r *Remote) serveConn(ctx context.Context, conn net.Conn, h Handler) (delivered bool, err error) {
	peer := conn.RemoteAddr().String()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		conn.Close()
		return false, nil
	}
	r.conn, r.peer = conn, peer
	r.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		r.connected.Store(false)
		r.mu.Lock()
		r.conn = nil
		r.mu.Unlock()
		conn.Close()
	}()

	mar, err := r.handshake(conn)
	if err != nil {
		r.failed()
		return false, &RemoteError{Addr: r.addr, Peer: peer, Stage: "handshake", Err: err}
	}
	r.in = connReader{conn: conn, pre: mar, idle: r.opts.IdleTimeout}
	rd, err := argus.NewReader(&r.in)
	if err != nil {
		r.failed()
		return false, &RemoteError{Addr: r.addr, Peer: peer, Stage: "handshake", Err: err}
	}
	r.mu.Lock()
	r.connects++
	r.version = rd.Version()
	r.mu.Unlock()
	r.connected.Store(true)
	r.log.Info("argus: connected", "addr", r.addr, "peer", peer, "version", rd.Version())

	// The initial MAR describes the connection, not the traffic: it is
	// read (so that a corrupt one is reported) and not handed on.
	var first flow.Record
	if err := rd.Decode(&first); err != nil {
		return false, r.readErr(peer, rd, err)
	}
	r.bytes.Add(rd.Offset())
	return r.stream(rd, peer, h)
}

// failed counts an attempt that did not reach START.
func (r *Remote) failed() {
	r.mu.Lock()
	r.failures++
	r.mu.Unlock()
}

// stream decodes records into the batch and hands it to h when it is full
// and whenever the reader is about to wait for the socket.
func (r *Remote) stream(rd *argus.Reader, peer string, h Handler) (delivered bool, err error) {
	n := 0
	r.arena = r.arena[:0]
	flush := func() error {
		if n == 0 {
			return nil
		}
		var mars int64
		for i := range r.batch[:n] {
			if r.batch[i].Type&flow.TypeMgmt != 0 {
				mars++
			}
		}
		err := h(r.batch[:n])
		r.records.Add(int64(n))
		r.mars.Add(mars)
		n = 0
		r.arena = r.arena[:0]
		delivered = true
		if err != nil {
			return &handlerError{err}
		}
		return nil
	}
	r.in.flush = flush
	defer func() { r.in.flush = nil }()
	for {
		off := rd.Offset()
		rec := &r.batch[n]
		err := rd.Decode(rec)
		if rec != &r.batch[n] {
			// The batch was handed over while Decode waited for the
			// socket: the record belongs at the new start.
			r.batch[n], *rec = *rec, r.batch[n]
		}
		if err != nil {
			// What was decoded before the failure is good: hand it on.
			if ferr := flush(); ferr != nil {
				return delivered, ferr
			}
			return delivered, r.readErr(peer, rd, err)
		}
		r.arena = r.batch[n].DetachInto(r.arena)
		r.bytes.Add(rd.Offset() - off)
		n++
		if n == len(r.batch) {
			if err := flush(); err != nil {
				return delivered, err
			}
		}
	}
}

// readErr classifies a Decode error: the handler's, a decode error (bad
// input: counted), the end of the stream or an I/O error.
func (r *Remote) readErr(peer string, rd *argus.Reader, err error) error {
	if he := (*handlerError)(nil); errors.As(err, &he) {
		return he
	}
	if err == io.EOF {
		return &RemoteError{Addr: r.addr, Peer: peer, Stage: "read", Offset: rd.Offset(), Err: ErrStreamEnded}
	}
	var de *codecs.DecodeError
	if errors.As(err, &de) && isMalformed(de.Err) {
		return &RemoteError{Addr: r.addr, Peer: peer, Stage: "decode", Offset: de.Offset, Err: err}
	}
	if errors.As(err, &de) {
		err = de.Err // an I/O error the reader wrapped
	}
	return &RemoteError{Addr: r.addr, Peer: peer, Stage: "read", Offset: rd.Offset(), Err: err}
}

// handshake reads the initial MAR, sends the filter and START, and
// returns the MAR's bytes.
func (r *Remote) handshake(conn net.Conn) ([]byte, error) {
	conn.SetDeadline(time.Now().Add(r.opts.HandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	mar := make([]byte, 128)
	if _, err := io.ReadFull(conn, mar[:4]); err != nil {
		return nil, fmt.Errorf("reading the MAR: %w", err)
	}
	words := int(binary.BigEndian.Uint16(mar[2:4]))
	switch {
	case mar[0]&0xF0 != 0x80:
		return nil, ErrNotArgus
	case words == 1 && mar[1]&0x80 != 0: // error MAR (§5.2)
		if mar[1]&0x0F == 1 {
			return nil, ErrAccessDenied
		}
		return nil, ErrTooManyClients
	case words != 32:
		return nil, fmt.Errorf("%w: initial MAR of %d words", ErrNotArgus, words)
	}
	if _, err := io.ReadFull(conn, mar[4:]); err != nil {
		return nil, fmt.Errorf("reading the MAR: %w", err)
	}
	if binary.BigEndian.Uint32(mar[4:])&0x1000 != 0 {
		return nil, ErrSASL
	}
	if f := r.opts.Filter; f != "" {
		if _, err := conn.Write([]byte("FILTER: " + f)); err != nil {
			return nil, err
		}
		var reply [2]byte
		if _, err := io.ReadFull(conn, reply[:]); err != nil {
			return nil, fmt.Errorf("reading the FILTER reply: %w", err)
		}
		if string(reply[:]) != "OK" {
			return nil, fmt.Errorf("%w: %q (reply %q)", ErrFilterRefused, f, reply[:])
		}
	}
	if _, err := conn.Write([]byte("START: ")); err != nil {
		return nil, err
	}
	return mar, nil
}

// connReader feeds the argus reader: first the MAR the handshake read,
// then the socket. Before each socket read, which may wait, it hands the
// records decoded so far to the handler, so that a batch is never held
// back waiting for more data.
type connReader struct {
	conn  net.Conn
	pre   []byte
	idle  time.Duration
	flush func() error
}

func (c *connReader) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if c.flush != nil {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	if c.idle > 0 {
		c.conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.conn.Read(p)
}

// peerHost returns the host part of a host:port ("" if none).
func peerHost(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// PeerHost is the host part of RemoteError.Peer, for labels.
func (e *RemoteError) PeerHost() string { return peerHost(e.Peer) }
