// Package ratext prints flow.Record values the way Argus's ra prints them:
// fixed-width columns (ra's default), delimited columns (ra -c), and ra 5's
// JSON objects (ra -M json).
//
// Options mirror ra's: Fields is the -s list (EditFields implements the
// "+name", "-name", "+N name" and "name:len" syntax), Delim is -c, NFlag
// counts -n options, UnixTime is -u, Precision is -p, Labels is -L,
// TimeFormat is RA_TIME_FORMAT and Location the zone (ra uses local time).
// Compat3 selects ra 3.0.8.2's renderings where they differ from ra 5.0.3
// (ICMP "ports" as the raw key words, port 0 and Ethernet SAPs printed,
// the Dir column right-aligned in 5 characters in CSV, P/J/E encapsulation
// letters, its ether-type names, 1 hop for TTL 255, its TCP max formula)
// and what 3.0.8.2 does to a record before printing it (correct3.go): it
// undoes the flow key's REVERSE bit only for IPv4/IPv6 keys, and its
// default direction correction reverses TCP records that show the SYN/ACK
// sender as source or carry the DIRECTION qualifier and one-way ICMP reply
// records (ArgusReverseRecord).
//
// Fields of Argus objects flow.Record keeps opaque (the UDT, RTP and
// fragment network objects) are read from the record's Argus layout, as
// is the network DSR subtype that makes proto print udt, rtp or rtcp.
//
// Values are computed as ra computes them, including its use of C floats
// for durations, loads and rates, its time corrections on read, the AGR it
// synthesises for unaggregated records (trans 1, idle minimum 1e10 ...),
// the byte order in which it shows the IPv4 ICMP id, and the fields its
// printers always leave at zero or blank (UDT counters, retrans, vpri).
// conformance/ra_golden_test.go compares every field with what ra 3.0.8.2
// and 5.0.3 printed for the corpus; conformance/known-differences.tsv lists
// the upstream bugs we do not copy.
//
// Tables: protocol names are ra's compiled-in ip_proto_string table, ether
// types and LLC SAP names are ra's, and port names (printed without -n) come
// from an embedded copy of Debian netbase's /etc/services (tables_gen.go).
//
// Divergences from ra, on purpose:
//   - JSON is always valid: values ra prints unquoted that are not JSON
//     numbers (hex such as "sipid":0x3ec6, nan, inf) are quoted, and strings
//     escape backslashes and control characters (ra escapes only '"').
//     A NaN or infinity prints as glibc's printf text in both forms
//     ("-nan" for the x86 default NaN, "nan", "inf"), quoted in JSON:
//     "djit":"-nan".
//   - Known upstream bugs are not copied; conformance/known-differences.tsv
//     lists each with its reason (ARP state INT from hdr.type, GRE proto
//     from one byte, signed 32-bit seconds, 5.0.3 jitter units ...). RTP
//     silence prints s/d/* as documented (ra 5.0.3 never prints s).
//     The framing is ra 5's: `{ "type":"flow","stime":...,"state":"FIN" }`,
//     keys are the -s names, empty values are omitted, and management
//     records use ra's fixed key set.
//   - Fields for which ra 5.0.3 has no print function (xxx, actintflow,
//     idleintflow and their max/min/sdev) print nothing instead of
//     truncating the rest of the line.
//   - The offset field prints the value given with SetOffset (ra prints the
//     record's byte offset in its input file).
//
// Printing does not allocate: the Printer reuses its line buffer and
// formats with strconv.Append*.
package ratext
