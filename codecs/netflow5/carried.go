package netflow5

import "math"

// Carried lists the canonical fields (mappings.CanonicalFields names) the
// Encoder writes and the Decoder reads back, so that a converter can say
// which values of a record v5 has no place for. Anything else a record
// carries is dropped by the format, not by a choice of the encoder.
// dst_tos and dst_tcp_flags travel in a biflow's reverse record (see
// BiflowSplit), so a one-way flow's are left out; duration is Last-First.
// exporter_addr is not a field: the decoder takes it from the datagram's
// sender, so a file of datagrams has none.
var Carried = []string{
	"start_time", "last_time", "duration", "src_addr", "dst_addr", "protocol",
	"src_port", "dst_port", "src_tos", "dst_tos", "bytes", "src_bytes", "dst_bytes",
	"pkts", "src_pkts", "dst_pkts", "src_as", "dst_as", "src_tcp_flags",
	"dst_tcp_flags", "in_if", "out_if", "next_hop", "obs_domain", "sampling_rate",
	"src_start_time", "src_last_time", "dst_start_time", "dst_last_time",
}

// TimeResolution is the finest flow time v5 holds (First/Last are
// sysUptime milliseconds): a finer part is cut (EncStats.SubMs).
const TimeResolution = 1e6 // ns

// BiflowSplit: a record with reverse counts becomes two v5 records (the
// reverse one with the key swapped), so the reverse direction's fields
// (dst_pkts, dst_bytes, dst_tos, dst_tcp_flags, dst_start_time,
// dst_last_time) come back in a record of their own.
const BiflowSplit = true

// Limits gives the largest value v5 holds for the canonical fields
// narrower in v5 than in a Record; a record with a larger value is refused
// whole (a *codecs.NotRepresentableError naming the field).
var Limits = map[string]uint64{
	"src_bytes": math.MaxUint32, "dst_bytes": math.MaxUint32,
	"src_pkts": math.MaxUint32, "dst_pkts": math.MaxUint32,
	"src_as": math.MaxUint16, "dst_as": math.MaxUint16,
	"in_if": math.MaxUint16, "out_if": math.MaxUint16,
	"obs_domain": math.MaxUint16, "sampling_rate": 0x3fff,
}
