// Package argus reads and writes Argus 3.x and 5.x record streams (files
// and the port-561 byte stream), decoding every record into flow.Record
// and encoding flow.Record back.
//
// The reference is docs/argus-format.md (shared docs); section numbers
// below (§) point into it.
//
// # Byte layout
//
// A stream is a 128-byte MAR (management record) followed by records back
// to back; there is no other file magic (§3). The MAR cookie at byte 8 says
// the version: E5712DCB = 3.x, E57150CB = 5.x (§3.1). Input may be gzip,
// bzip2, xz or zstd compressed; Sniff recognises them by magic number.
//
// Every record starts with a 4-byte header (§4):
//
//	byte 0: type (high nibble: 0x80 MAR, 0x10 FAR, 0x40 event ...) | version (low nibble: 3, 5)
//	byte 1: cause (high nibble: START, STATUS, STOP ...) | option
//	bytes 2-3: length in 32-bit words, header included (big-endian)
//
// A MAR body is a fixed 124-byte structure (§5.1): status, cookie, start
// and current time (µs), version, counters, and the monitor id: at byte 120
// (thisid, 4 bytes) in 3.x, at byte 108 (up to 16 bytes) in 5.x.
//
// Every other record is a list of 32-bit aligned DSRs (§6): a header
// [type][subtype][qualifier][length in words], or for the user-data DSR
// [type][subtype][16-bit length]; a type with bit 7 set is a one-word
// "immediate" DSR. The DSRs (§7) are transport (monitor id, interface,
// sequence), flow key (IPv4/IPv6 5-tuples, ICMP, ESP, fragment, layer 2,
// ARP keys; the REVERSE subtype bit), time (µs or ns fractions; absolute,
// range and client relative forms), metrics (1- to 8-byte counters chosen
// by a qualifier code), packet size (+ 5.x histogram), encapsulation,
// network state (TCP init/status/perf v1 and v2, ICMP, ARP, ESP; RTP,
// RTCP, UDT and fragment objects are kept opaque), IP attributes, MAC,
// VLAN, MPLS, jitter (XDR floats, 5/6/7-word blocks), user data,
// ICMP-mapped, aggregation, correlation (opaque), country codes, label,
// ASN, and the 5.x geo, local, behavior, score, flow hash, GRE, VXLAN and
// GENEVE DSRs. Unknown DSR types go to Record.Extra (flow.SourceArgusDSR,
// ID = header word, Offset = DSR index) and are written back in place.
//
// # Values and quirks
//
// Src/Dst of the record key are the first-seen sender orientation: a key
// stored with the REVERSE bit is swapped on reading and Key.RevBit keeps
// the wire bit (§7.2). Times are Unix nanoseconds. Fields that sensors
// write in little-endian host order (§10.2) are decoded to their true
// value: ICMP key id and sequence, fragment ip id (IPv4: little-endian; IPv6: each 16-bit half little-endian), the ICMP network object,
// the MAC ether type, the GRE outer addresses, AGR internals. Two are kept
// as ra prints them instead: IPAttr.IPID is the big-endian reading of the
// wire bytes (ra's sIpId/dIpId; the IP header's id is its byte swap on an
// x86 sensor), and the IPv4 key mask bytes stay raw (the DNS transaction id
// quirk) unless Key.MaskLen. TCP_PERF lasttime fractions are ns when
// larger than 999999 or when the record is 5.x, µs otherwise (§7.7).
// Jitter statistics are converted to ns (µs in 3.x and 5-word blocks);
// as float64 (flow.Stat) the conversion is exact both ways, and NaNs keep
// their bits (ffc00000, the sensors' single-sample stdev, is written back
// as ffc00000). AGR statistics are widened unscaled.
//
// # Byte-exact round trip
//
// Reading remembers the encoding in Record.Argus (flow.ArgusLayout): the
// DSR headers in order, the version nibble, and Residue: per DSR, the
// bytes the model gives no meaning to (pads, stale words, opaque objects,
// a user-data count larger than the bytes present), kept only when they
// differ from what the writer would put there (never jitter or AGR
// statistics: edited ones are written as edited). Every DSR is re-encoded
// while it is read; one the fields cannot reproduce is kept whole
// (Verbatim; none in the corpus). The Writer encodes from the record
// fields, following the layout when it is present, so reading and writing
// a stream gives the same bytes. A record without a layout (from another
// decoder) gets the canonical encodings of §13; groups added to or removed
// from a decoded record are added (canonically) or dropped.
//
// # Versions
//
// A Writer of the other version converts: 3.x to 5.x is lossless (§9.3:
// MAR rewrite, an untyped source id (transport qualifier 0) typed IPv4,
// as ra 3 and 5 print it, TCP v1 to v2, correlation entries widened);
// 5.x to 3.x follows §9.4. Values 3.x cannot hold (a
// 16-byte or Ethernet monitor id "srcid", the interface name "inf", ns
// precision "stime"/"ltime"/"slasttime"/"dlasttime", the MSS "smss"/"dmss",
// PSIZE histograms "psizehisto", encapsulation headers "encbuf", the inode
// ASN "inode", jitter distributions "jitterdist", and the 5.x-only DSRs
// "gre", "vxlan", "geneve", "score", "geo", "local", "hash") make Encode
// return a *codecs.NotRepresentableError, unless the Writer was made with
// WithLossy, which drops or converts them and counts them in Report.
//
// # Context in the label
//
// Context that Argus has no field for (a NetFlow/IPFIX record's exporter,
// observation domain, export sequence, sampling rate, interfaces and next
// hops; the Community ID; Zeek conn.log columns: rec.Zeek and the
// flow.SourceZeek Extra fields, a log's header and trailer) travels in the
// label DSR, in both versions, as ralabel-style key=value words after the
// record's own label: keys "fg.*", "zeek.*" and "zeekv.*", values %XX
// escaped (label.go has the table). ra prints it with -s +label. The
// Reader splits these words back into the fields and leaves every other
// word in rec.Label; a record without such context is written as before.
// Context past the DSR's 1016 bytes is a NotRepresentableError naming the
// key (WithLossy: left out and counted).
//
// # Errors
//
// Decode errors are *codecs.DecodeError values (Format "argus", the record
// offset, the failing part such as "DSR 0x30 network" and its offset)
// wrapping codecs.ErrTruncated or codecs.ErrCorrupt. They are sticky;
// WithResync (or Reader.Resync after an error) skips to the next plausible
// record instead and counts what was skipped (Reader.Skipped).
package argus
