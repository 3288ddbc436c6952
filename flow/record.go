package flow

import (
	"net/netip"
)

// RecordType is the kind of record, using the Argus record-header type
// values so that an Argus stream maps onto it without translation.
type RecordType uint8

const (
	TypeFlow     RecordType = 0x10 // FAR: a flow record
	TypeIndex    RecordType = 0x20
	TypeNetFlow  RecordType = 0x30 // flow converted from NetFlow by an Argus sensor/radium
	TypeEvent    RecordType = 0x40
	TypeAFlow    RecordType = 0x50 // imported non-Argus flow (e.g. from Zeek)
	TypeDataSup  RecordType = 0x60
	TypeArchival RecordType = 0x70
	TypeMgmt     RecordType = 0x80 // MAR: management record
)

// Cause says why a record was emitted (Argus record-header cause values).
type Cause uint8

const (
	CauseStart    Cause = 0x10
	CauseStatus   Cause = 0x20
	CauseStop     Cause = 0x30
	CauseTimeout  Cause = 0x40
	CauseFlush    Cause = 0x50
	CauseShutdown Cause = 0x60
	CauseClosed   Cause = 0x70
	CauseError    Cause = 0x80
)

// KeyKind is the flow-key family, the Argus flow DSR subtype (low 6 bits).
type KeyKind uint8

const (
	KindNone     KeyKind = 0
	Kind5Tuple   KeyKind = 0x01 // classic 5-tuple (IPv4, IPv6, ICMP, ESP, fragments, WLAN, ISIS ...)
	KindL2Matrix KeyKind = 0x02
	KindL3Matrix KeyKind = 0x03
	KindMPLS     KeyKind = 0x04
	KindVLAN     KeyKind = 0x05
	KindARP      KeyKind = 0x06
)

// AddrType is the address family of the flow key (Argus ARGUS_TYPE_* values).
type AddrType uint8

const (
	AddrIPv4  AddrType = 0x01
	AddrIPv6  AddrType = 0x02
	AddrEther AddrType = 0x03
	AddrARP   AddrType = 0x04
	AddrRARP  AddrType = 0x05
	AddrMPLS  AddrType = 0x06
	AddrVLAN  AddrType = 0x07
	AddrWLAN  AddrType = 0x08
	AddrISIS  AddrType = 0x0A
)

// Group is a bit in Record.Has: which optional groups carry values.
type Group uint64

const (
	HasSrcID       Group = 1 << iota // SrcID (monitor id)
	HasSeq                           // Seq (record sequence number)
	HasKey                           // a flow key is present
	HasTime                          // Start/Last
	HasDirTimes                      // per-direction times (SrcStart ... DstLast)
	HasMetrics                       // Pkts/Bytes
	HasAppBytes                      // AppBytes
	HasPktSize                       // PktSize
	HasEncaps                        // Encaps
	HasTCP                           // TCP (perf, init or status object)
	HasICMP                          // ICMP network object (ICMP flows)
	HasICMPMap                       // ICMPMap (ICMP error mapped onto this flow)
	HasARP                           // ARP responder address
	HasESP                           // ESP object
	HasIPAttr                        // IPAttr
	HasMAC                           // MAC
	HasVLAN                          // VLAN
	HasMPLS                          // MPLS
	HasJitter                        // Jitter
	HasSrcUser                       // SrcUser payload bytes
	HasDstUser                       // DstUser payload bytes
	HasAgr                           // Agr (aggregation statistics)
	HasCountry                       // Country codes
	HasLabel                         // Label
	HasASN                           // ASN
	HasGeo                           // Geo
	HasLocal                         // Local (netspatial)
	HasBehavior                      // Behavior (keystrokes)
	HasScore                         // Score
	HasFlowHash                      // FlowHash
	HasGRE                           // GRE tunnel
	HasVXLAN                         // VXLAN tunnel
	HasGeneve                        // Geneve tunnel
	HasMgmt                          // Mgmt (management record body)
	HasExporter                      // Exporter, ObsDomain, ExportSeq
	HasSampling                      // SamplingRate
	HasIfaces                        // InIf/OutIf
	HasNextHop                       // NextHop/BGPNextHop
	HasZeek                          // Zeek fields
	HasCommunityID                   // CommunityID
	HasICMPKey                       // ICMP type/code/id/seq in Key
	HasFragKey                       // key is a fragment key (FragID valid)
	HasESPKey                        // key carries an ESP SPI
)

// Dir indexes per-direction arrays: Src is source to destination, Dst the
// reverse. Unidirectional formats leave index Dst at zero.
const (
	Src = 0
	Dst = 1
)

// SrcIDType is the type of a monitor (source) id, the Argus transport
// qualifier without the interface bit.
type SrcIDType uint8

const (
	SrcIDNone   SrcIDType = 0x00
	SrcIDIPv4   SrcIDType = 0x01
	SrcIDIPv6   SrcIDType = 0x02
	SrcIDEther  SrcIDType = 0x03
	SrcIDInt    SrcIDType = 0x20
	SrcIDString SrcIDType = 0x21
	SrcIDUUID   SrcIDType = 0x22
)

// SrcID is a monitor id: 32-bit integer, IPv4, IPv6, UUID, Ethernet or a
// short string, plus the optional 4-character interface name of Argus 5.
type SrcID struct {
	Type   SrcIDType
	HasInf bool
	ID     [16]byte // big-endian for Int/IPv4 in the first 4 bytes; raw for the rest
	Inf    [4]byte
}

// Record is the one canonical flow record. Every decoder fills it and every
// encoder reads it. It is a superset of an Argus 5.x record plus the context
// that NetFlow, IPFIX and Zeek carry. Slices alias the decoder's buffer until
// Detach is called.
type Record struct {
	Type  RecordType
	Cause Cause
	Has   Group // which optional groups are set

	// Source of the record.
	SrcID SrcID
	Seq   uint32 // Argus record sequence number

	Key Key

	// Times, Unix nanoseconds. Start/Last cover both directions.
	Start, Last int64
	// Per-direction first and last packet times (HasDirTimes).
	SrcStart, SrcLast, DstStart, DstLast int64

	// Counters per direction: [Src] source to destination, [Dst] reverse.
	Pkts, Bytes, AppBytes [2]uint64

	PktSize  PktSize
	Encaps   Encaps
	TCP      TCP
	ICMP     ICMPInfo // network object of an ICMP flow
	ICMPMap  ICMPInfo // ICMP error mapped onto this (non-ICMP) flow
	ARPResp  [6]byte  // ARP responder hardware address
	ESP      ESP
	IPAttr   IPAttr
	MAC      MAC
	VLAN     VLAN
	MPLS     MPLS
	Jitter   Jitter
	SrcUser  UserData
	DstUser  UserData
	Agr      Agr
	Country  [2][2]byte // ISO 3166 alpha-2, src and dst
	Label    []byte     // Argus label text (NUL-trimmed), aliases input
	ASN      ASN
	Geo      Geo
	Local    Local
	Behavior [2]uint32 // keystrokes src, dst
	Score    [8]byte
	FlowHash FlowHash
	GRE      Tunnel
	VXLAN    [2]uint32 // VNI src, dst
	Geneve   Tunnel
	Mgmt     Mgmt

	// Context other formats carry and Argus lacks.
	Exporter     netip.AddrPort
	ObsDomain    uint32
	ExportSeq    uint32
	SamplingRate uint32
	InIf, OutIf  uint32
	NextHop      netip.Addr
	BGPNextHop   netip.Addr
	Zeek         Zeek
	CommunityID  []byte // "1:..." text, aliases input

	// Extra holds values no field names (an unknown Argus DSR, an IPFIX
	// enterprise element) so that a round trip does not lose them.
	Extra []Field

	// Argus keeps what a writer needs to reproduce an Argus record byte for
	// byte (DSR order, encodings chosen, stray bytes). Writers that are not
	// Argus ignore it; an Argus writer uses it when it is valid.
	Argus ArgusLayout
}

// Key is the flow key. It is comparable and usable as a map key.
type Key struct {
	Kind      KeyKind
	AddrType  AddrType
	RevBit    bool // Argus REVERSE bit as stored on the wire (already undone in Src/Dst)
	Src, Dst  netip.Addr
	SrcPort   uint16
	DstPort   uint16
	Proto     uint8
	TpProto   uint8 // Argus transport sub-protocol tag (RTP, RTCP, UDT ...)
	SrcMask   uint8 // prefix lengths when MaskLen, else raw bytes (DNS txid quirk)
	DstMask   uint8
	MaskLen   bool
	FlowLabel uint32 // IPv6
	// ICMP (HasICMPKey): type, code, identifier, and the "ip_id" half
	// (the echo sequence number for echo flows).
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16
	FragID             uint32 // fragment key IP id (HasFragKey)
	SPI                uint32 // ESP (HasESPKey)
	// Layer 2 (Ether key, or ARP hardware addresses).
	SrcMAC, DstMAC [6]byte
	EtherType      uint16
	DSAP, SSAP     uint8
	// ARP (KindARP): hardware/protocol types and sizes, opcode.
	ARPHrd, ARPPro uint16
	ARPHln, ARPPln uint8
	ARPOp          uint16
}

// PktSize holds per-direction packet size bounds and the optional 8-bin
// histogram word of Argus 5.
type PktSize struct {
	Min, Max [2]uint16
	Histo    [2]uint32
	HasHisto [2]bool
	Dirs     uint8 // bit 0 src present, bit 1 dst present
}

// Encaps holds the encapsulation bitmaps seen in each direction (Argus
// encaps mask bits) and the change flags.
type Encaps struct {
	Mask  [2]uint32
	Flags uint8 // Argus qualifier bits (changed flags)
	Buf   [2][]byte
}

// TCPSide is one direction of a TCP connection.
type TCPSide struct {
	LastTime int64 // Unix ns
	Status   uint32
	SeqBase  uint32
	Seq      uint32
	Ack      uint32
	WinNum   uint32
	Bytes    uint32 // TCP payload bytes
	Retrans  uint32 // retransmitted packets
	AckBytes uint32
	WinBytes uint32
	Win      uint16 // last raw (unscaled) window
	Flags    uint8  // OR of TCP flags seen
	WinShift uint8
	MSS      uint16
}

// TCPObject says which Argus TCP network object the values came from.
type TCPObject uint8

const (
	TCPPerf   TCPObject = 0x05
	TCPInit   TCPObject = 0x03
	TCPStatus TCPObject = 0x04
)

// TCP is the TCP state of a flow.
type TCP struct {
	Object  TCPObject
	Status  uint32 // Argus TCP status bits
	State   uint32 // sensor FSM state
	Options uint32 // Argus TCP option bits
	SynAck  uint32 // SYN to SYN/ACK, µs
	AckDat  uint32 // SYN/ACK to ACK, µs
	Side    [2]TCPSide
	HasDst  bool // TCP_PERF carried the dst side
}

// ICMPInfo is ICMP type/code/sequence and the addresses of the packet an
// ICMP error quoted (original src/dst, inner src/dst, gateway).
type ICMPInfo struct {
	Qual    uint8 // Argus mapped qualifier (UNREACH/REDIRECT/TIMXCED)
	Type    uint8
	Code    uint8
	Seq     uint16
	OSrc    netip.Addr
	ODst    netip.Addr
	ISrc    netip.Addr
	IDst    netip.Addr
	Gateway netip.Addr
}

// ESP holds the ESP network object.
type ESP struct {
	Status, SPI, LastSeq, LostSeq uint32
}

// IPAttr holds per-direction IP attributes.
type IPAttr struct {
	Present uint8 // Argus qualifier bits: 1 src, 2 dst, 4 src options, 8 dst options, 0x10/0x20 fragments
	TTL     [2]uint8
	TOS     [2]uint8
	IPID    [2]uint16
	Options [2]uint32
}

// MAC holds the hardware addresses of a flow.
type MAC struct {
	Src, Dst   [6]byte
	EtherType  uint16
	DSAP, SSAP uint8
	Flags      uint8 // Argus qualifier: 1 src multipath, 2 dst multipath, 4 port index
}

// VLAN holds the full 802.1Q TCI per direction.
type VLAN struct {
	TCI     [2]uint16
	Present uint8 // 1 src, 2 dst; 4/8 changed
}

// MPLS holds the first label stack entry per direction.
type MPLS struct {
	Label   [2]uint32 // raw 32-bit label stack entries
	Count   [2]uint8
	Subtype uint8
}

// Stat is a summary of a series (inter-packet times, durations). The
// values are float64 so that every wire form converts in and out exactly:
// Argus carries float32 (µs in 3.x sensor output, ns in 5.0.3), and a
// float32 widened to float64 and scaled by 1000 is exact and scales back
// to the same float32. The unit is the container's: nanoseconds in
// Jitter, the aggregator's units in Agr. The Argus codec converts NaNs by
// bits: a float32 NaN becomes the float64 NaN with its sign and its 23
// payload bits on top, and is written back with the same bits.
type Stat struct {
	N                      uint32
	Min, Mean, StdDev, Max float64
	Fdist                  [8]byte
	Histo                  uint32
}

// Jitter holds inter-packet time statistics; Stat values in nanoseconds.
type Jitter struct {
	Present uint8   // Argus qualifier: 1 src active, 2 src idle, 4 dst active, 8 dst idle
	Act     [2]Stat // src, dst active
	Idle    [2]Stat // src, dst idle
}

// UserData is captured payload.
type UserData struct {
	Limit uint16 // configured capture size
	Data  []byte // captured bytes, aliases input
	Flags uint8
}

// Agr holds aggregation statistics (racluster). Act and Idle are the
// aggregator's floats, unscaled, in its units: what the AGR subtype and
// qualifier select, by default the merged records' durations (Act, in
// seconds) and the gaps between them (Idle: µs in 3.0.8.2 racluster
// output, seconds in the 5.x sample).
type Agr struct {
	Count         uint32
	LastStartTime int64 // Unix ns
	LastTime      int64
	Act, Idle     Stat
	Subtype, Qual uint8
}

// ASN holds autonomous system numbers.
type ASN struct {
	Src, Dst, Inode uint32
	Present         uint8
	Subtype         uint8
}

// Geo holds latitude and longitude for src, dst and inode.
type Geo struct {
	Present uint8
	Lat     [3]float32
	Lon     [3]float32
}

// Local is Argus 5's netspatial locality.
type Local struct {
	Status     uint16
	SLoc, DLoc int8
	SOrg, DOrg uint16
}

// FlowHash is the sensor's flow-table hash.
type FlowHash struct {
	Hash, Index uint32
}

// Tunnel is an outer tunnel key (GRE, Geneve).
type Tunnel struct {
	Flags    uint16
	Proto    uint16
	VerOpt   uint8
	VNI      uint32
	Src, Dst netip.Addr
	IPProto  uint8
}

// Mgmt is the body of an Argus management record (MAR).
type Mgmt struct {
	Status         uint32
	Cookie         uint32
	LocalNet       uint32
	NetMask        uint32
	NextSeq        uint32
	StartTime      int64 // Unix ns (µs precision on the wire)
	Now            int64
	Major, Minor   uint8
	IfType         uint8
	IfStatus       uint8
	ReportInterval uint16
	MarInterval    uint16
	PktsRcvd       uint64
	BytesRcvd      uint64
	Drift          uint64
	Records        uint32
	Flows          uint32
	Dropped        uint32
	Queue          uint32
	Output         uint32
	Clients        uint32
	Bufs           uint32
	BytesOut       uint32
	SUserLen       uint16
	DUserLen       uint16
	ID             [16]byte // 5.x id union (offset 108); 3.x thisid in ID[12:16]
	RecordLen      int32
}

// Zeek holds the Zeek conn.log values Argus has no place for.
type Zeek struct {
	UID     []byte
	Service []byte
	History []byte
	State   []byte
}

// FieldSource says which format an Extra field came from.
type FieldSource uint8

const (
	SourceArgusDSR FieldSource = 1 + iota // ID = DSR header word (type, subtype, qual, len)
	SourceIPFIX                           // ID = element id, Enterprise = PEN
	SourceNetFlow9
	SourceZeek
	SourceJSON
)

// Field is an opaque value carried for a round trip.
type Field struct {
	Source     FieldSource
	Enterprise uint32
	ID         uint32
	Offset     uint32 // Argus: position in the record (DSR index) for ordering
	Value      []byte // aliases input until Detach
}

// MaxArgusDSRs bounds the DSRs a layout remembers.
const MaxArgusDSRs = 40

// ArgusLayout remembers how an Argus record was encoded so that it can be
// written again byte for byte. A zero layout (N == 0) means "choose the
// canonical encoding".
type ArgusLayout struct {
	Version uint8 // record-header version nibble (3, 5, 7 ...)
	Opt     uint8 // record-header option nibble
	N       uint8 // DSRs remembered in Hdr
	TimeNS  bool  // time fractions were nanoseconds (qual 0x19)
	Hdr     [MaxArgusDSRs][4]byte
	// Residue holds bytes the model does not give meaning to (stale or
	// padding bytes inside DSRs, trailing words) keyed by DSR index; it
	// aliases the input buffer until Detach.
	Residue []byte
	Aux     [MaxArgusDSRs]uint16 // per-DSR offset into Residue +1 (0 = none)
	AuxLen  [MaxArgusDSRs]uint16
	Trail   uint16 // record bytes after the last DSR (padding)
	// Verbatim has bit i set when Residue piece i is the whole of DSR i
	// (header included): bytes the model could not reproduce from the
	// fields. Bit N (the trail) is never set.
	Verbatim uint64
	// Units has bit 0 (src) / bit 1 (dst) set when the TCP_PERF lasttime
	// fraction was nanoseconds on the wire.
	Units uint8
	// Lead counts zero words (stream padding) that preceded the record.
	Lead uint16
	// Major is the Argus major version (3 or 5) the record was read as;
	// 0 means the record did not come from the Argus reader.
	Major uint8
}

// Slot returns recs grown by one record and that record, reusing the
// capacity of recs: a reused slot is as it was (the caller resets it,
// and keeps its Extra's capacity), so decoders into a reused slice do not
// allocate.
func Slot(recs []Record) ([]Record, *Record) {
	n := len(recs)
	if n < cap(recs) {
		recs = recs[:n+1]
	} else {
		recs = append(recs, Record{})
	}
	return recs, &recs[n]
}

// Reset clears r for reuse, keeping slice capacity.
func (r *Record) Reset() {
	extra := r.Extra[:0]
	*r = Record{}
	r.Extra = extra
}

// aliases calls f on every byte slice of r that may alias a decoder's buffer.
func (r *Record) aliases(f func(*[]byte)) {
	f(&r.Label)
	f(&r.SrcUser.Data)
	f(&r.DstUser.Data)
	f(&r.Encaps.Buf[0])
	f(&r.Encaps.Buf[1])
	f(&r.CommunityID)
	f(&r.Zeek.UID)
	f(&r.Zeek.Service)
	f(&r.Zeek.History)
	f(&r.Zeek.State)
	f(&r.Argus.Residue)
	for i := range r.Extra {
		f(&r.Extra[i].Value)
	}
}

// noBytes is the value a present but empty slice keeps when detached: not
// nil (unset), and not the decoder's buffer either.
var noBytes = []byte{}

// Detach copies every slice that aliases a decoder's buffer, so the record
// stays valid after the next Decode call. A present but empty value stays
// present (empty, not nil): a Zeek "(empty)" is not a "-".
func (r *Record) Detach() {
	if r.Extra != nil {
		r.Extra = append([]Field(nil), r.Extra...)
	}
	r.aliases(func(b *[]byte) {
		switch {
		case *b == nil:
		case len(*b) == 0:
			*b = noBytes[:0:0]
		default:
			*b = append([]byte(nil), *b...)
		}
	})
}

// DetachInto is Detach without allocation: it copies the aliased bytes to
// the end of arena and returns the grown arena. Extra stays r's own slice.
// The record stays valid as long as arena's storage is not overwritten.
// It runs once per record in convert: the fields are copied in line, not
// through aliases' callback.
func (r *Record) DetachInto(arena []byte) []byte {
	arena = detachInto(arena, &r.Label)
	arena = detachInto(arena, &r.SrcUser.Data)
	arena = detachInto(arena, &r.DstUser.Data)
	arena = detachInto(arena, &r.Encaps.Buf[0])
	arena = detachInto(arena, &r.Encaps.Buf[1])
	arena = detachInto(arena, &r.CommunityID)
	arena = detachInto(arena, &r.Zeek.UID)
	arena = detachInto(arena, &r.Zeek.Service)
	arena = detachInto(arena, &r.Zeek.History)
	arena = detachInto(arena, &r.Zeek.State)
	arena = detachInto(arena, &r.Argus.Residue)
	for i := range r.Extra {
		arena = detachInto(arena, &r.Extra[i].Value)
	}
	return arena
}

// detachInto copies *b to the end of arena (the fields aliases lists).
func detachInto(arena []byte, b *[]byte) []byte {
	switch {
	case *b == nil:
	case len(*b) == 0:
		*b = noBytes[:0:0]
	default:
		n := len(arena)
		arena = append(arena, *b...)
		*b = arena[n:len(arena):len(arena)]
	}
	return arena
}

// Duration returns Last - Start in nanoseconds.
func (r *Record) Duration() int64 { return r.Last - r.Start }
