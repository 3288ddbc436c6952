package serve

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/flow/filter"
)

// client is one connection. The run goroutine owns the protocol and the
// teardown; after START a write goroutine empties the queue.
type client struct {
	s         *Server
	conn      net.Conn
	id        uint64
	remote    string
	connected time.Time
	wake      chan struct{} // cap 1: the queue has data (or drain was asked)
	done      chan struct{} // closed at teardown
	wdone     chan struct{} // closed when the write goroutine returns

	mu       sync.Mutex // guards the fields below
	started  bool
	closing  bool // no more records are queued
	draining bool // write what is queued, then close
	filter   *filter.Filter
	pending  []byte // encoded records not yet handed to the socket
	pendRecs int64
	queued   int64 // records pending or being written
	qBytes   int64
	st       ClientStats // counters (Queued fields derived)
	logDrops int64       // Dropped at the last overflow log
	logTime  time.Time
}

func newClient(s *Server, conn net.Conn, id uint64) *client {
	return &client{s: s, conn: conn, id: id, remote: conn.RemoteAddr().String(), connected: time.Now(),
		wake: make(chan struct{}, 1), done: make(chan struct{}), wdone: make(chan struct{})}
}

func (c *client) stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.ID, st.Remote, st.Connected, st.Started = c.id, c.remote, c.connected, c.started
	if c.filter != nil {
		st.Filter = c.filter.String()
	}
	st.Queued, st.QueuedBytes = c.queued, c.qBytes
	return st
}

// offer queues b (rec's encoding) unless the filter rejects rec or the
// queue is full. Called by Publish with s.mu held; it never blocks on I/O.
func (c *client) offer(rec *flow.Record, b []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.st.Offered++
	if !c.filter.Match(rec) {
		c.st.Filtered++
		c.mu.Unlock()
		return
	}
	n := int64(len(b))
	if c.queued >= int64(c.s.opts.QueueRecords) || c.qBytes+n > int64(c.s.opts.QueueBytes) {
		c.st.Dropped++
		c.st.DroppedBytes += n
		c.mu.Unlock()
		return
	}
	c.pending = append(c.pending, b...)
	c.pendRecs++
	c.queued++
	c.qBytes += n
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run speaks the protocol until the client leaves, then tears down.
func (c *client) run() {
	s := c.s
	defer s.wg.Done()
	defer c.teardown()
	log := s.log.With("client", c.id, "remote", c.remote)
	mar, err := s.initialMAR()
	if err != nil {
		log.Error("serve: initial MAR", "err", err)
		return
	}
	c.conn.SetWriteDeadline(time.Now().Add(s.opts.StartupTimeout))
	if _, err := c.conn.Write(mar); err != nil {
		log.Info("serve: client gone before the MAR", "err", err)
		return
	}
	c.conn.SetWriteDeadline(time.Time{})
	log.Debug("serve: client connected")
	buf := make([]byte, 4096)
	started := false
	for {
		if !started {
			c.conn.SetReadDeadline(time.Now().Add(s.opts.StartupTimeout))
		}
		n, err := c.conn.Read(buf)
		if n > 0 {
			for _, cmd := range splitCommands(buf[:n]) {
				stop, st := c.command(cmd, started, log)
				if stop {
					return
				}
				if st && !started {
					started = true
					c.conn.SetReadDeadline(time.Time{})
				}
			}
		}
		if err != nil {
			if !started && errors.Is(err, os.ErrDeadlineExceeded) {
				s.mu.Lock()
				s.timedOut++
				s.mu.Unlock()
				log.Info("serve: no START from client; dropped", "timeout", s.opts.StartupTimeout)
			}
			return
		}
	}
}

// command handles one command; it reports whether to close the connection
// and whether the command was START.
func (c *client) command(cmd []byte, started bool, log *slog.Logger) (stop, start bool) {
	word, arg, _ := bytes.Cut(cmd, []byte(":"))
	switch string(word) {
	case "START":
		if !started {
			go c.writeLoop()
			c.s.startClient(c)
			log.Debug("serve: client started", "command", string(cmd))
		}
		return false, true
	case "FILTER":
		expr := string(bytes.TrimSpace(arg))
		f, err := filter.Compile(expr)
		if err != nil {
			log.Info("serve: client filter refused", "filter", expr, "err", err)
			if !started {
				return c.reply("ER"), false
			}
			return false, false
		}
		c.mu.Lock()
		c.filter = f
		if expr == "" {
			c.filter = nil
		}
		c.mu.Unlock()
		log.Debug("serve: client filter", "filter", expr)
		if !started {
			return c.reply("OK"), false
		}
	case "DONE":
		log.Debug("serve: client done")
		return true, false
	case "FILE":
		if !started {
			return c.reply("ER"), false
		}
	default: // MODEL:, PROJECT:, GEN: and anything else
		log.Debug("serve: client command ignored", "command", string(cmd))
	}
	return false, false
}

// reply writes a 2-byte answer (before START only: nothing else writes).
func (c *client) reply(r string) (stop bool) {
	c.conn.SetWriteDeadline(time.Now().Add(c.s.opts.StartupTimeout))
	_, err := c.conn.Write([]byte(r))
	c.conn.SetWriteDeadline(time.Time{})
	return err != nil
}

var commandWords = [][]byte{[]byte("START:"), []byte("FILTER:"), []byte("DONE:"), []byte("FILE:"),
	[]byte("MODEL:"), []byte("PROJECT:"), []byte("GEN:")}

// splitCommands splits one read into commands. A client writes one command
// per write and waits for a reply where there is one, so a read normally
// holds one command; a client that does not wait may have several
// coalesced, and each starts with a command word. NULs, CRs and LFs
// around a command (from hand-typed or C clients) are trimmed.
func splitCommands(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		next := len(b)
		for _, w := range commandWords {
			if i := bytes.Index(b[1:], w); i >= 0 && i+1 < next {
				next = i + 1
			}
		}
		if cmd := bytes.Trim(b[:next], "\x00\r\n\t "); len(cmd) > 0 {
			out = append(out, cmd)
		}
		b = b[next:]
	}
	return out
}

func (c *client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLoop writes the queue to the socket in batches until teardown, or
// until a drain has emptied it.
func (c *client) writeLoop() {
	defer close(c.wdone)
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			if len(c.pending) == 0 {
				drained := c.draining
				c.mu.Unlock()
				if drained {
					c.conn.Close() // run sees the close and tears down
					return
				}
				break
			}
			buf, c.pending = c.pending, buf[:0]
			n := c.pendRecs
			c.pendRecs = 0
			c.mu.Unlock()
			if wt := c.s.opts.WriteTimeout; wt > 0 {
				c.conn.SetWriteDeadline(time.Now().Add(wt))
			}
			_, err := c.conn.Write(buf)
			c.mu.Lock()
			c.queued -= n
			c.qBytes -= int64(len(buf))
			if err == nil {
				c.st.Sent += n
				c.st.SentBytes += int64(len(buf))
			} else {
				c.st.Discarded += n
			}
			logDrops, newDrops := c.overflow()
			c.mu.Unlock()
			if newDrops > 0 {
				c.s.log.Warn("serve: client too slow; records dropped", "client", c.id, "remote", c.remote,
					"dropped", logDrops, "new", newDrops)
			}
			if err != nil {
				if !c.isClosing() {
					c.s.log.Info("serve: client write failed; disconnecting", "client", c.id, "remote", c.remote, "err", err)
				}
				c.conn.Close()
				return
			}
		}
	}
}

// overflow returns the drops to log, at most every 10 s per client (c.mu
// held; the write goroutine logs, never Publish).
func (c *client) overflow() (total, fresh int64) {
	if c.st.Dropped == c.logDrops {
		return 0, 0
	}
	now := time.Now()
	if now.Sub(c.logTime) < 10*time.Second {
		return 0, 0
	}
	total, fresh = c.st.Dropped, c.st.Dropped-c.logDrops
	c.logDrops, c.logTime = c.st.Dropped, now
	return total, fresh
}

// drain asks for the queue to be written and the connection closed. A
// client that has not started is closed at once.
func (c *client) drain() {
	c.mu.Lock()
	started := c.started
	c.draining = true
	c.mu.Unlock()
	if !started {
		c.conn.Close()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// teardown closes the connection, stops the write goroutine and moves the
// counters to the server's totals. Only run calls it.
func (c *client) teardown() {
	c.mu.Lock()
	c.closing = true
	started := c.started
	c.mu.Unlock()
	c.conn.Close()
	close(c.done)
	if started {
		<-c.wdone
	}
	c.mu.Lock()
	c.st.Discarded += c.queued
	c.queued, c.qBytes, c.pending, c.pendRecs = 0, 0, nil, 0
	final := c.st
	c.mu.Unlock()
	c.s.log.Debug("serve: client disconnected", "client", c.id, "remote", c.remote,
		"sent", final.Sent, "dropped", final.Dropped, "discarded", final.Discarded)
	c.s.removeClient(c, &final)
}
