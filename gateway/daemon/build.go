package daemon

import (
	"errors"
	"fmt"

	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// ErrNotImplemented is a config entry this daemon cannot run yet.
var ErrNotImplemented = errors.New("daemon: not implemented")

// sourceMaker picks the constructor of a source entry. Each kind's
// constructor lives in its own file.
func sourceMaker(s config.Source) (SourceMaker, error) {
	switch s.Kind {
	case config.KindNetFlow:
		return newNetFlowSource, nil
	case config.KindSensor:
		return newSensorSource, nil
	case config.KindArgus:
		return newArgusSource, nil
	case config.KindFile:
		if isFollowed(s) {
			return newFollowSource, nil
		}
		return newFileSource, nil
	case config.KindKafka:
		return newKafkaSource, nil
	}
	return nil, fmt.Errorf("%w: %s as a source", ErrNotImplemented, s.Text)
}

// sinkMaker picks the constructor of a sink entry.
func sinkMaker(s config.Sink) (SinkMaker, error) {
	switch s.Kind {
	case config.KindArgus:
		return newArgusTCPSink, nil
	case config.KindFile:
		switch s.Net.Format {
		case gateway.FormatArgus, gateway.FormatArgus3:
			return newArgusFileSink, nil
		case gateway.FormatJSON, gateway.FormatCSV, gateway.FormatZeek, gateway.FormatZeekJSON:
			return newTextFileSink, nil
		}
	case config.KindNetFlow:
		return newNetFlowSink, nil
	case config.KindKafka:
		return newKafkaSink, nil
	}
	_ = gateway.FormatAuto
	return nil, fmt.Errorf("%w: %s as a sink", ErrNotImplemented, s.Text)
}
