package daemon

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/flowgate/flowgate/flow"
)

// batch is a run of records copied out of a source's buffers. One batch
// is shared by every sink of its pipeline (refs); the last sink done with
// it puts it back in the pool and tells its source (Sync).
type batch struct {
	recs  []flow.Record
	extra []flow.Field // the records' Extra, copied
	arena []byte       // the bytes the records point at
	cid   []byte       // Community IDs the pipeline computed
	refs  atomic.Int32
	src   *sourceState  // nil for a flush marker
	flush chan struct{} // a flush marker: closed once the sink has flushed
	err   error         // a flush marker: the Flush error
}

// freeList keeps a source's spent batches. Unlike a sync.Pool it
// survives garbage collections: a batch holds up to thousands of 2 KB
// records, and refilling fresh memory costs more than the copy itself.
// The queue's bound bounds it.
type freeList struct {
	mu sync.Mutex
	b  []*batch
}

func (f *freeList) get() *batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.b); n > 0 {
		b := f.b[n-1]
		f.b = f.b[:n-1]
		return b
	}
	return new(batch)
}

func (f *freeList) put(b *batch) {
	f.mu.Lock()
	f.b = append(f.b, b)
	f.mu.Unlock()
}

// copyBatch copies recs into a pooled batch: the struct, its Extra fields
// and every byte slice, so the source may reuse its buffers at once.
func copyBatch(recs []flow.Record, src *sourceState) *batch {
	b := src.free.get()
	b.src = src
	if cap(b.recs) < len(recs) {
		b.recs = make([]flow.Record, len(recs))
	}
	b.recs = b.recs[:len(recs)]
	copy(b.recs, recs)
	// Extra first: the arena copy below must see the batch's own Fields.
	n := 0
	for i := range recs {
		n += len(recs[i].Extra)
	}
	if n > 0 {
		if cap(b.extra) < n {
			b.extra = make([]flow.Field, 0, n)
		}
		b.extra = b.extra[:0]
		for i := range b.recs {
			r := &b.recs[i]
			if len(r.Extra) == 0 {
				continue
			}
			k := len(b.extra)
			b.extra = append(b.extra, r.Extra...)
			r.Extra = b.extra[k:len(b.extra):len(b.extra)]
		}
	}
	b.arena = b.arena[:0]
	for i := range b.recs {
		b.arena = b.recs[i].DetachInto(b.arena)
	}
	return b
}

// release puts b back on its source's free list once it is no longer
// referenced.
func (b *batch) release() {
	src := b.src
	if src == nil || cap(b.recs) > 1<<14 || cap(b.arena) > 8<<20 {
		return // let an oversized batch go rather than pin its memory
	}
	b.recs = b.recs[:0]
	b.src, b.flush = nil, nil
	src.free.put(b)
}

// queue is a bounded FIFO of batches, bounded in records. A batch larger
// than the whole bound is let in when the queue is empty, so that one
// big batch cannot wedge it.
type queue struct {
	mu     sync.Mutex
	items  []*batch
	head   int
	recs   int
	max    int
	closed bool
	// space is closed (and replaced) when records leave; data when a
	// batch arrives or the queue closes.
	space, data chan struct{}
}

func newQueue(max int) *queue {
	return &queue{max: max, space: make(chan struct{}), data: make(chan struct{})}
}

// put adds b. With block it waits for room until ctx ends; without, it
// returns false at once when b does not fit. It returns false on a closed
// queue.
func (q *queue) put(ctx context.Context, b *batch, block bool) (bool, error) {
	n := len(b.recs)
	q.mu.Lock()
	for {
		if q.closed {
			q.mu.Unlock()
			return false, ErrStopping
		}
		if q.recs == 0 || q.recs+n <= q.max || b.flush != nil {
			break
		}
		if !block {
			q.mu.Unlock()
			return false, nil
		}
		wait := q.space
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		q.mu.Lock()
	}
	q.items = append(q.items, b)
	q.recs += n
	close(q.data)
	q.data = make(chan struct{})
	q.mu.Unlock()
	return true, nil
}

// get takes the oldest batch; nil with the channel to wait on when empty
// (nil channel and nil batch: closed and drained).
func (q *queue) get() (*batch, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		if q.closed {
			return nil, nil
		}
		return nil, q.data
	}
	b := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	q.recs -= len(b.recs)
	close(q.space)
	q.space = make(chan struct{})
	return b, nil
}

// close lets the reader drain what is queued; puts fail from now on.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.data)
		q.data = make(chan struct{})
		close(q.space)
		q.space = make(chan struct{})
	}
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.recs
}

// counter counts what is in flight and wakes waiters when it reaches 0.
type counter struct {
	mu   sync.Mutex
	n    int64
	zero chan struct{}
}

func (c *counter) add(k int64) {
	c.mu.Lock()
	c.n += k
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
	c.mu.Unlock()
}

func (c *counter) wait(ctx context.Context) error {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return nil
	}
	if c.zero == nil {
		c.zero = make(chan struct{})
	}
	z := c.zero
	c.mu.Unlock()
	select {
	case <-z:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exporterOf is the exporter label of a record: its NetFlow/IPFIX
// exporter's address, else the zero Addr ("").
func exporterOf(r *flow.Record) netip.Addr {
	if r.Exporter.IsValid() {
		return r.Exporter.Addr()
	}
	return netip.Addr{}
}
