package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
)

// cmdSend sends numbered records as NetFlow v9 or IPFIX datagrams, paced
// to -rate records/s, from -exporters sockets (each its own exporter,
// with its own encoder and templates; SO_REUSEPORT spreads them over the
// listener's workers).
//
// By default every datagram is encoded before the clock starts, so that
// the sender spends its CPU on writes only and the rate is exact. With
// -live each datagram is encoded as it goes, its records' last time set
// to the send time (ns), for count -lat.
func cmdSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	to := fs.String("to", "127.0.0.1:4739", "collector `host:port`")
	format := fs.String("format", "ipfix", "ipfix or nf9")
	in := fs.String("in", "", "Argus `file` whose flows are sent, in turn (required)")
	limit := fs.Int("limit", 50000, "read at most `n` flows of -in (0: all; a record takes 2.3 KB in memory)")
	rate := fs.Int("rate", 100000, "records per second (0: as fast as possible)")
	dur := fs.Duration("duration", 10*time.Second, "how long to send: rate x duration records")
	total := fs.Int("n", 0, "records to send (overrides -duration)")
	exporters := fs.Int("exporters", 8, "sockets (exporters)")
	mtu := fs.Int("mtu", 1400, "datagram size limit")
	live := fs.Bool("live", false, "encode as sending, last time = send time (latency)")
	fs.Parse(args)
	if *in == "" {
		return errors.New("-in is required")
	}
	if *format != "ipfix" && *format != "nf9" {
		return fmt.Errorf("-format %q: ipfix or nf9", *format)
	}
	n := *total
	if n == 0 {
		n = int(float64(*rate) * dur.Seconds())
	}
	if n <= 0 {
		return errors.New("nothing to send: give -n or -rate and -duration")
	}
	newEnc := func() gateway.PacketEncoder {
		if *format == "nf9" {
			return netflow9.NewEncoder(nil, netflow9.WithMTU(*mtu))
		}
		opts := []ipfix.EncoderOption{ipfix.WithMTU(*mtu)}
		if *live {
			// One template shape: ns times whether or not a record
			// has a finer part than the ms.
			opts = append(opts, ipfix.WithNanoseconds())
		}
		return ipfix.NewEncoder(nil, opts...)
	}
	t0 := time.Now()
	input, err := loadRecords(*in, *limit)
	if err != nil {
		return err
	}
	if *format == "nf9" {
		if input, err = oneWay(input); err != nil {
			return err
		}
	}
	input, refused := representable(input, newEnc())
	conns := make([]*net.UDPConn, *exporters)
	for i := range conns {
		c, err := net.Dial("udp", *to)
		if err != nil {
			return err
		}
		conns[i] = c.(*net.UDPConn)
		conns[i].SetWriteBuffer(4 << 20)
		defer conns[i].Close()
	}
	encs := make([]gateway.PacketEncoder, *exporters)
	for i := range encs {
		encs[i] = newEnc()
	}
	var st sendStats
	if *live {
		err = sendLive(&st, conns, encs, input, n, *rate, *format == "nf9")
	} else {
		var ds *datagrams
		ds, err = encodeAll(encs, input, n)
		if err == nil {
			st.prepare = time.Since(t0)
			err = sendEncoded(&st, conns, ds, *rate)
		}
	}
	if err != nil {
		return err
	}
	u1, s1 := cpuSeconds()
	report(map[string]any{
		"cmd": "send", "format": *format, "live": *live, "exporters": *exporters,
		"input_flows": len(input), "input_refused": refused,
		"records": st.records, "datagrams": st.datagrams, "bytes": st.bytes,
		"write_errors": st.writeErrors, "prepare_s": round3(st.prepare.Seconds()),
		"send_s": round3(st.elapsed.Seconds()), "rate_asked": *rate,
		"rate":               int64(float64(st.records) / st.elapsed.Seconds()),
		"send_start_unix_ns": st.start.UnixNano(),
		"send_cpu_s":         round3(u1 + s1 - st.cpu0),
	})
	return nil
}

type sendStats struct {
	records, datagrams, bytes, writeErrors int64
	start                                  time.Time
	prepare, elapsed                       time.Duration
	cpu0                                   float64 // CPU seconds at the start of sending
}

// representable keeps the flows the strict encoder takes once numbered (a
// refused one would be a record the counter waits for in vain).
func representable(in []flow.Record, enc gateway.PacketEncoder) ([]flow.Record, int) {
	out := in[:0]
	var buf []byte
	refused := 0
	for i := range in {
		r := in[i]
		stamp(&r, 1)
		var n int
		var err error
		buf, n, err = enc.AppendPacket(buf[:0], []flow.Record{r})
		if err != nil || n != 1 {
			refused++
			continue
		}
		out = append(out, in[i])
	}
	return out, refused
}

// datagrams are encoded datagrams in sending order, in one arena.
type datagrams struct {
	arena []byte
	d     []datagram
}

type datagram struct {
	off, len int32
	exp      uint16
	recs     uint16
}

// encodeAll numbers and encodes n records: batches of 256 consecutive
// records go to the exporters in turn, so the datagrams interleave.
func encodeAll(encs []gateway.PacketEncoder, input []flow.Record, n int) (*datagrams, error) {
	ds := &datagrams{arena: make([]byte, 0, n*64)}
	batch := make([]flow.Record, 0, 256)
	for seq, b := 0, 0; seq < n; b++ {
		batch = batch[:0]
		for len(batch) < cap(batch) && seq < n {
			r := input[seq%len(input)]
			stamp(&r, uint64(seq))
			batch = append(batch, r)
			seq++
		}
		e := b % len(encs)
		recs := batch
		for len(recs) > 0 {
			off := len(ds.arena)
			var k int
			var err error
			ds.arena, k, err = encs[e].AppendPacket(ds.arena, recs)
			if err != nil {
				return nil, fmt.Errorf("encode record %d: %w", seq-len(recs), err)
			}
			if k == 0 {
				return nil, errors.New("encoder took no record")
			}
			ds.d = append(ds.d, datagram{off: int32(off), len: int32(len(ds.arena) - off), exp: uint16(e), recs: uint16(k)})
			recs = recs[k:]
		}
	}
	return ds, nil
}

// pace sleeps until sent records are due at rate since start.
func pace(start time.Time, sent int64, rate int) {
	if rate <= 0 {
		return
	}
	due := start.Add(time.Duration(sent * int64(time.Second) / int64(rate)))
	if d := time.Until(due); d > 200*time.Microsecond {
		time.Sleep(d)
	}
}

func write(st *sendStats, c *net.UDPConn, b []byte) error {
	if _, err := c.Write(b); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			// No listener yet (ICMP port unreachable): the datagram is lost, as an exporter's would be.
			st.writeErrors++
			return nil
		}
		return err
	}
	st.datagrams++
	st.bytes += int64(len(b))
	return nil
}

func sendEncoded(st *sendStats, conns []*net.UDPConn, ds *datagrams, rate int) error {
	u, sy := cpuSeconds()
	st.cpu0 = u + sy
	st.start = time.Now()
	for _, d := range ds.d {
		pace(st.start, st.records, rate)
		if err := write(st, conns[d.exp], ds.arena[d.off:d.off+d.len]); err != nil {
			return err
		}
		st.records += int64(d.recs)
	}
	st.elapsed = time.Since(st.start)
	return nil
}

// sendLive encodes each datagram just before it goes, its records' last
// time set to now. Exporters take datagrams in turn, each from its own
// pending records (numbered as they are taken from the input).
func sendLive(st *sendStats, conns []*net.UDPConn, encs []gateway.PacketEncoder, input []flow.Record, n, rate int, msTimes bool) error {
	pending := make([][]flow.Record, len(encs))
	for i := range pending {
		pending[i] = make([]flow.Record, 0, 64)
	}
	var buf []byte
	seq := 0
	u, sy := cpuSeconds()
	st.cpu0 = u + sy
	st.start = time.Now()
	for e := 0; ; e = (e + 1) % len(encs) {
		p := pending[e]
		if len(p) == 0 {
			if seq >= n {
				done := true
				for _, q := range pending {
					done = done && len(q) == 0
				}
				if done {
					break
				}
				continue
			}
			p = p[:0]
			for len(p) < cap(p) && seq < n {
				r := input[seq%len(input)]
				stamp(&r, uint64(seq))
				p = append(p, r)
				seq++
			}
		}
		pace(st.start, st.records, rate)
		now := time.Now().UnixNano()
		if msTimes {
			now = now / 1e6 * 1e6
		}
		for i := range p {
			p[i].Last = now
		}
		var k int
		var err error
		buf, k, err = encs[e].AppendPacket(buf[:0], p)
		if err != nil || k == 0 {
			return fmt.Errorf("encode: %d taken: %v", k, err)
		}
		if err := write(st, conns[e], buf); err != nil {
			return err
		}
		st.records += int64(k)
		// Keep the rest for this exporter's next datagram.
		pending[e] = append(p[:0], p[k:]...)
	}
	st.elapsed = time.Since(st.start)
	return nil
}
