package netflow5

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore"
	"github.com/flowgate/flowgate/flow"
)

// Wire sizes and limits.
const (
	Version    = 5
	HeaderLen  = 24
	RecordLen  = 48
	MaxRecords = 30
	// MaxPacket is the largest valid datagram: 30 records.
	MaxPacket = HeaderLen + MaxRecords*RecordLen
)

// MaxSeqGap is the largest jump of flow_sequence (in flows) counted as
// loss; a larger jump, forwards or backwards, is a sequence quirk.
const MaxSeqGap = 1 << 20

// DefaultMaxExporters bounds the sequence table of a Decoder.
const DefaultMaxExporters = 4096

var be = binary.BigEndian

// Stats counts what a Decoder did.
type Stats struct {
	Packets   uint64 // datagrams decoded
	Records   uint64 // flow records decoded
	Errors    uint64 // datagrams refused (the sum of the next three)
	Truncated uint64 // shorter than the header or than count records
	BadCount  uint64 // count 0 or over 30, or bytes after the last record
	BadVer    uint64 // version field not 5
	Lost      uint64 // flows missing by flow_sequence (net of late arrivals)
	Late      uint64 // datagrams that arrived after a later one (reordered)
	SeqQuirks uint64 // sequence jumps over MaxSeqGap: restart or non-v5 counting
	// Untracked counts datagrams whose sequence was not followed because
	// the exporter table was full.
	Untracked uint64
}

type seqKey struct {
	from   netip.AddrPort
	engine uint16
}

// Decoder decodes NetFlow v5 datagrams. It is safe for concurrent use
// (several sockets of one listener can share it and its sequence table);
// a mutex guards the counters once per datagram.
type Decoder struct {
	mu     sync.Mutex
	seq    map[seqKey]uint32 // next expected flow_sequence
	maxExp int
	stats  Stats
	opt    options
}

// options are the sampling choices the v9/IPFIX decoders offer too
// (nfcore's WithSamplingRate and WithRenormalise), so that one collector
// flag means the same for every version.
type options struct {
	rate   uint32 // for datagrams with no sampling interval (or all, with force)
	force  bool
	renorm bool
}

// Option configures a Decoder.
type Option func(*options)

// WithSamplingRate sets the sampling rate of datagrams whose header gives
// none; with force, it replaces every datagram's.
func WithSamplingRate(rate uint32, force bool) Option {
	return func(o *options) { o.rate, o.force = rate, force }
}

// WithRenormalise multiplies packet and byte counts by the sampling rate.
func WithRenormalise(on bool) Option { return func(o *options) { o.renorm = on } }

var _ codecs.PacketDecoder = (*Decoder)(nil)

// NewDecoder returns a Decoder that follows the sequence numbers of at
// most maxExporters exporter/engine pairs (0: DefaultMaxExporters).
func NewDecoder(maxExporters int, opts ...Option) *Decoder {
	if maxExporters <= 0 {
		maxExporters = DefaultMaxExporters
	}
	d := &Decoder{seq: make(map[seqKey]uint32), maxExp: maxExporters}
	for _, o := range opts {
		o(&d.opt)
	}
	return d
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// fail counts a refused datagram (its reason counter c) and returns its error.
func (d *Decoder) fail(c *uint64, from netip.AddrPort, dom uint32, off int, part string, partOff int, err error) error {
	d.mu.Lock()
	*c++
	d.stats.Errors++
	d.mu.Unlock()
	return &codecs.DecodeError{Format: "netflow5", Offset: int64(off), Part: part, PartOff: int64(partOff),
		Exporter: from, Domain: dom, Err: err}
}

// DecodePacket decodes one datagram from exporter from, appending its
// records to dst. A datagram that is not valid v5 as a whole is refused
// with a *codecs.DecodeError (Offset 0, Part and PartOff naming the field
// at fault) and nothing is appended.
func (d *Decoder) DecodePacket(b []byte, from netip.AddrPort, dst []flow.Record) ([]flow.Record, error) {
	if len(b) < HeaderLen {
		return dst, d.fail(&d.stats.Truncated, from, 0, 0, "header", 0, fmt.Errorf("%d bytes, header needs %d: %w", len(b), HeaderLen, codecs.ErrTruncated))
	}
	if v := be.Uint16(b); v != Version {
		return dst, d.fail(&d.stats.BadVer, from, 0, 0, "version", 0, fmt.Errorf("version %d: %w", v, codecs.ErrCorrupt))
	}
	count := int(be.Uint16(b[2:]))
	dom := uint32(be.Uint16(b[20:]))
	if count == 0 || count > MaxRecords {
		return dst, d.fail(&d.stats.BadCount, from, dom, 0, "count", 2, fmt.Errorf("count %d, want 1-%d: %w", count, MaxRecords, codecs.ErrCorrupt))
	}
	if want := HeaderLen + count*RecordLen; len(b) != want {
		if len(b) < want {
			// The first record that does not fit is where the data stops.
			i := (len(b) - HeaderLen) / RecordLen
			return dst, d.fail(&d.stats.Truncated, from, dom, 0, fmt.Sprintf("record %d", i), HeaderLen+i*RecordLen,
				fmt.Errorf("%d bytes, count %d needs %d: %w", len(b), count, want, codecs.ErrTruncated))
		}
		return dst, d.fail(&d.stats.BadCount, from, dom, 0, "trailer", want,
			fmt.Errorf("%d bytes after %d records: %w", len(b)-want, count, codecs.ErrCorrupt))
	}

	uptime := be.Uint32(b[4:])
	export := int64(be.Uint32(b[8:]))*1e9 + int64(be.Uint32(b[12:]))
	fseq := be.Uint32(b[16:])
	rate := uint32(be.Uint16(b[22:]) & 0x3fff)
	if d.opt.rate != 0 && (rate == 0 || d.opt.force) {
		rate = d.opt.rate
	}

	has := flow.HasKey | flow.HasTime | flow.HasMetrics | flow.HasExporter | flow.HasIfaces |
		flow.HasNextHop | flow.HasASN | flow.HasIPAttr
	if rate != 0 {
		has |= flow.HasSampling
	}
	for i := 0; i < count; i++ {
		p := b[HeaderLen+i*RecordLen : HeaderLen+(i+1)*RecordLen : HeaderLen+(i+1)*RecordLen]
		var r *flow.Record
		dst, r = flow.Slot(dst)
		r.Reset()
		r.Type, r.Cause, r.Has = RecordType, flow.CauseStatus, has
		r.Exporter, r.ObsDomain, r.ExportSeq, r.SamplingRate = from, dom, fseq, rate
		k := &r.Key
		k.Kind, k.AddrType = flow.Kind5Tuple, flow.AddrIPv4
		k.Src = netip.AddrFrom4([4]byte(p[0:4]))
		k.Dst = netip.AddrFrom4([4]byte(p[4:8]))
		r.NextHop = netip.AddrFrom4([4]byte(p[8:12]))
		r.InIf, r.OutIf = uint32(be.Uint16(p[12:])), uint32(be.Uint16(p[14:]))
		r.Pkts[flow.Src], r.Bytes[flow.Src] = uint64(be.Uint32(p[16:])), uint64(be.Uint32(p[20:]))
		if d.opt.renorm && rate > 1 {
			r.Pkts[flow.Src] *= uint64(rate)
			r.Bytes[flow.Src] *= uint64(rate)
		}
		// Signed 32-bit distance back from the export time: right across
		// an uptime wrap.
		r.Start = export - int64(int32(uptime-be.Uint32(p[24:])))*1e6
		r.Last = export - int64(int32(uptime-be.Uint32(p[28:])))*1e6
		sp, dp := be.Uint16(p[32:]), be.Uint16(p[34:])
		k.Proto = p[38]
		switch k.Proto {
		case 1: // ICMP: the destination port is type<<8 | code
			// The ports stay as on the wire too, for printers of ports.
			k.ICMPType, k.ICMPCode = uint8(dp>>8), uint8(dp)
			k.SrcPort, k.DstPort = sp, dp
			r.Has |= flow.HasICMPKey
		case 6:
			// As the v9/IPFIX decoders: a TCP_PERF object whose status
			// says what the flags imply (ra prints REQ, CON, FIN, RST ...).
			r.TCP.Object = flow.TCPPerf
			r.TCP.Side[flow.Src].Flags = p[37]
			r.TCP.Status = nfcore.TCPStatus(p[37], 0)
			r.Has |= flow.HasTCP
			k.SrcPort, k.DstPort = sp, dp
		default:
			k.SrcPort, k.DstPort = sp, dp
		}
		r.IPAttr.Present, r.IPAttr.TOS[flow.Src] = 1, p[39]
		r.ASN.Src, r.ASN.Dst, r.ASN.Present = uint32(be.Uint16(p[40:])), uint32(be.Uint16(p[42:])), 3
		// A mask over 32 is not a prefix length: kept raw, not re-exported.
		k.SrcMask, k.DstMask, k.MaskLen = p[44], p[45], p[44] <= 32 && p[45] <= 32
	}
	d.mu.Lock()
	d.track(from, uint16(dom), fseq, uint32(count))
	d.stats.Packets++
	d.stats.Records += uint64(count)
	d.mu.Unlock()
	return dst, nil
}

// track follows flow_sequence per exporter and engine; d.mu is held.
func (d *Decoder) track(from netip.AddrPort, engine uint16, seq, count uint32) {
	k := seqKey{from, engine}
	next, ok := d.seq[k]
	if !ok {
		if len(d.seq) >= d.maxExp {
			d.stats.Untracked++
			return
		}
		d.seq[k] = seq + count
		return
	}
	switch gap := seq - next; {
	case gap == 0:
	case gap <= MaxSeqGap: // ahead: flows we did not get
		d.stats.Lost += uint64(gap)
	case -gap <= MaxSeqGap: // behind: a late datagram gives back its flows
		d.stats.Late++
		if d.stats.Lost >= uint64(count) {
			d.stats.Lost -= uint64(count)
		}
		return // next stays where the later datagram put it
	default:
		d.stats.SeqQuirks++
	}
	d.seq[k] = seq + count
}

// RecordType is the type decoded records get: TypeFlow, as the v9/IPFIX
// decoders (nfcore.RecordType). Debian ra 3.0.8.2 prints 0x10 and 0x30
// (TypeNetFlow) alike, marking 0x30 'N' in flgs, and skips 0x50
// (TestRecordTypeRa); TypeFlow is what every other reader and writer
// expects of a flow.
const RecordType = flow.TypeFlow
