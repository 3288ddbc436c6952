// Package serve serves live Argus records to remote clients over TCP, as
// the argus daemon does on port 561 (argus-format.md §8): ra, rasplit,
// radium and any other Argus client can read a flowgate sensor with
// `ra -S host:port`.
//
// # Protocol
//
// On connect the server writes the 128-byte initial MAR (cause START) and
// then sends nothing until the client asks for data. Commands are ASCII
// strings, one per write, with no terminator, and are matched by prefix:
//
//	START: ...        begin streaming (3.x sends "START: ", 5.x "START: user='u',cmd='ra[123]'")
//	FILTER: <expr>    server-side filter in the ra language (flow/filter); reply "OK" or "ER"
//	DONE: ...         the client is finished; the server closes the connection
//	FILE: ...         (radium file replay) not supported; reply "ER"
//	MODEL:, PROJECT:, GEN:   accepted and ignored
//
// ra sends "FILTER: man or (<user filter>)" before "START: " so that
// MARs keep flowing. A client that sends no command for StartupTimeout
// (argus's ARGUS_CLIENT_STARTUP_TIMEOUT, 5 s) before START is dropped. A
// connection over MaxClients (ARGUS_MAXLISTEN, 10) gets the 4-byte error
// MAR 0x8V 0x82 00 01 (ERROR, too many clients) and is closed. After START
// the records are framed as in a file. The 2-byte FILTER reply is only
// written before START: once records flow it would break the framing, so
// a later FILTER replaces the filter silently.
//
// # Data path
//
// Publish, called from the capture goroutine, never waits for a client:
// it encodes the record once (in the server's Argus version) and, for
// every started client whose filter matches, appends the bytes to that
// client's queue. The queue is bounded in records and bytes; a record
// that does not fit is dropped for that client only and counted. One
// goroutine per client writes the queue to its socket in batches, so a
// slow or stalled client costs memory up to its bound and nothing else.
// Periodic status MARs are published like any other record.
//
// For every client, each record published after its START is counted
// exactly once: Sent + Queued + Dropped + Filtered + Discarded = Offered
// (Discarded: still queued when the connection ended).
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// Defaults, after the argus daemon's.
const (
	DefaultPort           = 561             // ARGUS_DEFAULTPORT
	DefaultMaxClients     = 10              // ARGUS_MAXLISTEN
	DefaultStartupTimeout = 5 * time.Second // ARGUS_CLIENT_STARTUP_TIMEOUT
	DefaultQueueRecords   = 32768
	DefaultQueueBytes     = 4 << 20
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("serve: server closed")

// Options configure a Server. The zero value serves Argus 5 records with
// the argus defaults.
type Options struct {
	// Version is the Argus version of the records served: 3 or 5 (0
	// means 5). Records of the other version are converted by the Argus
	// writer (argus.NewWriter); every client of a server gets the same
	// version, as with argus and radium.
	Version int

	// MaxClients bounds the connected clients, started or not (0 means
	// DefaultMaxClients).
	MaxClients int

	// QueueRecords and QueueBytes bound each client's queue of records
	// published but not yet written to its socket (0 means the default).
	QueueRecords int
	QueueBytes   int

	// StartupTimeout drops a client that sends no command for this long
	// before START (0 means DefaultStartupTimeout).
	StartupTimeout time.Duration

	// WriteTimeout, when positive, disconnects a started client whose
	// socket accepts no data for this long. Zero keeps a stalled client
	// connected; its queue overflows and the overflow is counted.
	WriteTimeout time.Duration

	// MAR returns the initial MAR sent to each new connection (Type
	// flow.TypeMgmt; a zero Cause is set to START, a zero Mgmt.Now to the
	// current time). Nil: a MAR with the server's start time, Now, and
	// argus's report and MAR intervals (5 s, 60 s).
	MAR func() flow.Record

	// Lossy lets the encoder drop or convert values the served version
	// cannot hold (argus.WithLossy) instead of refusing the record.
	Lossy bool

	// Logger receives connection events and rate-limited data-path
	// warnings (nil: discard).
	Logger *slog.Logger
}

// Stats are a snapshot of the server's counters.
type Stats struct {
	Clients []ClientStats // connected clients, in connection order

	Accepted int64 // connections accepted (MaxClients not exceeded)
	Rejected int64 // connections refused with the too-many-clients MAR
	TimedOut int64 // clients dropped for sending no START in time

	Published    int64 // records given to Publish
	Encoded      int64 // records encoded (at least one client started)
	EncodeErrors int64 // records the encoder refused (not served to anyone)

	// Totals over all clients, the disconnected ones included.
	Offered      int64
	Sent         int64
	SentBytes    int64
	Dropped      int64
	DroppedBytes int64
	Filtered     int64
	Discarded    int64
}

// ClientStats are one client's counters. Every record published while the
// client is started is offered to it once and ends in exactly one of
// Sent, Queued, Dropped, Filtered and Discarded.
type ClientStats struct {
	ID        uint64
	Remote    string
	Connected time.Time
	Started   bool
	Filter    string // the accepted FILTER expression, "" for none

	Offered      int64 // records published while started
	Sent         int64 // written to the socket
	SentBytes    int64
	Queued       int64 // waiting (or being written) now
	QueuedBytes  int64
	Dropped      int64 // queue full
	DroppedBytes int64
	Filtered     int64 // not matched by the client's filter
	Discarded    int64 // still queued when the connection ended
}

func (c *ClientStats) add(o *ClientStats) {
	c.Offered += o.Offered
	c.Sent += o.Sent
	c.SentBytes += o.SentBytes
	c.Dropped += o.Dropped
	c.DroppedBytes += o.DroppedBytes
	c.Filtered += o.Filtered
	c.Discarded += o.Discarded
}

// Server serves published records to Argus clients. Its methods are safe
// for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	err   error // invalid options, returned by Serve
	start time.Time

	published atomic.Int64

	mu         sync.Mutex // guards everything below, and the encoder
	closed     bool
	listeners  map[net.Listener]struct{}
	clients    []*client // connected, in connection order
	started    []*client // started (copy on write: Publish iterates it)
	nextID     uint64
	gone       ClientStats // totals of disconnected clients
	accepted   int64
	rejected   int64
	timedOut   int64
	encoded    int64
	encErrs    int64
	lastEncLog time.Time
	enc        *argus.Writer
	sink       sink

	wg sync.WaitGroup // connection goroutines
}

// sink collects what the argus.Writer flushes, one record at a time.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// New returns a Server. Invalid options make Serve return an error.
func New(opts Options) *Server {
	if opts.Version == 0 {
		opts.Version = 5
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.QueueRecords <= 0 {
		opts.QueueRecords = DefaultQueueRecords
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.StartupTimeout <= 0 {
		opts.StartupTimeout = DefaultStartupTimeout
	}
	s := &Server{opts: opts, log: opts.Logger, start: time.Now(), listeners: map[net.Listener]struct{}{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var wopts []argus.Option
	if opts.Lossy {
		wopts = append(wopts, argus.WithLossy(nil))
	}
	w, err := argus.NewWriter(&s.sink, opts.Version, wopts...)
	if err != nil {
		s.err = fmt.Errorf("serve: %w", err)
		return s
	}
	s.enc = w
	// The writer synthesises a MAR before the first flow record; give it
	// one now so that every later Encode yields exactly one record.
	m := s.defaultMAR()
	if _, err := s.encode(&m); err != nil {
		s.err = fmt.Errorf("serve: initial MAR: %w", err)
	}
	return s
}

func (s *Server) defaultMAR() flow.Record {
	var m flow.Record
	m.Type, m.Cause, m.Has = flow.TypeMgmt, flow.CauseStart, flow.HasMgmt
	m.Mgmt = flow.Mgmt{NextSeq: 1, StartTime: s.start.UnixNano(), Now: time.Now().UnixNano(),
		ReportInterval: 5, MarInterval: 60, RecordLen: -1}
	return m
}

// encode returns rec's bytes in the served version; they are valid until
// the next call. s.mu must be held.
func (s *Server) encode(rec *flow.Record) ([]byte, error) {
	s.sink.b = s.sink.b[:0]
	if err := s.enc.Encode(rec); err != nil {
		return nil, err
	}
	if err := s.enc.Flush(); err != nil {
		return nil, err
	}
	return s.sink.b, nil
}

// initialMAR encodes the MAR for a new connection.
func (s *Server) initialMAR() ([]byte, error) {
	var m flow.Record
	if s.opts.MAR != nil {
		m = s.opts.MAR()
		m.Type |= flow.TypeMgmt
		m.Has |= flow.HasMgmt
		if m.Cause == 0 {
			m.Cause = flow.CauseStart
		}
		if m.Mgmt.Now == 0 {
			m.Mgmt.Now = time.Now().UnixNano()
		}
	} else {
		m = s.defaultMAR()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.encode(&m)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// Publish offers rec to every started client. It never waits for a
// client: a client whose queue is full misses the record, and the drop is
// counted. rec is encoded before Publish returns and may be reused.
func (s *Server) Publish(rec *flow.Record) {
	s.published.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.started) == 0 || s.enc == nil {
		return
	}
	b, err := s.encode(rec)
	if err != nil {
		s.encErrs++
		if now := time.Now(); now.Sub(s.lastEncLog) >= 10*time.Second {
			s.lastEncLog = now
			s.log.Warn("serve: record not encoded", "err", err, "errors", s.encErrs)
		}
		return
	}
	s.encoded++
	for _, c := range s.started {
		c.offer(rec, b)
	}
}

// Serve accepts connections on ln until Close or Shutdown, and returns
// ErrServerClosed then. It closes ln when it returns. Serve may be called
// for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	if s.err != nil {
		ln.Close()
		return s.err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if !retriableAccept(err) {
				return fmt.Errorf("serve: accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("serve: accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.accept(conn)
	}
}

func retriableAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) accept(conn net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	if len(s.clients) >= s.opts.MaxClients {
		s.rejected++
		s.wg.Add(1)
		s.mu.Unlock()
		go s.reject(conn)
		return
	}
	s.nextID++
	c := newClient(s, conn, s.nextID)
	s.clients = append(s.clients, c)
	s.accepted++
	s.wg.Add(1)
	s.mu.Unlock()
	go c.run()
}

// reject sends the too-many-clients error MAR (§5.2) and closes conn.
func (s *Server) reject(conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	s.log.Info("serve: too many clients; refused", "remote", conn.RemoteAddr().String(), "max", s.opts.MaxClients)
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte{0x80 | byte(s.opts.Version), 0x82, 0, 1}); err != nil {
		return
	}
	// Half-close and drain briefly, so that a command the client already
	// sent does not turn the close into a reset that loses the error MAR.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		var buf [512]byte
		for range 64 {
			if _, err := conn.Read(buf[:]); err != nil {
				break
			}
		}
	}
}

// startClient moves c to the started list. Records published from now on
// are offered to it.
func (s *Server) startClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	st := make([]*client, 0, len(s.started)+1)
	st = append(st, s.started...)
	s.started = append(st, c)
}

// removeClient forgets c and keeps its final counters in the totals.
func (s *Server) removeClient(c *client, final *ClientStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.clients {
		if x == c {
			s.clients = append(s.clients[:i:i], s.clients[i+1:]...)
			break
		}
	}
	st := make([]*client, 0, len(s.started))
	for _, x := range s.started {
		if x != c {
			st = append(st, x)
		}
	}
	s.started = st
	s.gone.add(final)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Accepted: s.accepted, Rejected: s.rejected, TimedOut: s.timedOut,
		Published: s.published.Load(), Encoded: s.encoded, EncodeErrors: s.encErrs}
	tot := s.gone
	for _, c := range s.clients {
		cs := c.stats()
		tot.add(&cs)
		st.Clients = append(st.Clients, cs)
	}
	st.Offered, st.Sent, st.SentBytes = tot.Offered, tot.Sent, tot.SentBytes
	st.Dropped, st.DroppedBytes, st.Filtered, st.Discarded = tot.Dropped, tot.DroppedBytes, tot.Filtered, tot.Discarded
	return st
}

// stopListening marks the server closed, closes its listeners and returns
// the clients connected now.
func (s *Server) stopListening() []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	return append([]*client(nil), s.clients...)
}

// Close stops the listeners and disconnects every client at once,
// discarding what is queued. It waits for the connection goroutines.
func (s *Server) Close() error {
	cl := s.stopListening()
	for _, c := range cl {
		c.conn.Close()
	}
	s.wg.Wait()
	return nil
}

// Shutdown stops the listeners, lets every started client receive what is
// queued for it, then closes the connections. If ctx ends first, the rest
// is discarded as by Close and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	cl := s.stopListening()
	for _, c := range cl {
		c.drain()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}
