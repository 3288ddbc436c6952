// Package netflow5 decodes and encodes Cisco NetFlow version 5 export
// datagrams to and from flow.Record.
//
// The reference is Cisco's "NetFlow Export Datagram Format" (NetFlow
// Services Solutions Guide, "Table B-3 Version 5 Header Format" and
// "Table B-4 Version 5 Flow Record Format"). All fields are big-endian.
//
// # Byte layout
//
// A datagram is a 24-byte header followed by count 48-byte flow records
// (1 <= count <= 30), nothing else: its length is exactly 24+48*count.
//
//	header
//	 0  version        u16  5
//	 2  count          u16  flow records in this datagram (1-30)
//	 4  sysUptime      u32  ms since the exporter booted
//	 8  unix_secs      u32  export time, seconds since 1970 (UTC)
//	12  unix_nsecs     u32  residual nanoseconds of the export time
//	16  flow_sequence  u32  flows the exporter sent before this datagram
//	20  engine_type    u8   type of flow-switching engine
//	21  engine_id      u8   slot number of the flow-switching engine
//	22  sampling       u16  top 2 bits mode (01 = packet interval), low 14 bits interval
//
//	flow record
//	 0  srcaddr   u32  IPv4 source
//	 4  dstaddr   u32  IPv4 destination
//	 8  nexthop   u32  IPv4 next hop router
//	12  input     u16  SNMP index of the input interface
//	14  output    u16  SNMP index of the output interface
//	16  dPkts     u32  packets in the flow
//	20  dOctets   u32  layer-3 bytes in the flow
//	24  First     u32  sysUptime at the first packet (ms)
//	28  Last      u32  sysUptime at the last packet (ms)
//	32  srcport   u16
//	34  dstport   u16  (ICMP: type<<8 | code)
//	36  pad1      u8
//	37  tcp_flags u8   OR of the TCP flags of the flow
//	38  prot      u8   IP protocol
//	39  tos       u8   IP type of service
//	40  src_as    u16
//	42  dst_as    u16
//	44  src_mask  u8   source prefix length
//	45  dst_mask  u8   destination prefix length
//	46  pad2      u16
//
// # Values
//
// Times: the export time is unix_secs*1e9+unix_nsecs ns, and a flow time
// (First, Last) lies export - (sysUptime - First) ms before it. The
// difference is taken modulo 2^32 as a signed 32-bit number, so a flow that
// began before the 49.7-day uptime counter wrapped still gets the right
// time (pmacct#640 printed it 4.29e6 s off).
//
// Records are unidirectional 5-tuple IPv4 flows (flow.Kind5Tuple,
// flow.AddrIPv4, Cause STATUS, as the v9/IPFIX decoders): counters, TCP
// flags (TCP.Side[Src].Flags in a TCP_PERF object whose Argus status
// nfcore.TCPStatus derives from them) and TOS (IPAttr.TOS[Src]) fill the source direction only. An
// ICMP flow's destination port is its type and code (Key.ICMPType,
// Key.ICMPCode, HasICMPKey; the ports stay as on the wire). Masks are
// prefix lengths (Key.MaskLen) unless one is over 32, then they are kept
// raw with MaskLen false and not exported again. Exporter is the datagram's sender,
// ObsDomain is engine_type<<8 | engine_id and ExportSeq the header's
// flow_sequence. A non-zero sampling interval becomes SamplingRate (the
// mode bits have no field; the encoder writes mode 01).
//
// The decoder keeps flow_sequence per exporter and engine: v5 counts
// flows, so a datagram whose sequence is ahead of the previous one's plus
// its count reports the difference as lost flows; a datagram behind it
// (reordered) gives the loss back; a jump of more than MaxSeqGap flows or
// backwards beyond that is a sequence quirk (exporter restart, exporters
// that count datagrams), counted apart and not as loss.
//
// # Encoding
//
// The encoder writes IPv4 5-tuple flows only. A record that v5 cannot
// hold (IPv6 or another key family, a counter over 2^32-1, an AS number,
// interface index or ObsDomain over 65535, a sampling interval over 16383,
// a mask over 32) is refused whole with a *codecs.NotRepresentableError
// (errors.Is codecs.ErrNotRepresentable) and counted; nothing is truncated
// silently. A biflow becomes two v5 records, the reverse one with the key
// reversed and the destination direction's counters, times, flags and
// TOS. Times keep millisecond precision. Management records are skipped
// (counted). Each datagram's export time is its latest flow time, so that
// records of any age (a converted file) come out exact; sysUptime is
// chosen so that no flow time wraps.
package netflow5
