// Command gensample writes testdata/sample.argus, the small Argus 5 file
// `make run` prints: a handful of flow records built here as flow.Record
// values and written by our own Argus writer (no capture, no third-party
// data). Regenerate with
//
//	go run ./conformance/tools/gensample -o testdata/sample.argus
//
// (-v 3 writes the same records as Argus 3, which Debian's ra can read.)
// The output is deterministic.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/flow"
)

// t0 is 2023-11-14 22:13:20 UTC, the epoch of all generated test data.
const t0 = int64(1700000000) * 1e9

const (
	ms = int64(1e6)
	us = int64(1e3)

	encEther = 0x2 // Argus encapsulation mask bit: Ethernet

	tcpSawSyn      = 0x1
	tcpSynSent     = 0x2
	tcpEstablished = 0x4
	tcpFin         = 0x8
	tcpFinAck      = 0x10
	tcpSrcReset    = 0x1000
)

var (
	macClient = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	macServer = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// base fills what every sample record has: type, cause, source id,
// sequence number, times, counters, Ethernet encapsulation, MACs and IP
// attributes.
func base(r *flow.Record, seq uint32, start, dur int64, pkts, bytes [2]uint64) {
	r.Type, r.Cause = flow.TypeFlow, flow.CauseStart
	r.Has |= flow.HasSrcID | flow.HasSeq | flow.HasKey | flow.HasTime | flow.HasMetrics |
		flow.HasEncaps | flow.HasMAC | flow.HasIPAttr
	r.SrcID.Type = flow.SrcIDIPv4
	copy(r.SrcID.ID[:], []byte{192, 0, 2, 254})
	r.Seq = seq
	r.Start, r.Last = start, start+dur
	r.Pkts, r.Bytes = pkts, bytes
	r.Encaps.Mask = [2]uint32{encEther, 0}
	if pkts[flow.Dst] > 0 {
		r.Encaps.Mask[flow.Dst] = encEther
	}
	r.MAC.Src, r.MAC.Dst = macClient, macServer
	r.IPAttr.Present = 0x1
	r.IPAttr.TTL[flow.Src], r.IPAttr.TOS[flow.Src] = 64, 0
	if pkts[flow.Dst] > 0 {
		r.IPAttr.Present |= 0x2
		r.IPAttr.TTL[flow.Dst] = 57
	}
}

func key4(proto uint8, src string, sport uint16, dst string, dport uint16) flow.Key {
	return flow.Key{Kind: flow.Kind5Tuple, AddrType: flow.AddrIPv4, Proto: proto,
		Src: netip.MustParseAddr(src), SrcPort: sport, Dst: netip.MustParseAddr(dst), DstPort: dport}
}

func key6(proto uint8, src string, sport uint16, dst string, dport uint16) flow.Key {
	k := key4(proto, src, sport, dst, dport)
	k.AddrType = flow.AddrIPv6
	return k
}

func records() []flow.Record {
	var rs []flow.Record
	add := func(r flow.Record) { rs = append(rs, r) }

	// 1. An HTTP fetch over TCP: handshake, request, two response
	//    segments, FIN both ways.
	var r flow.Record
	base(&r, 1, t0, 7170*us, [2]uint64{6, 4}, [2]uint64{342, 715})
	r.Key = key4(6, "10.0.0.1", 40000, "10.0.0.2", 80)
	r.Has |= flow.HasTCP | flow.HasAppBytes
	r.AppBytes = [2]uint64{60, 553}
	r.TCP.Object = flow.TCPPerf
	r.TCP.Status = tcpSawSyn | tcpSynSent | tcpEstablished | tcpFin | tcpFinAck
	r.TCP.SynAck, r.TCP.AckDat = 1200, 350
	r.TCP.Side[flow.Src] = flow.TCPSide{SeqBase: 1000, Bytes: 60, Win: 64240, Flags: 0x1b, WinShift: 7}
	r.TCP.Side[flow.Dst] = flow.TCPSide{SeqBase: 5000, Bytes: 553, Win: 65160, Flags: 0x1b, WinShift: 7}
	r.TCP.HasDst = true
	add(r)

	// 2. A DNS query and its answer over UDP.
	r = flow.Record{}
	base(&r, 2, t0+500*ms, 12345*us, [2]uint64{1, 1}, [2]uint64{71, 98})
	r.Key = key4(17, "10.0.0.1", 53001, "10.0.0.53", 53)
	r.Has |= flow.HasAppBytes
	r.AppBytes = [2]uint64{29, 56}
	add(r)

	// 3. ICMP echo: three requests, three replies.
	r = flow.Record{}
	base(&r, 3, t0+1*1e9, 2000*ms+400*us, [2]uint64{3, 3}, [2]uint64{294, 294})
	r.Key = key4(1, "10.0.0.1", 0, "10.0.0.3", 0)
	r.Has |= flow.HasICMPKey | flow.HasICMP | flow.HasAppBytes
	r.Key.ICMPType, r.Key.ICMPID = 8, 0x4242
	r.ICMP.Type, r.ICMP.Seq = 8, 3
	r.AppBytes = [2]uint64{168, 168}
	add(r)

	// 4. IPv6: a TCP connection refused with a reset.
	r = flow.Record{}
	base(&r, 4, t0+3*1e9, 410*us, [2]uint64{1, 1}, [2]uint64{94, 74})
	r.Key = key6(6, "2001:db8::1", 40001, "2001:db8::2", 443)
	r.Has |= flow.HasTCP
	r.Encaps.Mask = [2]uint32{encEther, encEther}
	r.TCP.Object = flow.TCPPerf
	r.TCP.Status = tcpSawSyn | tcpSrcReset<<1 // DST_RESET: the server refused
	r.TCP.Side[flow.Src] = flow.TCPSide{SeqBase: 77000, Win: 64800, Flags: 0x02, WinShift: 7}
	r.TCP.Side[flow.Dst] = flow.TCPSide{Flags: 0x14}
	r.TCP.HasDst = true
	add(r)

	// 5. IPv6 UDP, one way (a syslog message).
	r = flow.Record{}
	base(&r, 5, t0+4*1e9, 0, [2]uint64{1, 0}, [2]uint64{140, 0})
	r.Key = key6(17, "2001:db8::1", 51514, "2001:db8::514", 514)
	r.Has |= flow.HasAppBytes
	r.AppBytes = [2]uint64{78, 0}
	add(r)
	return rs
}

func main() {
	out := flag.String("o", "testdata/sample.argus", "output file")
	version := flag.Int("v", 5, "Argus version to write (3 or 5)")
	flag.Parse()
	if err := write(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "gensample:", err)
		os.Exit(1)
	}
}

func write(path string, version int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	w, err := argus.NewWriter(bw, version)
	if err != nil {
		return err
	}
	rs := records()
	for i := range rs {
		if err := w.Encode(&rs[i]); err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
