package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
	// MappingVersion is sent in the fg-mapping header, so a consumer can
	// tell which mapping produced the values.
	MappingVersion string
	Key            Keying
	// Compression: "lz4", "zstd", "snappy", "gzip", "none" ("" = lz4).
	Compression string
	Linger      time.Duration // 0 = kgo's default (no linger)
	BatchBytes  int32         // max record batch bytes, 0 = kgo's default
	// Opts are extra kgo options (TLS dialer, SASL ...), applied last.
	Opts []kgo.Opt
}

// ProducerStats are the producer's counters.
type ProducerStats struct {
	Produced int64 // acknowledged by the broker (acks=all)
	Failed   int64 // given up by kgo (after its retries) or not encodable
	Skipped  int64 // management records (MAR): not published, see doc.go
	Lossy    int64 // published JSON lines that left a value out (jsonl Encode error)
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
		if p.jw, err = jsonl.NewWriter(&p.buf, d); err != nil {
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
		kgo.ProducerBatchCompression(codec),
	}
	if cfg.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(cfg.Linger))
	}
	if cfg.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(cfg.BatchBytes))
	}
	opts = append(opts, cfg.Opts...)
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	p.promise = func(_ *kgo.Record, err error) {
		if err != nil {
			p.failed.Add(1)
			p.setErr(err)
			return
		}
		p.produced.Add(1)
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
func (p *Producer) Produce(ctx context.Context, recs []flow.Record) error {
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
			if first == nil {
				first = &EncodeError{Index: i, Format: p.format, Err: err}
			}
			continue
		}
		kr := &kgo.Record{
			Key:     p.key(r),
			Value:   append([]byte(nil), v...), // kgo holds it until acked
			Headers: p.headers,
		}
		p.cl.Produce(ctx, kr, p.promise)
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
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
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
	return ProducerStats{Produced: p.produced.Load(), Failed: p.failed.Load(),
		Skipped: p.skipped.Load(), Lossy: p.lossy.Load()}
}

// Close flushes (bounded by ctx) and closes the client.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	p.cl.Close()
	return err
}
