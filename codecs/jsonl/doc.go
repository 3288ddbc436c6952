// Package jsonl reads and writes flow records as JSON: one object per
// record, with the keys chosen by a mapping (package mappings).
//
// # Dialects
//
// A dialect is a built-in mapping; WithMapping lays a user mapping file
// over it (mappings.Open), so keys can be renamed, dropped or added
// without touching Go code.
//
//	argus    ra -M json keys (saddr, sport, spkts, stime ...), as valid JSON:
//	         times are epoch seconds with 6 decimals, proto a number
//	ecs      Elastic Common Schema (source.ip, destination.port,
//	         network.bytes, event.start as ISO 8601 with ns ...)
//	goflow2  goflow2's FlowMessage names (src_addr, bytes, time_flow_start_ns),
//	         proto as its JSON names it (TCP, UDP, ICMP, ICMPv6, SCTP; "" is
//	         read as absent, other protocols are written as numbers);
//	         its flows are one-directional (oneway: true): a biflow's
//	         reverse counters are refused (an Encode error)
//	nfdump   nfdump -o json keys (src4_addr/src6_addr, in_bytes, out_bytes,
//	         first/last as "2006-01-02T15:04:05.000" UTC)
//	ipfix    IANA information element names (sourceIPv4Address,
//	         octetDeltaCount, flowStartMilliseconds ...)
//
// # Writing
//
// Every record is one line: an object holding the mapping's keys in the
// mapping's order, each written only when the record has the field. A
// dotted external name is a path: source.ip and source.port become
// {"source":{"ip":..,"port":..}}, the object placed where its first key
// appears in the mapping. Values the mapping marks as numbers (counters,
// integer and decimal times) are bare; everything else (addresses, ISO
// times, text) is a JSON string, escaped as encoding/json does
// (invalid UTF-8 becomes U+FFFD, since JSON text is UTF-8). An ICMP
// flow's type and code are its ports (sport, source.port ...), and also
// icmp_type/icmp_code (goflow2, nfdump) or icmpTypeIPv4/IPv6 (ipfix).
//
// Every value a record carries that the dialect does not write is counted
// by canonical field (Writer.Stats, from mappings.Plan.EncodeUnwritten).
// Fields the mapping has no key for are a declared loss (counted only);
// a value left out otherwise (a rule that cannot convert it, a one-way
// dialect's non-zero reverse counters) also makes Encode return an error
// wrapping codecs.ErrNotRepresentable, after writing the line without it.
//
// # Reading
//
// Input is JSON lines, or objects in a top-level array (nfdump -o json
// prints pretty-printed objects in one array, and "No matching flows" in
// an empty one, which is skipped), or objects separated by any white
// space. Keys are matched by path: a nested object and a flat dotted key
// ({"source.ip":..}, as some ECS producers write) are the same field.
// Keys the mapping does not name, arrays and null values are skipped
// (null is a missing field, so the mapping's default applies); for a key
// given twice the last one wins. Text values in the Record (label, uid,
// community id) alias the reader's buffer, or its scratch buffer for a
// string with escapes, until the next Decode.
//
// Malformed input and values the mapping cannot convert are *SyntaxError
// values with line, column and byte offset, wrapping codecs.ErrCorrupt,
// codecs.ErrTruncated or the mapping's *mappings.ApplyError; they are
// sticky. One object is at most 1 MiB (WithMaxObject), nesting at most 32
// levels. Debian ra 3.0.8.2's own -M json output is mostly not valid JSON
// (hex values are bare: "sipid":0x0100, an ICMP "sport":0x0008; 1967 of
// the corpus's 2358 lines), so the reader rejects it, at the bad value:
// the argus dialect is ra's keys in valid JSON.
//
// Neither side uses reflection or encoding/json, and neither allocates
// per record once the buffers have grown to the largest object.
package jsonl
