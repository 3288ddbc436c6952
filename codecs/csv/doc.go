// Package csv reads and writes flow records as CSV: a header line with
// the column names, then one record per line, the columns chosen by a
// mapping (package mappings).
//
// # Layout (RFC 4180)
//
//	StartTime,LastTime,Dur,Proto,SrcAddr,Sport,DstAddr,Dport,TotPkts,...
//	1700000000.000000,1700000000.007170,0.007170,tcp,10.1.100.1,40020,...
//
// Fields are separated by ',' (WithComma for another byte, as ra -c
// CHAR); a field holding the separator, a double quote or a line break is
// in double quotes, a quote in it doubled (RFC 4180 §2.5-2.7). The writer
// ends lines with LF, as ra and nfdump do (RFC 4180 says CRLF; the reader
// takes both). An absent value is an empty field.
//
// # Dialects
//
// A dialect is a built-in mapping (Mapping); WithMapping lays a user
// mapping file (schema: csv) over it, so columns can be renamed, dropped or
// added without touching Go code.
//
//	argus    ra's CSV, `ra -r FILE -c , -L0 -n -u -s ...`: the header
//	         labels of ra's fields (StartTime, SrcAddr, Sport, TotPkts,
//	         SrcBytes ..., argus-clients.md §1.4 and §1.7); times as epoch
//	         seconds with 6 decimals (ra -u: ra's default %T.%f time of day
//	         cannot be read back); Proto as ra's protocol name (ra -n) or
//	         number (ra -nn; rtp, rtcp and udt read as UDP). ra's Flgs, Dir
//	         and State columns have no canonical field: read, they are
//	         counted as unmapped; not written. Totals (TotPkts, TotBytes,
//	         TotAppByte, Dur) are written, not read: they cannot be split
//	         into directions, so ra's default columns give no counters;
//	         print -s spkts dpkts sbytes dbytes for them.
//	nfdump   nfdump 1.7 `-o csv`: ts,te,td,sa,da,sp,dp,pr,flg,...,ibyt,
//	         opkt,obyt,in,out,sas,das,...,ra; times "2006-01-02 15:04:05"
//	         in whole seconds (run nfdump with TZ=UTC; written with a T),
//	         pr nfdump's protocol name (TCP, ICMP6) or number. nfdump
//	         prints 0 placeholders for VLANs, MACs, next hops and flags a
//	         flow lacks, so those columns are written, not read.
//	ecs      the jsonl ecs keys as flat column names (source.ip,
//	         destination.port, network.bytes, event.start ...)
//	goflow2  the jsonl goflow2 keys (src_addr, bytes, time_flow_start_ns)
//	ipfix    IANA information element names (sourceIPv4Address ...)
//
// # Reading
//
// The first line that is not blank or a # comment is the header; columns
// are found by name in any order (a column given twice: the last wins,
// as raconvert does). Columns the mapping does not know are skipped and
// counted (Stats.Unmapped, Reader.Unmapped). A first line that names no
// column of the mapping is ErrNoHeader, naming the file and line. Spaces
// around an unquoted field are trimmed: ra pads Flgs and Dir and nfdump its
// latency columns, and neither writes a space that is data. A header
// without ',' but with tabs is read as tab-separated (ra -c '\t').
// nfdump's "No matching flows" line is skipped and its "Summary" block
// ends the records.
//
// A record with the wrong number of fields or a malformed quote is a
// *ParseError (file, line, field number and column name) wrapping
// ErrFieldCount, codecs.ErrCorrupt or codecs.ErrTruncated; the reader
// skips that record and goes on at the next Decode. A value the mapping
// cannot convert (ra's "man" protocol, a "Broadcast" MAC, a hex ICMP type)
// is a *ParseError wrapping the mapping's *mappings.ApplyError with
// Partial set and the canonical field named: the record holds its other
// fields, for a caller that takes records without a value. A record is
// at most 1 MiB (WithMaxRecord).
//
// What the dialects cannot say (the mapping language has no conversion
// for it yet): ra's Flgs, Dir and State; ra's hex ICMP type/code and
// nfdump's type<<8|code in dp; ra's "Broadcast" MAC; ra's date formats
// other than -u (binetflow's "2019/04/04 16:24:47.672448"); nfdump's space
// between date and time when writing.
//
// # Writing
//
// The header is the mapping's columns in the mapping's order; every
// record has every column, empty where the record lacks the field. A
// value the mapping cannot represent is left empty and reported by Encode
// (codecs.ErrNotRepresentable).
//
// Neither side uses reflection or encoding/csv, and neither allocates per
// record once its buffers have grown to the longest record.
package csv
