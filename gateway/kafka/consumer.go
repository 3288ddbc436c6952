package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string
	Topic   string
	Group   string
	// MaxPoll bounds the messages decoded and handed to one handler call
	// (0 = 10000); a poll takes all the client has buffered.
	MaxPoll int
	// FetchPartitionBytes bounds what one fetch brings of a partition
	// (kgo.FetchMaxPartitionBytes; 0 = Kafka's 1 MiB). Not below the
	// producers' batches: a batch larger than it comes only when its
	// partition is the first of a fetch (KIP-74), and its partition
	// crawls (128 KiB made a two-gateway relay of 1 MiB batches stall).
	FetchPartitionBytes int32
	// Retries is how often a failing handler is called again on the same
	// batch before Run gives up (0 = 3). Backoff doubles from 50 ms.
	Retries int
	// Security: TLS and SASL.
	Security Security
	// Opts are extra kgo options (kgo.ConsumeResetOffset ...), applied
	// last.
	Opts []kgo.Opt
}

// Handler receives decoded records. Returning nil means the records are
// safe (written by the sink): only then are their offsets committed. The
// slice and the records' byte slices are valid only during the call.
type Handler func(ctx context.Context, recs []flow.Record) error

// Batch is one poll's records and the bytes they point at, decoded into
// the consumer's own buffers: every byte slice of Recs points into Arena
// (or at memory nobody writes again), and each record's Extra is an
// array of its own slot.
type Batch struct {
	Recs  []flow.Record
	Arena []byte
}

// A BatchHandler is a Handler that may take the batch's buffers instead
// of copying them: returning nil, it may set b.Recs and b.Arena to spare
// buffers of its own (emptied: the consumer resets each record slot it
// reuses, keeping the capacity of its Extra), or to nil, and the consumer
// decodes the next poll into those. Returning an error, it leaves b alone.
type BatchHandler func(ctx context.Context, b *Batch) error

// ConsumerStats are the consumer's counters.
type ConsumerStats struct {
	Messages  int64 // messages fetched
	Records   int64 // records handed to a handler that returned nil
	Malformed int64 // messages that did not decode (skipped, committed)
	Retries   int64 // handler calls repeated after an error (redeliveries)
	Commits   int64
	// Errors Run went on after (kgo retries): polls that reported a
	// fetch error, commits that failed.
	FetchErrors, CommitErrors int64
}

// MessageError is a message that did not decode: where it is and why.
type MessageError struct {
	Topic     string
	Partition int32
	Offset    int64
	Format    string
	Err       error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("kafka: %s[%d]@%d (%s): %v", e.Topic, e.Partition, e.Offset, e.Format, e.Err)
}
func (e *MessageError) Unwrap() error { return e.Err }

// ErrHandler wraps the handler's last error when Run gives up.
var ErrHandler = errors.New("kafka: handler failed")

// Consumer reads flow records from a topic as a member of a consumer group
// (cooperative-sticky), at least once: offsets are committed only after
// the handler returned nil for them.
type Consumer struct {
	cl      *kgo.Client
	cfg     ConsumerConfig
	dec     *argus.RecordDecoder
	recs    []flow.Record
	joined  []byte // a run of JSON messages (decodeAll)
	arena   []byte
	onError func(*MessageError)
	raw     *rawDecoders // raw.go

	messages, records, malformed, retries, commits atomic.Int64
	fetchErrs, commitErrs                          atomic.Int64

	healthMu sync.Mutex
	health   error // the last poll's fetch error or the last commit's, nil after a clean poll
}

func (c *Consumer) setHealth(err error) {
	c.healthMu.Lock()
	c.health = err
	c.healthMu.Unlock()
}

// Ready returns the error of the last poll (or commit) while the consumer
// cannot fetch or commit, nil once a poll went through.
func (c *Consumer) Ready() error {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	return c.health
}

// NewConsumer joins cfg.Group on cfg.Topic.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if cfg.Topic == "" || cfg.Group == "" || len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("%w: brokers, topic and group are required", ErrConfig)
	}
	if cfg.MaxPoll <= 0 {
		cfg.MaxPoll = 10000
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}

	dec, err := argusDecoder()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// Partitions are not taken away between a poll and its commit, so
		// a commit never covers records another member also handles.
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if cfg.FetchPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(cfg.FetchPartitionBytes))
	}
	sec, err := cfg.Security.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	opts = append(opts, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return &Consumer{cl: cl, cfg: cfg, dec: dec}, nil
}

// argusDecoder returns a decoder of bare 5.x records: the stream a Reader
// needs is one MAR, made by encoding a dummy flow record and keeping the
// MAR the Writer puts first.
func argusDecoder() (*argus.RecordDecoder, error) {
	var b bytes.Buffer
	w, err := argus.NewWriter(&b, 5)
	if err != nil {
		return nil, err
	}
	if err := w.Encode(&flow.Record{Type: flow.TypeFlow}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if b.Len() < 128 {
		return nil, fmt.Errorf("kafka: argus writer gave %d bytes", b.Len())
	}
	r, err := argus.NewReader(bytes.NewReader(b.Bytes()[:128]))
	if err != nil {
		return nil, err
	}
	return r.NewRecordDecoder(), nil
}

// OnError sets a function told about every malformed message.
func (c *Consumer) OnError(f func(*MessageError)) { c.onError = f }

// Stats returns the counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{Messages: c.messages.Load(), Records: c.records.Load(),
		Malformed: c.malformed.Load(), Retries: c.retries.Load(), Commits: c.commits.Load(),
		FetchErrors: c.fetchErrs.Load(), CommitErrors: c.commitErrs.Load()}
}

// Close leaves the group (committing nothing more) and closes the client.
func (c *Consumer) Close() { c.cl.Close() }

// Run polls, decodes and hands records to h until ctx ends (it returns
// nil then) or h fails Retries+1 times on one batch (ErrHandler: nothing
// of that batch is committed, so the group redelivers it once this member
// is closed: the caller closes it and goes on with a new Consumer, since
// Run again on this one would fetch on past the batch and a later commit
// would cover it). Fetch and commit errors do not stop it: kgo retries,
// Ready reports them.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	return c.run(ctx, func(ctx context.Context, b *Batch) error { return h(ctx, b.Recs) }, nil, 0)
}

// RunBatched is Run committing at most every `every` instead of after
// each batch, so that decoding the next polls overlaps the sinks writing
// the last ones: h takes a batch without waiting for its sinks, and sync,
// which returns once everything h took is written (or fails), runs
// before each commit. Rebalances are held until the next commit point,
// so a partition never moves with records taken but not committed. A
// failed sync ends Run with ErrHandler (nothing since the last commit is
// committed: see Run for going on). When ctx ends, what h took is synced
// and committed, within 10 s.
func (c *Consumer) RunBatched(ctx context.Context, h BatchHandler, sync func(context.Context) error, every time.Duration) error {
	return c.run(ctx, h, sync, every)
}

func (c *Consumer) run(ctx context.Context, h BatchHandler, sync func(context.Context) error, every time.Duration) error {
	backoff := 100 * time.Millisecond
	pending := false // RunBatched: records taken since the last commit
	var due time.Time
	commit := func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := c.cl.CommitUncommittedOffsets(cctx)
		cancel()
		if err != nil {
			// The records are handed over; uncommitted, they come
			// again to whoever owns the partitions after a restart
			// (at least once), and the next commit covers them.
			c.commitErrs.Add(1)
			c.setHealth(fmt.Errorf("kafka: commit: %w", err))
		} else {
			c.commits.Add(1)
		}
	}
	// syncCommit is a RunBatched commit point.
	syncCommit := func(ctx context.Context) error {
		if err := sync(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrHandler, err)
		}
		commit(ctx)
		pending = false
		return nil
	}
	// kgo buffers one fetch per broker and sends the next request only
	// once that one is polled in full, so a poll made after decoding
	// waits for a whole broker round trip. A poller goroutine takes all
	// that is buffered (a whole fetch: the next one goes out at once)
	// while the last is decoded and handed over, MaxPoll messages at a
	// time (RunBatched, between commit points). A commit point has no
	// poll out, so that a commit covers exactly what the handler took.
	p := startPoller(c.cl, 0)
	defer p.stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if !p.out {
			p.poll(ctx)
		}
		var fs kgo.Fetches
		if pending {
			timer.Reset(time.Until(due))
			select {
			case fs = <-p.res:
				p.out = false
			case <-timer.C:
				fs = p.cut() // commit time: what the poll has, if anything
			}
			timer.Stop()
		} else {
			fs = <-p.res
			p.out = false
		}
		rs := fs.Records() // a new slice each call
		if ctx.Err() != nil {
			// Stopping. A commit covers every record polled, so the
			// last poll's records are handed over first; if they cannot
			// be, nothing more is committed (they come again).
			if pending || len(rs) > 0 {
				sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				if c.handAll(sctx, h, rs) == nil {
					if sync != nil {
						syncCommit(sctx)
					} else {
						commit(sctx)
					}
				}
				scancel()
			}
			c.cl.AllowRebalance()
			return nil
		}
		if fs.IsClientClosed() {
			return kgo.ErrClientClosed
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("kafka: fetch %s[%d]: %w", t, p, err)
			}
		})
		// kgo keeps retrying after a fetch error (a broker away, a
		// partition moving): note it for Ready, and back off when the
		// poll brought nothing, so that a broker outage does not spin.
		c.setHealth(ferr)
		if ferr != nil {
			c.fetchErrs.Add(1)
			if len(rs) == 0 && !pending {
				c.cl.AllowRebalance()
				if !sleepCtx(ctx, backoff) {
					return nil
				}
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
		}
		backoff = 100 * time.Millisecond
		n := len(rs)
		if n > 0 && !pending && sync != nil {
			pending, due = true, time.Now().Add(every)
		}
		commitNow := (sync == nil && n > 0) || (pending && !time.Now().Before(due))
		if pending && !commitNow {
			p.poll(ctx) // the next batch, while this one decodes
		}
		if err := c.handAll(ctx, h, rs); err != nil {
			p.cut() // not handed over either: not committed
			c.cl.AllowRebalance()
			if ctx.Err() != nil {
				// Stopped while the handler failed: nothing of the
				// batch is committed, the group hands it out again.
				return nil
			}
			return err
		}
		switch {
		case commitNow && sync == nil:
			// The handler has the records: commit even if ctx ended
			// meanwhile, else they come again for nothing.
			commit(ctx)
		case commitNow:
			if err := syncCommit(ctx); err != nil {
				c.cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if !pending && !p.out {
			c.cl.AllowRebalance()
		}
	}
}

// handAll decodes rs and hands the records to h, MaxPoll messages at a
// time (a batch of records the handler's queues and free lists are sized
// for).
func (c *Consumer) handAll(ctx context.Context, h BatchHandler, rs []*kgo.Record) error {
	for len(rs) > 0 {
		k := min(len(rs), c.cfg.MaxPoll)
		// At least a record a message: grown once, not by doubling (a
		// handler's spare buffers may be new).
		c.recs = slices.Grow(c.recs[:0], k)
		c.arena = c.arena[:0]
		c.decodeAll(rs[:k])
		if err := c.deliver(ctx, h); err != nil {
			return err
		}
		rs = rs[k:]
	}
	return nil
}

// poller runs PollRecords on its own goroutine, one poll at a time. Its
// methods are for the run loop's goroutine only.
type poller struct {
	req    chan pollReq
	res    chan kgo.Fetches
	out    bool               // a poll is out: its result is (or will be) on res
	cancel context.CancelFunc // the poll out's
}

type pollReq struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func startPoller(cl *kgo.Client, max int) *poller {
	p := &poller{req: make(chan pollReq), res: make(chan kgo.Fetches, 1)}
	go func() {
		for r := range p.req {
			fs := cl.PollRecords(r.ctx, max)
			r.cancel()
			p.res <- fs
		}
	}()
	return p
}

// poll sends a poll out; its result comes on p.res.
func (p *poller) poll(ctx context.Context) {
	pctx, cancel := context.WithCancel(ctx)
	p.cancel, p.out = cancel, true
	p.req <- pollReq{pctx, cancel}
}

// cut ends the poll out, if any, at once and returns what it had.
func (p *poller) cut() kgo.Fetches {
	if !p.out {
		return nil
	}
	p.cancel()
	p.out = false
	return <-p.res
}

// stop waits for the poll out, if any, and ends the goroutine.
func (p *poller) stop() {
	p.cut()
	close(p.req)
}

func (c *Consumer) deliver(ctx context.Context, h BatchHandler) error {
	if len(c.recs) == 0 {
		return nil
	}
	back := 50 * time.Millisecond
	var err error
	for try := 0; try <= c.cfg.Retries; try++ {
		if try > 0 {
			c.retries.Add(1)
			select {
			case <-ctx.Done():
				// Not handed over: Run must not commit it.
				return fmt.Errorf("%w: %d records: %w (stopping)", ErrHandler, len(c.recs), err)
			case <-time.After(back):
			}
			back *= 2
		}
		b := Batch{Recs: c.recs, Arena: c.arena}
		if err = h(ctx, &b); err == nil {
			c.records.Add(int64(len(c.recs)))
			// The handler may have taken the buffers and given others.
			c.recs, c.arena = b.Recs[:0], b.Arena[:0]
			return nil
		}
	}
	return fmt.Errorf("%w: %d records: %w", ErrHandler, len(c.recs), err)
}

func header(r *kgo.Record, key string) string { return string(headerBytes(r, key)) }

// headerBytes is header without a copy: compared as string(b) == "...",
// it allocates nothing (two lookups a message added 3% to a consumer).
func headerBytes(r *kgo.Record, key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

func (c *Consumer) decode(m *kgo.Record) {
	c.messages.Add(1)
	var err error
	switch f := headerBytes(m, HeaderFormat); string(f) {
	case FormatArgus5:
		err = c.decodeArgus(m.Value)
	case FormatJSON:
		err = c.decodeJSON(m.Value, header(m, HeaderDialect))
	case FormatRaw:
		err = c.decodeRaw(m)
	default:
		err = ErrFormat
	}
	if err != nil {
		c.malformed.Add(1)
		if c.onError != nil {
			c.onError(&MessageError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Format: header(m, HeaderFormat), Err: err})
		}
	}
}

// decodeAll decodes a poll's messages in order. Runs of JSON messages of
// one dialect are decoded as one stream: jsonl.NewReader compiles its
// mapping (~0.3 ms), too slow once per message, and a Reader cannot be
// reset. A run that fails is decoded again message by message, so the
// error names its message and the good ones around it are kept.
func (c *Consumer) decodeAll(ms []*kgo.Record) {
	for i := 0; i < len(ms); {
		m := ms[i]
		if string(headerBytes(m, HeaderFormat)) != FormatJSON || blank(m.Value) {
			c.decode(m)
			i++
			continue
		}
		d := headerBytes(m, HeaderDialect)
		j := i + 1
		for j < len(ms) && string(headerBytes(ms[j], HeaderFormat)) == FormatJSON &&
			bytes.Equal(headerBytes(ms[j], HeaderDialect), d) && !blank(ms[j].Value) {
			j++
		}
		if j-i == 1 || !c.decodeRun(ms[i:j], string(d)) {
			for _, m := range ms[i:j] {
				c.decode(m)
			}
		}
		i = j
	}
}

// blank reports a value with no JSON object in it (only white space):
// decoded alone, it is a malformed message; in a run it would vanish.
func blank(v []byte) bool {
	return len(bytes.TrimLeft(v, " \t\r\n")) == 0
}

func (c *Consumer) decodeRun(ms []*kgo.Record, dialect string) bool {
	c.joined = c.joined[:0]
	for _, m := range ms {
		c.joined = append(c.joined, m.Value...)
		c.joined = append(c.joined, '\n')
	}
	n, arena := len(c.recs), len(c.arena)
	if err := c.decodeJSON(c.joined, dialect); err != nil {
		c.recs, c.arena = c.recs[:n], c.arena[:arena]
		return false
	}
	c.messages.Add(int64(len(ms)))
	return true
}

// next returns a new record slot, reset.
func (c *Consumer) next() *flow.Record {
	r := c.slot()
	r.Reset()
	return r
}

// slot returns a new record slot as it was: the caller resets it. A
// reused slot keeps its Extra's capacity, so decoding does not allocate
// once the buffers have grown.
func (c *Consumer) slot() *flow.Record {
	var r *flow.Record
	c.recs, r = flow.Slot(c.recs)
	return r
}

func (c *Consumer) decodeArgus(v []byte) error {
	// One whole record, its length field matching the message. The
	// RecordDecoder refuses a mismatch too, but as truncated only: a
	// message longer than its record is corrupt, and says so here.
	if len(v) < 4 {
		return fmt.Errorf("%w: %d bytes, less than a record header", codecs.ErrTruncated, len(v))
	}
	if n := int(binary.BigEndian.Uint16(v[2:])) * 4; n != len(v) {
		if n > len(v) {
			return fmt.Errorf("%w: record header says %d bytes, message has %d", codecs.ErrTruncated, n, len(v))
		}
		return fmt.Errorf("%w: record header says %d bytes, message has %d", codecs.ErrCorrupt, n, len(v))
	}
	if v[0]&0xf0 == 0x80 {
		return fmt.Errorf("%w: a MAR in a message (doc.go: flow records only)", codecs.ErrCorrupt)
	}
	rec := c.slot() // Decode resets it
	if err := c.dec.Decode(rec, v, 0); err != nil {
		c.recs = c.recs[:len(c.recs)-1]
		return err
	}
	// The decoder's buffers are reused by the next message.
	c.arena = rec.DetachInto(c.arena)
	return nil
}

func (c *Consumer) decodeJSON(v []byte, dialect string) error {
	if dialect == "" {
		dialect = "argus"
	}
	// A jsonl.Reader's errors are sticky and it has no Reset, so each
	// message gets its own.
	jr, err := jsonl.NewReader(bytes.NewReader(v), dialect)
	if err != nil {
		return err
	}
	n := len(c.recs)
	for {
		rec := c.next()
		err := jr.Decode(rec)
		if err == io.EOF {
			c.recs = c.recs[:len(c.recs)-1]
			if len(c.recs) == n {
				return fmt.Errorf("kafka: empty JSON message")
			}
			return nil
		}
		if err != nil {
			c.recs = c.recs[:n] // the whole message or none of it
			return err
		}
		c.arena = rec.DetachInto(c.arena)
	}
}
