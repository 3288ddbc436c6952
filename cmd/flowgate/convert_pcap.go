package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/sensor"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/flowgate/flowgate/sensor/decode"
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
	// ipBytes: the sink is a conn.log, whose orig_ip_bytes/resp_ip_bytes
	// count from the IP header, where argus counts from the link-layer
	// header: the records' bytes are made IP-level (ipBytes below).
	ipBytes bool
}

// pcapHelp is the --sensor flag's help.
const pcapHelp = "pcap: sources: the sensor's argus options `ARGS`, as flowgate sensor takes them " +
	"(e.g. \"-S 86400 -A -m -U 32 -N 1-1000 -F argus.conf --shards 2 tcp port 80\"; a filter expression needs tcpdump); " +
	"not -r, -i, -w, -P or --metrics, which convert's -r and -w replace. " +
	"The records are flowgate sensor's, but for argus3 sinks, made as with -3, and zeek/zeekjson sinks, " +
	"whose bytes count from the IP header (orig_ip_bytes) where argus counts from the link-layer header"

// addPcapFlags adds --sensor to convert, and notes before the run whether
// the sink is argus3 (the flags are parsed then).
func addPcapFlags(cmd *cobra.Command, o *pcapOpts) {
	cmd.Flags().StringVar(&o.sensor, "sensor", "", pcapHelp)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		r, w := c.Flags().Lookup("read"), c.Flags().Lookup("write")
		if w != nil {
			if ep, err := gateway.ParseEndpoint(w.Value.String()); err == nil {
				o.argus3 = ep.Format == gateway.FormatArgus3
				o.ipBytes = ep.Format == gateway.FormatZeek || ep.Format == gateway.FormatZeekJSON
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
	in  gateway.Endpoint
	opt sensor.Options
	src capture.Source

	// After Serve: the sensor's counters, the MARs it made, and the
	// capture's read errors (each names the file and byte offset).
	stats    sensor.Stats
	mars     int64
	readErrs []error

	ipb *ipBytes // pcapOpts.ipBytes
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
	p := &pcapSource{in: in, opt: opt, src: src}
	if o.pcap.ipBytes {
		p.ipb = newIPBytes(opt.NoTunnels)
	}
	return p, nil
}

// pcapSensorOptions are the sensor's options for a, as runSensor sets
// them for capture files (one flow table unless --shards says more).
func pcapSensorOptions(a *sensorArgs, argus3 bool) (sensor.Options, error) {
	c := a.conf
	opt := sensor.ConfOptions(c)
	opt.Argus3 = a.v3 || argus3
	opt.Shards = max(a.shards, 1)
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
	var stopped atomic.Bool // herr is set: the reading loop's view of it
	flush := func() {
		if len(batch) > 0 && herr == nil {
			if herr = h(batch); herr != nil {
				stopped.Store(true)
			}
		}
		batch, arena = batch[:0], arena[:0]
	}
	// With several shards, emit runs on their goroutines, one call at a
	// time, and Close waits for them: batch and herr need no lock.
	s := sensor.New(p.opt, func(r *flow.Record) {
		if herr != nil {
			return
		}
		if r.Type == flow.TypeMgmt {
			p.mars++
		}
		batch = append(batch, *r)
		arena = batch[len(batch)-1].DetachInto(arena)
		if p.ipb != nil && r.Type != flow.TypeMgmt {
			p.ipb.record(&batch[len(batch)-1])
		}
		if len(batch) == cap(batch) {
			flush()
		}
	})
	bsrc := capture.Batch(p.src)
	frames := make([]capture.Frame, readBatch)
	var lastErr error
	for ctx.Err() == nil && !stopped.Load() {
		n, err := bsrc.ReadFrames(frames)
		if err == nil {
			lastErr = nil
			if p.ipb != nil {
				p.ipb.frames(frames[:n])
			}
			s.Frames(frames[:n])
			continue
		}
		if err == io.EOF || lastErr != nil {
			break // a repeated error is sticky: nothing more to read
		}
		p.readErrs = append(p.readErrs, err) // returned after the flush
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
	if b := p.ipb; b != nil {
		fmt.Fprintf(w, "  IP bytes          %d flow records' bytes counted from the IP header (conn.log ip_bytes), %d of them inexact (a host pair's packets with different link-layer headers)\n", b.records, b.inexact)
	}
	for _, err := range p.readErrs {
		fmt.Fprintf(w, "  capture error     %v\n", err)
	}
}

// ipBytes makes the sensor's byte counts IP-level for a conn.log, whose
// orig_ip_bytes/resp_ip_bytes are the sum of the packets' IP total
// length. argus counts a packet from its link-layer header and Argus
// records have no field for IP bytes, so the frames are decoded once more
// here, before the sensor: a frame's Ethernet padding (past the IP packet)
// is cut off, so that the bytes in front of the IP header are the same
// for every packet of a flow's direction (its link-layer header, VLAN
// tags, MPLS labels, tunnel headers); that overhead is noted per 5-tuple
// (and per host pair for fragments without ports), and taken off each
// record's bytes, packets x overhead, as the record goes out. A 5-tuple
// whose packets come with different overheads gives inexact counts (the
// last one noted is used): they are counted for the report. The table
// holds a 48-byte entry per 5-tuple until the end (convert pcap: reads
// files), and costs about 0.35 µs of CPU a packet, decoding included
// (gen-1000000.pcap to zeek: 0.37 s user without, 0.74 s with).
type ipBytes struct {
	dec  decode.Decoder
	pkt  decode.Packet
	mu   sync.Mutex // the map, with several shards (records come from theirs)
	over map[ipKey]ipOverhead
	// records made IP-level, and those of them that may be inexact
	records, inexact int64
}

// ipKey is a 5-tuple, or with pair set a host pair and protocol: lower
// address (then port) first. Addresses are 16-byte arrays: a key without
// pointers hashes faster and costs the collector nothing.
type ipKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
	pair   bool
}

// ipOverhead is the bytes in front of the IP header of the packets from
// each side (0: a, 1: b).
type ipOverhead struct {
	n      [2]int32
	seen   [2]bool
	varies bool
}

func newIPBytes(noTunnels bool) *ipBytes {
	b := &ipBytes{over: map[ipKey]ipOverhead{}}
	b.dec.NoTunnels = noTunnels
	return b
}

// keyOf returns the key of a packet or record from src to dst and the
// side src is on.
func keyOf(src, dst netip.Addr, sp, dp uint16, proto uint8, pair bool) (ipKey, int) {
	if pair {
		sp, dp = 0, 0
	}
	s, d := src.As16(), dst.As16()
	if c := bytes.Compare(d[:], s[:]); c < 0 || c == 0 && dp < sp {
		return ipKey{d, s, dp, sp, proto, pair}, 1
	}
	return ipKey{s, d, sp, dp, proto, pair}, 0
}

// frames cuts each IP frame's padding and notes its overhead, per 5-tuple
// (ports 0 for ICMP), and per host pair for a packet without a transport
// header (a fragment past the first), whose flow the record's 5-tuple
// may not find.
func (b *ipBytes) frames(fs []capture.Frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range fs {
		f, p := &fs[i], &b.pkt
		if b.dec.Decode(f, p) != nil || p.IPLen == 0 || !p.Src.IsValid() {
			continue // the sensor counts it, undecoded or not IP
		}
		wire := max(f.Len, len(f.Data))
		end := p.L2Len + p.IPLen
		if end > wire {
			continue // an IP length past the frame: left as it is
		}
		// What the decoder leaves out of the frame length (a loopback
		// family word, a PPP header) is out of the overhead too.
		over := p.L2Len - (wire - p.WireLen)
		if f.Len > end {
			f.Len = end
		}
		if len(f.Data) > end {
			f.Data = f.Data[:end] // a reslice: the data is never written
		}
		if over < 0 {
			continue
		}
		k, side := keyOf(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, false)
		b.note(over, k, side)
		if !p.HasL4 {
			k, side = keyOf(p.Src, p.Dst, 0, 0, p.Proto, true)
			b.note(over, k, side)
		}
	}
}

// note notes an overhead for side of k.
func (b *ipBytes) note(over int, k ipKey, side int) {
	o := b.over[k]
	if o.seen[side] && o.n[side] != int32(over) {
		o.varies = true
	} else if o.seen[side] {
		return // unchanged: no store
	}
	o.n[side], o.seen[side] = int32(over), true
	b.over[k] = o
}

// record takes the noted overhead off r's bytes.
func (b *ipBytes) record(r *flow.Record) {
	if r.Has&flow.HasMetrics == 0 || !r.Key.Src.IsValid() || !r.Key.Dst.IsValid() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k, side := keyOf(r.Key.Src, r.Key.Dst, r.Key.SrcPort, r.Key.DstPort, r.Key.Proto, false)
	o, ok := b.over[k]
	if !ok {
		k, side = keyOf(r.Key.Src, r.Key.Dst, 0, 0, r.Key.Proto, true)
		if o, ok = b.over[k]; !ok {
			return // not IP as decoded (ARP)
		}
	}
	b.records++
	exact := !o.varies
	for d := range 2 {
		s := side ^ d // the side that sent direction d
		if r.Pkts[d] == 0 {
			continue
		}
		cut := r.Pkts[d] * uint64(o.n[s])
		if !o.seen[s] || cut > r.Bytes[d] {
			exact = false
			continue
		}
		r.Bytes[d] -= cut
	}
	if !exact {
		b.inexact++
	}
}
