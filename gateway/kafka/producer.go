package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow"
)

// Message formats (header "fg-format").
const (
	FormatJSON   = "json"   // one JSON line per message, in the "fg-dialect" dialect
	FormatArgus5 = "argus5" // one Argus 5.x record per message, no MAR
)

// Header keys set on every produced message.
const (
	HeaderFormat  = "fg-format"
	HeaderDialect = "fg-dialect"
	HeaderMapping = "fg-mapping"
)

// Keying chooses the message key, hence the partition.
type Keying int

const (
	KeyNone     Keying = iota // no key: kgo spreads messages over partitions
	KeyExporter               // the exporter address: one exporter, one partition
	KeyFlow                   // the flow key (FlowKeyBytes): one flow, one partition
)

// Sentinel errors.
var (
	ErrConfig = errors.New("kafka: bad configuration")
	ErrFormat = errors.New("kafka: unknown message format")
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Brokers []string
	Topic   string
	Format  string // FormatJSON or FormatArgus5
	Dialect string // jsonl dialect for FormatJSON ("" = "argus")
	// MappingFile is a user mapping file laid over the dialect
	// (jsonl.WithMapping; "" none).
	MappingFile string
	// MappingVersion is sent in the fg-mapping header, so a consumer can
	// tell which mapping produced the values.
	MappingVersion string
	Key            Keying
	// Compression: "lz4", "zstd", "snappy", "gzip", "none" ("" = lz4).
	Compression string
	Linger      time.Duration // 0 = kgo's default (no linger)
	BatchBytes  int32         // max record batch bytes, 0 = kgo's default
	// Security: TLS and SASL.
	Security Security
	// Opts are extra kgo options, applied last.
	Opts []kgo.Opt

	// Spill is the directory of the on-disk queue records go to while
	// the broker is unreachable ("" = no spill: kgo retries without end
	// and Produce blocks once its buffer is full). See doc.go, Spill.
	Spill string
	// SpillMax bounds the spill's bytes (0 = 1 GiB).
	SpillMax int64
	// SpillDrop: with the spill full, drop records and count them
	// (Dropped) instead of blocking Produce until the drain makes room.
	SpillDrop bool
	// SpillAfter is how long a record may wait for the broker before it
	// goes to the spill (kgo's record delivery timeout, at least 1 s;
	// 0 = 5 s).
	SpillAfter time.Duration
	// MaxBuffered bounds the records kgo holds in memory (0 = 10000);
	// past it Produce waits for the broker, at most SpillAfter.
	MaxBuffered int
	// OnSpillError is told about every spill entry skipped as corrupt
	// (a *SpillError) and every spill write that failed.
	OnSpillError func(error)
}

// ProducerStats are the producer's counters.
type ProducerStats struct {
	Produced int64 // acknowledged by the broker (acks=all)
	Failed   int64 // not encodable, or given up by kgo (with a spill: only records the broker refuses for good, see isPoison, or the spill could not take)
	Skipped  int64 // management records (MAR): not published, see doc.go
	Lossy    int64 // published JSON lines that left a value out (jsonl Encode error)

	// The spill (zero without one). Produced counts drained records too.
	Spilled    int64 // records written to the spill
	Drained    int64 // spilled records acknowledged by the broker
	Dropped    int64 // records dropped with the spill full (SpillDrop)
	Resent     int64 // acknowledged records sent again with a drain batch that failed: duplicates in the topic
	Corrupt    int64 // spill entries skipped as corrupt or truncated
	SpillBytes int64 // bytes in the spill now
	Spilling   bool  // records go to the spill now
}

// Producer publishes flow records to one topic. Produce is safe for
// concurrent use; encoding is serialised.
type Producer struct {
	cl      *kgo.Client
	topic   string
	format  string
	keying  Keying
	headers []kgo.RecordHeader

	mu     sync.Mutex // encoders and buf
	buf    bytes.Buffer
	jw     *jsonl.Writer
	aw     *argus.Writer
	marOut bool // the argus Writer's leading MAR has been dropped

	produced, failed, skipped, lossy atomic.Int64

	errMu    sync.Mutex
	firstErr error
	promise  func(*kgo.Record, error)
	counted  func(*kgo.Record, error)

	// The spill (nil: none). sm guards sp, retry and changed; spilling
	// is set under sm and read without it on the hot path.
	sm          sync.Mutex
	sp, retry   *spill
	spillDrop   bool
	spillAfter  time.Duration
	maxBuf      int64 // records of Produce kgo may hold (MaxBuffered)
	spilling    atomic.Bool
	spillClosed bool
	spillLock   *os.File     // flock of the spill directory (spill_lock_*.go)
	inflight    atomic.Int64 // records handed to kgo by Produce, not yet acked or spilled
	changed     chan struct{}
	stopDrain   context.CancelFunc
	drainDone   chan struct{}

	spilled, drained, dropped, resent atomic.Int64
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%w: compression %q (lz4, zstd, snappy, gzip, none)", ErrConfig, name)
}

// NewProducer connects a producer: idempotent (kgo's default), acks=all.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if cfg.Topic == "" || len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("%w: brokers and topic are required", ErrConfig)
	}
	codec, err := compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	p := &Producer{topic: cfg.Topic, format: cfg.Format, keying: cfg.Key}
	p.headers = append(p.headers, kgo.RecordHeader{Key: HeaderFormat, Value: []byte(cfg.Format)})
	switch cfg.Format {
	case FormatJSON:
		d := cfg.Dialect
		if d == "" {
			d = "argus"
		}
		var jopts []jsonl.Option
		if cfg.MappingFile != "" {
			jopts = append(jopts, jsonl.WithMapping(cfg.MappingFile))
		}
		if p.jw, err = jsonl.NewWriter(&p.buf, d, jopts...); err != nil {
			return nil, err
		}
		p.headers = append(p.headers, kgo.RecordHeader{Key: HeaderDialect, Value: []byte(d)})
	case FormatArgus5:
		if p.aw, err = argus.NewWriter(&p.buf, 5); err != nil {
			return nil, err
		}
	case FormatRaw: // raw.go: ProduceRaw
		if err = rawKeying(cfg.Key); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrFormat, cfg.Format)
	}
	if cfg.MappingVersion != "" {
		p.headers = append(p.headers, kgo.RecordHeader{Key: HeaderMapping, Value: []byte(cfg.MappingVersion)})
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // required by idempotence anyway
		// A missing topic is created if the broker allows it
		// (auto.create.topics.enable), as other producers do; else its
		// records spill until it exists.
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(codec),
	}
	if cfg.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(cfg.Linger))
	}
	if cfg.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(cfg.BatchBytes))
	}
	sec, err := cfg.Security.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	if cfg.Spill != "" {
		after := cfg.SpillAfter
		if after <= 0 {
			after = 5 * time.Second
		}
		maxBuf := cfg.MaxBuffered
		if maxBuf <= 0 {
			maxBuf = 10000
		}
		// A batch's timeout is its first record's: linger is added so
		// that lingering does not count as waiting for the broker.
		// Produce keeps its own records under maxBuf (send); kgo's bound
		// leaves room for a drain window on top.
		opts = append(opts, kgo.RecordDeliveryTimeout(after+cfg.Linger), kgo.MaxBufferedRecords(maxBuf+drainRecs))
	} else if cfg.MaxBuffered > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(cfg.MaxBuffered))
	}
	opts = append(opts, cfg.Opts...)
	if cfg.Spill != "" {
		if err := p.openSpill(cfg); err != nil {
			return nil, err
		}
	}
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		p.closeSpill()
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	p.promise = func(kr *kgo.Record, err error) {
		if err == nil {
			p.produced.Add(1)
		} else if p.sp == nil || !p.spillFailed(kr, err) {
			p.failed.Add(1)
			p.setErr(err)
		}
	}
	// counted: a record send handed to kgo (inflight, which Flush waits
	// out).
	p.counted = func(kr *kgo.Record, err error) {
		p.promise(kr, err)
		if p.inflight.Add(-1) == 0 {
			p.sm.Lock()
			p.notifyLocked()
			p.sm.Unlock()
		}
	}
	if p.sp != nil {
		ctx, cancel := context.WithCancel(context.Background())
		p.stopDrain, p.drainDone = cancel, make(chan struct{})
		go p.drain(ctx)
	}
	return p, nil
}

func (p *Producer) setErr(err error) {
	p.errMu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
	}
	p.errMu.Unlock()
}

// FlowKeyBytes appends a stable (cross-process) encoding of k: the fields
// Key.Hash covers, in the same layout. Hash itself is seeded per process,
// so it cannot pick partitions that several producers agree on.
func FlowKeyBytes(dst []byte, k *flow.Key) []byte {
	s, d := k.Src.As16(), k.Dst.As16()
	dst = append(dst, s[:]...)
	dst = append(dst, d[:]...)
	dst = binary.BigEndian.AppendUint16(dst, k.SrcPort)
	dst = binary.BigEndian.AppendUint16(dst, k.DstPort)
	dst = append(dst, k.Proto, byte(k.Kind), byte(k.AddrType), k.ICMPType, k.ICMPCode)
	dst = binary.BigEndian.AppendUint16(dst, k.ICMPID)
	dst = binary.BigEndian.AppendUint16(dst, k.ICMPSeq)
	dst = binary.BigEndian.AppendUint32(dst, k.FragID)
	dst = binary.BigEndian.AppendUint32(dst, k.SPI)
	dst = append(dst, k.SrcMAC[:]...)
	dst = append(dst, k.DstMAC[:]...)
	dst = binary.BigEndian.AppendUint16(dst, k.EtherType)
	dst = append(dst, k.SrcMask, k.DstMask)
	dst = binary.BigEndian.AppendUint32(dst, k.FlowLabel)
	var f4 byte
	if k.Src.Is4() {
		f4 |= 1
	}
	if k.Dst.Is4() {
		f4 |= 2
	}
	return append(dst, f4)
}

func (p *Producer) key(r *flow.Record) []byte {
	switch p.keying {
	case KeyExporter:
		if r.Exporter.Addr().IsValid() {
			return r.Exporter.Addr().AppendTo(nil)
		}
	case KeyFlow:
		return FlowKeyBytes(make([]byte, 0, 80), &r.Key)
	}
	return nil
}

// encode puts r's message value in p.buf. ok false: nothing to send.
func (p *Producer) encode(r *flow.Record) (value []byte, err error) {
	p.buf.Reset()
	if p.jw != nil {
		err = p.jw.Encode(r)
		if ferr := p.jw.Flush(); ferr != nil {
			return nil, ferr
		}
		if err != nil {
			if !errors.Is(err, codecs.ErrNotRepresentable) || p.buf.Len() == 0 {
				return nil, err
			}
			p.lossy.Add(1) // the line went out without the value
		}
		return p.buf.Bytes(), nil
	}
	if err = p.aw.Encode(r); err != nil {
		return nil, err
	}
	if err = p.aw.Flush(); err != nil {
		return nil, err
	}
	b := p.buf.Bytes()
	if !p.marOut {
		// The stream's first record is the MAR the Writer synthesised;
		// messages carry flow records only (doc.go).
		if len(b) < 4 || b[0]&0xf0 != 0x80 {
			return nil, fmt.Errorf("kafka: argus writer did not start with a MAR")
		}
		n := int(binary.BigEndian.Uint16(b[2:])) * 4
		if n > len(b) {
			return nil, fmt.Errorf("kafka: argus MAR length %d", n)
		}
		b = b[n:]
		p.marOut = true
	}
	return b, nil
}

// Produce encodes and queues recs; it blocks when kgo's buffer is full
// (back-pressure). Encoding failures are counted and the first one is
// returned after the rest are queued; delivery results come from Flush.
//
// Without a spill, ctx is also the records' in kgo: ending it fails those
// not yet sent. With a spill, ctx bounds only Produce's own waits, and
// records go to the spill instead while the broker is unreachable; with
// the spill full Produce waits for room or, with SpillDrop, drops the
// record (ErrSpillFull, Dropped).
func (p *Producer) Produce(ctx context.Context, recs []flow.Record) error {
	return p.ProduceEach(ctx, recs, nil)
}

// ProduceEach is Produce, telling fail about every record of recs that
// was not queued (its index in recs, and why: an *EncodeError,
// ErrSpillFull, ctx's error, a spill write error). Management records are
// skipped without a call (Skipped).
func (p *Producer) ProduceEach(ctx context.Context, recs []flow.Record, fail func(i int, err error)) error {
	if p.format == FormatRaw {
		return fmt.Errorf("%w: records given to a raw producer (ProduceRaw)", ErrFormat)
	}
	var first error
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		if r.Type == flow.TypeMgmt {
			p.skipped.Add(1)
			continue
		}
		v, err := p.encode(r)
		if err != nil {
			p.failed.Add(1)
			e := &EncodeError{Index: i, Format: p.format, Err: err}
			if fail != nil {
				fail(i, e)
			}
			if first == nil {
				first = e
			}
			continue
		}
		kr := &kgo.Record{
			Key:     p.key(r),
			Value:   append([]byte(nil), v...), // kgo holds it until acked
			Headers: p.headers,
		}
		if err := p.send(ctx, kr); err != nil {
			if fail != nil {
				fail(i, err)
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// EncodeError is a record that could not be encoded for the topic.
type EncodeError struct {
	Index  int // in the Produce slice
	Format string
	Err    error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("kafka: record %d: %s encode: %v", e.Index, e.Format, e.Err)
}
func (e *EncodeError) Unwrap() error { return e.Err }

// Flush waits until every queued message is acknowledged or failed and
// returns the first delivery error since the last Flush.
//
// With a spill, a record is done once acknowledged or spilled: Flush
// waits for the records in kgo's buffer (at most SpillAfter while the
// broker is away), then writes the spill's buffer out; it does not wait
// for the spill to drain.
func (p *Producer) Flush(ctx context.Context) error {
	if p.sp != nil {
		if err := p.flushSpill(ctx); err != nil {
			return err
		}
	} else if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	p.errMu.Lock()
	err := p.firstErr
	p.firstErr = nil
	p.errMu.Unlock()
	return err
}

// Stats returns the counters.
func (p *Producer) Stats() ProducerStats {
	st := ProducerStats{Produced: p.produced.Load(), Failed: p.failed.Load(),
		Skipped: p.skipped.Load(), Lossy: p.lossy.Load(),
		Spilled: p.spilled.Load(), Drained: p.drained.Load(), Dropped: p.dropped.Load(),
		Resent: p.resent.Load(), Spilling: p.spilling.Load()}
	if p.sp != nil {
		p.sm.Lock()
		st.Corrupt = p.sp.corrupt + p.retry.corrupt
		st.SpillBytes = p.sp.bytes() + p.retry.bytes()
		p.sm.Unlock()
	}
	return st
}

// Close flushes (bounded by ctx) and closes the client. With a spill, it
// drains the spill while ctx allows and the broker takes windows (none
// acknowledged for SpillAfter: it stops); what is left (and what kgo still
// holds) stays in the spill, synced to disk, for the next producer on the
// directory: Close says so with ErrSpilling.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if p.sp != nil && (errors.Is(err, ErrSpilling) || ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		// What kgo still holds goes to the spill below: not an error
		// (what is left at the end is).
		err = nil
	}
	if p.sp != nil {
		// Drain while ctx allows and the drain moves (a window acked
		// within SpillAfter); what is left stays on disk.
		tick := time.NewTicker(50 * time.Millisecond)
		last, since := p.drained.Load(), time.Now()
		for p.spilling.Load() && ctx.Err() == nil && time.Since(since) < p.spillAfter+time.Second {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
			if n := p.drained.Load(); n != last {
				last, since = n, time.Now()
			}
		}
		tick.Stop()
		p.stopDrain()
		<-p.drainDone
	}
	p.cl.Close()
	if p.sp != nil {
		// cl.Close fails what kgo holds; wait for those promises to put
		// the records in the retry queue before it closes.
		for end := time.Now().Add(5 * time.Second); p.inflight.Load() > 0 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
	}
	if e := p.closeSpill(); err == nil {
		err = e
	}
	if err == nil && p.sp != nil && (!p.sp.empty() || !p.retry.empty()) {
		err = fmt.Errorf("%w: %d bytes left in %s for the next start", ErrSpilling, p.sp.bytes()+p.retry.bytes(), filepath.Dir(p.sp.dir))
	}
	return err
}
