package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/spf13/cobra"
)

// pcapOpts are convert's options for a pcap: source: the capture goes
// through the sensor, as `flowgate sensor -r FILE` reads it.
type pcapOpts struct {
	sensor string // --sensor: the sensor's argus options
	// argus3: the sink is argus3, so the sensor makes Argus 3 records (as
	// with its -3): µs packet times and no TCP MSS, which an Argus 3
	// writer would otherwise refuse.
	argus3 bool
}

// pcapHelp is the --sensor flag's help.
const pcapHelp = "pcap: sources: the sensor's argus options `ARGS`, as flowgate sensor takes them " +
	"(e.g. \"-S 5 -A -m -U 32 -N 1-1000 -F argus.conf --shards 2 tcp port 80\"; a filter expression needs tcpdump); " +
	"not -r, -i, -w, -P or --metrics, which convert's -r and -w replace"

// addPcapFlags adds --sensor to convert, and notes before the run whether
// the sink is argus3 (the flags are parsed then).
func addPcapFlags(cmd *cobra.Command, o *pcapOpts) {
	cmd.Flags().StringVar(&o.sensor, "sensor", "", pcapHelp)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		r, w := c.Flags().Lookup("read"), c.Flags().Lookup("write")
		if w != nil {
			if ep, err := gateway.ParseEndpoint(w.Value.String()); err == nil && ep.Format == gateway.FormatArgus3 {
				o.argus3 = true
			}
		}
		if o.sensor != "" && r != nil {
			if ep, err := gateway.ParseEndpoint(r.Value.String()); err == nil && ep.Format != gateway.FormatPcap {
				return fmt.Errorf("convert: --sensor is for pcap: sources, not %s", ep)
			}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// pcapSource reads a packet capture through the sensor: its flow records
// and MARs are convert's records.
type pcapSource struct {
	in     gateway.Endpoint
	opt    sensor.Options
	src    capture.Source
	stderr io.Writer

	// After Serve: the sensor's counters, the MARs it made, and the
	// capture's read errors (each names the file and byte offset).
	stats    sensor.Stats
	mars     int64
	readErrs []error
}

// errPcapArgs: an option of --sensor that convert's own flags replace.
var errPcapArgs = errors.New("convert: --sensor")

func openPcapSource(in gateway.Endpoint, o convertOpts) (*pcapSource, error) {
	if in.IsNetwork() {
		return nil, fmt.Errorf("convert: %s: pcap: is a file source (flowgate sensor -i reads interfaces)", in)
	}
	a, err := parseSensorArgs(strings.Fields(o.pcap.sensor))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPcapArgs, err)
	}
	switch {
	case len(a.files) > 0 || a.iface != "":
		return nil, fmt.Errorf("%w: -r and -i: the capture is convert's -r pcap:FILE", errPcapArgs)
	case a.write != "" || a.port > 0:
		return nil, fmt.Errorf("%w: -w and -P: the sink is convert's -w", errPcapArgs)
	case a.metrics != "":
		return nil, fmt.Errorf("%w: --metrics is for flowgate sensor", errPcapArgs)
	}
	a.files = []string{in.Path}
	opt, err := pcapSensorOptions(a, o.pcap.argus3)
	if err != nil {
		return nil, err
	}
	src, _, err := openPackets(a, o.stdin)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", in, err)
	}
	return &pcapSource{in: in, opt: opt, src: src, stderr: o.stderr}, nil
}

// pcapSensorOptions are the sensor's options for a, as runSensor sets
// them for capture files (one flow table unless --shards says more).
func pcapSensorOptions(a *sensorArgs, argus3 bool) (sensor.Options, error) {
	c := a.conf
	opt := sensor.Options{
		Track:          trackOptions(c),
		Argus3:         a.v3 || argus3,
		NoTunnels:      !c.TunnelParsing,
		MarInterval:    uint16(c.MarStatus / time.Second),
		ReportInterval: uint16(max(c.FlowStatus/time.Second, 1)),
		Shards:         max(a.shards, 1),
	}
	if c.MonitorID != "" {
		id, err := parseMonitorID(c.MonitorID)
		if err != nil {
			return opt, err
		}
		opt.Track.MonitorID, opt.Track.HasID = id, true
	}
	opt.Track.MaxMemory = a.maxMem
	return opt, nil
}

// pcapBatch is how many records the source hands over at a time.
const pcapBatch = 256

// Serve runs the sensor over the capture. Records are gathered into
// batches (each record's bytes copied into an arena reused from batch to
// batch: the sensor reuses its record after emit) and handed to h. A bad
// record in the capture is reported and ends the reading, as in
// flowgate sensor: the flows so far are flushed, and Serve returns the
// error after them. Cancelling ctx stops the reading the same way, with
// no error.
func (p *pcapSource) Serve(ctx context.Context, h gateway.Handler) error {
	batch := make([]flow.Record, 0, pcapBatch)
	var arena []byte
	var herr error
	flush := func() {
		if len(batch) > 0 && herr == nil {
			herr = h(batch)
		}
		batch, arena = batch[:0], arena[:0]
	}
	// With several shards, emit runs on their goroutines, one call at a
	// time, and Close waits for them: batch needs no lock.
	s := sensor.New(p.opt, func(r *flow.Record) {
		if herr != nil {
			return
		}
		if r.Type == flow.TypeMgmt {
			p.mars++
		}
		batch = append(batch, *r)
		arena = batch[len(batch)-1].DetachInto(arena)
		if len(batch) == cap(batch) {
			flush()
		}
	})
	bsrc := capture.Batch(p.src)
	frames := make([]capture.Frame, readBatch)
	var lastErr error
	for ctx.Err() == nil && herr == nil {
		n, err := bsrc.ReadFrames(frames)
		if err == nil {
			lastErr = nil
			s.Frames(frames[:n])
			continue
		}
		if err == io.EOF || lastErr != nil {
			break // a repeated error is sticky: nothing more to read
		}
		fmt.Fprintf(p.stderr, "flowgate convert: %s: %v\n", p.in, err)
		p.readErrs = append(p.readErrs, err)
		lastErr = err
	}
	s.Close()
	flush()
	p.stats = s.Stats()
	if herr != nil {
		return herr
	}
	if len(p.readErrs) > 0 {
		return fmt.Errorf("convert: %s: %w (the records of the frames before it were written)", p.in, p.readErrs[0])
	}
	return nil
}

// Stats gives the sensor's counts in gateway's terms (report).
func (p *pcapSource) Stats() gateway.Stats {
	return gateway.Stats{Records: p.stats.Records + uint64(p.mars), Bytes: p.stats.Bytes}
}

func (p *pcapSource) Close() error { return p.src.Close() }

// report prints what the sensor read and made of it.
func (p *pcapSource) report(w io.Writer) {
	st := &p.stats
	mode := "Argus 5 (ns times)"
	if p.opt.Argus3 {
		mode = "Argus 3 (µs times, no TCP MSS)"
	}
	fmt.Fprintf(w, "  packets read      %d (%d bytes on the wire), through the sensor making %s records\n", st.Packets, st.Bytes, mode)
	var bad uint64
	for _, n := range st.Bad {
		bad += n
	}
	if bad == 0 {
		fmt.Fprintf(w, "  not decoded       none\n")
	} else {
		fmt.Fprintf(w, "  not decoded       %d frames (%s)\n", bad, badReasons(st.Counters))
	}
	fmt.Fprintf(w, "  flows             %d\n", st.Created)
	fmt.Fprintf(w, "  records made      %d flow records, %d MARs\n", st.Records, p.mars)
	if st.Forced > 0 {
		fmt.Fprintf(w, "  expired early     %d flows (--max-memory)\n", st.Forced)
	}
	for _, err := range p.readErrs {
		fmt.Fprintf(w, "  capture error     %v\n", err)
	}
}
