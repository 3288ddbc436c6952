package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/flowgate/flowgate/codecs"
)

// DefaultMaxSessions bounds a TCP/TLS listener's sessions at once: each
// holds a read buffer and its own templates, so a connection flood must
// not grow memory without end. Sessions past it are closed at once and
// counted.
const DefaultMaxSessions = 1024

// IPFIX message header size and the session read buffer (a message is at
// most 65,535 bytes, so any whole message fits in the buffer).
const (
	ipfixHeaderLen = 16
	sessionBufSize = 256 << 10
)

// TCPListener accepts IPFIX sessions over TCP or TLS (RFC 7011 §10.4,
// §11). Each session is its own template scope: it gets a fresh set of
// decoders, so two exporters (or two sessions of one exporter) using the
// same template id never see each other's templates, and a session's
// templates go away with it (RFC 7011 §8.1: templates are valid for the
// session's lifetime). Messages are framed by the header's length field.
type TCPListener struct {
	ln      net.Listener
	newDec  NewDecoders
	c       Counters
	tls     bool
	max     int // sessions at once
	refused atomic.Uint64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	serving atomic.Bool

	owned OwnedHandler // SetOwned

	// SessionEnd, when set before Serve, gets each session's decoders when
	// the session ends (CodecSet.Release keeps their counters).
	SessionEnd func(Decoders)

	raw       RawHandler // SetRaw (nfraw.go)
	rawDecode bool
}

// ListenTCP listens for IPFIX sessions on addr; with o.Cert and o.Key the
// sessions are TLS (and with o.ClientCA, clients must show a certificate
// signed by it).
func ListenTCP(addr string, o Options, newDec NewDecoders) (*TCPListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &TCPListener{ln: ln, newDec: newDec, conns: map[net.Conn]struct{}{}, max: o.Sessions}
	if l.max == 0 {
		l.max = DefaultMaxSessions
	}
	if o.Cert != "" {
		cfg, err := serverTLS(o)
		if err != nil {
			ln.Close()
			return nil, err
		}
		l.ln = tls.NewListener(ln, cfg)
		l.tls = true
	}
	return l, nil
}

func serverTLS(o Options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.Cert, o.Key)
	if err != nil {
		return nil, fmt.Errorf("ipfix+tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCA != "" {
		pem, err := os.ReadFile(o.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("ipfix+tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ipfix+tls: %s: no PEM certificate", o.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Addr is the listening address.
func (l *TCPListener) Addr() netip.AddrPort {
	return l.ln.Addr().(*net.TCPAddr).AddrPort()
}

// SetOwned makes Serve hand each batch to h, which takes the buffers,
// rather than to Serve's Handler. Call it before Serve.
func (l *TCPListener) SetOwned(h OwnedHandler) { l.owned = h }

// Serve accepts sessions until ctx is done (it returns nil) or the
// handler fails (it returns that error). Each session runs in its own
// goroutine and calls h from it. A session that breaks the framing (a
// version other than 10, a length under 16, the stream ending inside a
// message) is counted and closed; one whose messages fail to decode is
// counted and kept.
func (l *TCPListener) Serve(ctx context.Context, h Handler) error {
	if !l.serving.CompareAndSwap(false, true) {
		return errors.New("gateway: TCPListener.Serve called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var herr error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { herr = err })
		cancel()
	}
	go func() {
		<-ctx.Done()
		l.ln.Close()
		l.mu.Lock()
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
	}()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			fail(err)
			break
		}
		l.mu.Lock()
		if ctx.Err() != nil {
			l.mu.Unlock()
			c.Close()
			break
		}
		if len(l.conns) >= l.max {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.c.Sessions.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.session(c, h); err != nil {
				fail(err)
			}
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			c.Close()
		}()
	}
	wg.Wait()
	return herr
}

// errFraming is a session whose stream is not IPFIX messages.
var errFraming = errors.New("not an IPFIX message stream")

// session reads one connection's messages. It returns only the handler's
// errors; stream and decode errors are counted.
func (l *TCPListener) session(c net.Conn, h Handler) error {
	from := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	br := bufio.NewReaderSize(c, sessionBufSize)
	dec := l.newDec()
	if l.SessionEnd != nil {
		defer l.SessionEnd(dec)
	}
	bd := batchDecoder{dec: dec.Only(FormatIPFIX), c: &l.c, raw: l.rawTap(), owned: l.owned}
	var off int64 // stream offset of the next message, for errors
	for {
		// Decode every whole message already buffered, without reading
		// (a read may move the buffer, and the records alias it).
		for {
			if br.Buffered() < 4 {
				break
			}
			hdr, _ := br.Peek(4)
			v, n := binary.BigEndian.Uint16(hdr), int(binary.BigEndian.Uint16(hdr[2:]))
			if v != VersionIPFIX || n < ipfixHeaderLen {
				part := fmt.Sprintf("message header (version %d, length %d)", v, n)
				bd.c.countError(from, &codecs.DecodeError{Format: "ipfix", Offset: off, Part: part, PartOff: off, Exporter: from, Err: errFraming})
				return bd.flush(h)
			}
			if br.Buffered() < n {
				break
			}
			msg, _ := br.Peek(n)
			bd.add(msg, from)
			br.Discard(n)
			off += int64(n)
			if bd.full() {
				// Nothing is read before the handler returns: the
				// buffer stays put.
				if err := bd.flush(h); err != nil {
					return err
				}
			}
		}
		if err := bd.flush(h); err != nil {
			return err
		}
		// Wait for the rest of the next message.
		need := 4
		if br.Buffered() >= 4 {
			hdr, _ := br.Peek(4)
			need = int(binary.BigEndian.Uint16(hdr[2:]))
		}
		if _, err := br.Peek(need); err != nil {
			if br.Buffered() > 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
				bd.c.countError(from, &codecs.DecodeError{Format: "ipfix", Offset: off, Part: "message", PartOff: off, Exporter: from, Err: codecs.ErrTruncated})
			}
			return nil // EOF, reset, or closed by Serve
		}
	}
}

// Stats returns the counters so far.
func (l *TCPListener) Stats() Stats {
	var s Stats
	l.c.snapshot(&s)
	s.SessionsRefused = l.refused.Load()
	return s
}

// Close stops listening (Serve closes the sessions when its context ends).
func (l *TCPListener) Close() error {
	err := l.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
