package daemon

import (
	"context"
	"errors"

	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/kafka"
)

var _ RawSink = (*kafkaSink)(nil)

// WriteRaw produces export messages as received (format=raw): the value
// is the datagram, the key its exporter, so one exporter's templates and
// data stay in one partition, in order. A message the spill could not
// take (full, spill_full=drop) is lost as queue_full, any other failure
// as sink_error, each labelled by its exporter.
func (k *kafkaSink) WriteRaw(ctx context.Context, msgs []gateway.Message, lost func(*gateway.Message, Reason)) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaWait)
	defer cancel()
	var sinkErr error
	err := k.p.ProduceRawEach(ctx, msgs, func(i int, err error) {
		r := ReasonSinkError
		if errors.Is(err, kafka.ErrSpillFull) {
			r = ReasonQueueFull
		}
		lost(&msgs[i], r)
		if sinkErr == nil {
			sinkErr = err
		}
	})
	if sinkErr == nil {
		sinkErr = err
	}
	return sinkErr
}
