package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a UDP listener.
const (
	DefaultRcvBuf = 8 << 20 // per socket: ~6,000 full-size datagrams queued
	DefaultBatch  = 64      // datagrams per recvmmsg call
	// slotSize holds the largest UDP payload (65,507 bytes over IPv4), so no
	// datagram is ever cut; the kernel only touches the bytes it writes.
	slotSize = 65536
)

// UDPListener receives NetFlow v5/v9 and IPFIX datagrams on one address
// through several sockets bound with SO_REUSEPORT, one per worker. The
// kernel spreads datagrams over the sockets by a hash of the 4-tuple, so
// each exporter's datagrams reach one worker, whose own decoders keep that
// exporter's templates: no lock and no shared template table on the data
// path. Each worker reads batches with recvmmsg into buffers allocated once,
// decodes them and hands the batch's records to the Handler.
type UDPListener struct {
	addr    netip.AddrPort
	workers []*udpWorker
	newDec  NewDecoders
	c       Counters
	asked   int
	granted int
	serving atomic.Bool
	closed  sync.Once
}

// ListenUDP opens the sockets of a UDP listener on addr ("[host]:port";
// port 0 picks a free port, shared by every socket). newDec makes each
// worker's decoders.
func ListenUDP(addr string, o Options, newDec NewDecoders) (*UDPListener, error) {
	n := o.Workers
	if n == 0 {
		n = runtime.NumCPU()
	}
	if o.NoReuse || !multiSocket {
		n = 1
	}
	reuse := n > 1 || o.ReusePort
	asked := o.RcvBuf
	if asked == 0 {
		asked = DefaultRcvBuf
	}
	batch := o.Batch
	if batch == 0 {
		batch = DefaultBatch
	}
	l := &UDPListener{newDec: newDec, asked: asked}
	for i := 0; i < n; i++ {
		a := addr
		if i > 0 {
			// The first socket resolved port 0: the others join it.
			a = l.addr.String()
			if l.addr.Addr().IsUnspecified() && !hasHost(addr) {
				a = fmt.Sprintf(":%d", l.addr.Port())
			}
		}
		w, err := newUDPWorker(a, reuse, asked, batch)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("listen nf+udp://%s: socket %d of %d: %w", addr, i+1, n, err)
		}
		w.bd = batchDecoder{dec: newDec(), c: &l.c}
		l.workers = append(l.workers, w)
		if i == 0 {
			l.addr = w.conn.LocalAddr().(*net.UDPAddr).AddrPort()
			l.granted = w.granted
		}
	}
	return l, nil
}

func hasHost(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	return err == nil && h != ""
}

// Addr is the address the sockets are bound to (with the port chosen for
// port 0).
func (l *UDPListener) Addr() netip.AddrPort { return l.addr }

// Granted is the receive buffer the kernel granted each socket, in the
// bytes asked for (Linux reports twice that, for its bookkeeping).
func (l *UDPListener) Granted() (asked, granted int) { return l.asked, l.granted }

// SetOwned makes Serve hand each batch to h, which takes the buffers,
// rather than to Serve's Handler. Call it before Serve.
func (l *UDPListener) SetOwned(h OwnedHandler) {
	for _, w := range l.workers {
		w.bd.owned = h
	}
}

// Serve receives until ctx is done (then it returns nil) or the handler
// fails (then it returns the handler's error). Decode errors are counted
// and never stop it. Serve may be called once.
func (l *UDPListener) Serve(ctx context.Context, h Handler) error {
	if !l.serving.CompareAndSwap(false, true) {
		return errors.New("gateway: UDPListener.Serve called twice")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(l.workers))
	var stop atomic.Bool
	done := make(chan struct{})
	wake := func() {
		stop.Store(true)
		for _, w := range l.workers {
			w.conn.SetReadDeadline(time.Unix(1, 0)) // wakes a blocked read
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			wake()
		case <-done:
		}
	}()
	for i, w := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.serve(&stop, h)
			if errs[i] != nil {
				wake() // one worker's sink failure stops them all
			}
		}()
	}
	wg.Wait()
	close(done)
	for _, err := range errs {
		if err != nil && !isTimeout(err) {
			return err
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Messages is the number of datagrams received so far: a cheap counter
// for polling (Stats reads /proc).
func (l *UDPListener) Messages() uint64 { return l.c.Messages.Load() }

// Stats returns the counters so far; KernelDrops also reads
// /proc/net/udp{,6}, which counts drops the last datagram did not report.
func (l *UDPListener) Stats() Stats {
	var s Stats
	l.c.snapshot(&s)
	s.Sockets = len(l.workers)
	s.RcvBufAsked, s.RcvBuf = l.asked, l.granted
	for _, w := range l.workers {
		s.KernelDrops += w.kernelDrops()
		s.Truncated += w.truncated.Load()
		s.PerSocketMsg = append(s.PerSocketMsg, w.received())
	}
	return s
}

// Close closes the sockets. Call it after Serve has returned.
func (l *UDPListener) Close() error {
	var first error
	l.closed.Do(func() {
		for _, w := range l.workers {
			if err := w.conn.Close(); err != nil && first == nil {
				first = err
			}
		}
	})
	return first
}
