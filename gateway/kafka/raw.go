package kafka

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowgate/flowgate/gateway"
)

// FormatRaw: one NetFlow v5/v9 or IPFIX export message per Kafka message,
// exactly as the listener received it (a UDP datagram, or one IPFIX
// message of a TCP session). The records are decoded by the consumer, so
// a topic replayed after a mapping fix decodes again with the fix.
const FormatRaw = "raw"

// Headers of a raw message.
const (
	// HeaderExporter is the exporter's "ip:port" (netip.AddrPort text):
	// the consumer's template scope.
	HeaderExporter = "fg-exporter"
	// HeaderReceived is the receive time, RFC 3339 UTC with nanoseconds;
	// absent when unknown (a raw message file). The Kafka timestamp is
	// the produce time (kgo times a record out from its timestamp, so an
	// old one, a capture's, would expire at once; a record drained from
	// the spill is stamped again).
	HeaderReceived = "fg-received"
)

// Errors of raw messages.
var (
	// ErrExporter: a raw message without a valid fg-exporter header.
	ErrExporter = errors.New("kafka: raw message without a valid fg-exporter header")
)

// maxRawExporters bounds the decoder sets a consumer keeps, one per
// exporter: past it, further exporters share one set. That keeps memory
// bounded under a flood of exporters without mixing templates: the
// NetFlow/IPFIX decoders key templates by exporter address inside a set
// too.
const maxRawExporters = 1024

// rawKeying checks the keying of a raw producer: by exporter or none (a
// flow key means nothing before decoding).
func rawKeying(k Keying) error {
	if k == KeyFlow {
		return fmt.Errorf("%w: format raw is keyed by exporter or not at all, not by flow", ErrConfig)
	}
	return nil
}

// ProduceRaw queues export messages as received, one Kafka message each:
// the value is Data, the key the exporter's address (KeyExporter, as
// records are keyed, so one exporter's messages stay in one partition, in
// order, and its templates reach the consumer that decodes its data),
// headers fg-format=raw, fg-exporter, fg-received (and fg-mapping when
// set). It copies the batch (kgo holds values until acknowledged) into one
// allocation, so it may be given a listener's buffers (gateway.RawHandler);
// it blocks when kgo's buffer is full. With a spill, messages go to the
// spill while the broker is unreachable, as records do (key, headers and
// the timestamp, in ms, are kept). It returns the first message not
// queued (ErrSpillFull with SpillDrop, ctx's error, a spill write error);
// delivery results come from Flush.
func (p *Producer) ProduceRaw(ctx context.Context, batch []gateway.Message) error {
	return p.ProduceRawEach(ctx, batch, nil)
}

// ProduceRawEach is ProduceRaw, telling fail about every message of batch
// that was not queued (its index, and why), so a caller counts its losses
// exactly.
func (p *Producer) ProduceRawEach(ctx context.Context, batch []gateway.Message, fail func(i int, err error)) error {
	if p.format != FormatRaw {
		return fmt.Errorf("%w: ProduceRaw on a %q producer", ErrFormat, p.format)
	}
	if len(batch) == 0 {
		return nil
	}
	// One arena for values, keys and header texts; one slab of records
	// and one of headers: three allocations a batch, not five a message.
	const perMsg = len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535") + len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") + len(time.RFC3339Nano) + 8
	size := 0
	for i := range batch {
		size += len(batch[i].Data) + perMsg
	}
	var first error
	arena := make([]byte, 0, size)
	nh := len(p.headers) + 2
	hdrs := make([]kgo.RecordHeader, 0, len(batch)*nh)
	recs := make([]kgo.Record, len(batch))
	cut := func(from int) []byte { return arena[from:len(arena):len(arena)] }
	for i := range batch {
		m := &batch[i]
		r := &recs[i]
		n := len(arena)
		arena = append(arena, m.Data...)
		r.Value = cut(n)
		if p.keying == KeyExporter && m.From.Addr().IsValid() {
			n = len(arena)
			arena = m.From.Addr().AppendTo(arena)
			r.Key = cut(n)
		}
		h0 := len(hdrs)
		hdrs = append(hdrs, p.headers...)
		n = len(arena)
		arena = m.From.AppendTo(arena)
		hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderExporter, Value: cut(n)})
		if m.TS != 0 {
			n = len(arena)
			arena = time.Unix(0, m.TS).UTC().AppendFormat(arena, time.RFC3339Nano)
			hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderReceived, Value: cut(n)})
		}
		r.Headers = hdrs[h0:len(hdrs):len(hdrs)]
		if err := p.send(ctx, r); err != nil {
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

// RawHandler returns a gateway.RawHandler that produces what a listener
// receives (gateway.UDPListener.SetRaw, TCPListener.SetRaw), with ctx for
// kgo's back-pressure.
func (p *Producer) RawHandler(ctx context.Context) gateway.RawHandler {
	return func(batch []gateway.Message) error { return p.ProduceRaw(ctx, batch) }
}

// rawDecoders are a consumer's decoder sets for raw messages, one per
// exporter: an exporter's templates apply to its own data only, whatever
// partition or order the messages of several exporters come in.
type rawDecoders struct {
	newDec   gateway.NewDecoders
	sets     map[netip.AddrPort]*gateway.Decoders
	overflow *gateway.Decoders
}

// SetRawDecoders sets how the consumer makes the decoders of raw messages
// (a gateway.CodecSet's New, with the pipeline's mapping and options);
// the default is gateway.NewCodecSet().New. Call it before Run.
func (c *Consumer) SetRawDecoders(newDec gateway.NewDecoders) {
	c.raw = &rawDecoders{newDec: newDec, sets: map[netip.AddrPort]*gateway.Decoders{}}
}

func (rd *rawDecoders) get(from netip.AddrPort) *gateway.Decoders {
	if d := rd.sets[from]; d != nil {
		return d
	}
	if len(rd.sets) >= maxRawExporters {
		if rd.overflow == nil {
			d := rd.newDec()
			rd.overflow = &d
		}
		return rd.overflow
	}
	d := rd.newDec()
	rd.sets[from] = &d
	return &d
}

// decodeRaw decodes one raw message with its exporter's decoders. A
// message that decodes in part (a data set before its template) keeps the
// records it gave and is reported with the error.
func (c *Consumer) decodeRaw(m *kgo.Record) error {
	from, err := netip.ParseAddrPort(header(m, HeaderExporter))
	if err != nil || !from.Addr().IsValid() {
		return fmt.Errorf("%w: %q", ErrExporter, header(m, HeaderExporter))
	}
	if c.raw == nil {
		c.SetRawDecoders(gateway.NewCodecSet().New)
	}
	d := c.raw.get(from)
	n := len(c.recs)
	c.recs, err = d.Decode(m.Value, from, c.recs)
	for i := n; i < len(c.recs); i++ {
		// The decoders' scratch and the poll's buffers are reused.
		c.arena = c.recs[i].DetachInto(c.arena)
	}
	return err
}
