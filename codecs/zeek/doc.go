// Package zeek reads and writes Zeek conn.log files, in Zeek's TSV form
// (the ASCII writer's default) and as JSON lines (LogAscii::use_json),
// into and from flow.Record.
//
// # TSV form
//
// A log starts with header lines that begin with '#':
//
//	#separator \x09            the column separator, written with \x escapes
//	#set_separator<TAB>,       between the elements of set and vector values
//	#empty_field<TAB>(empty)   an empty string, set or vector
//	#unset_field<TAB>-         a value that is not set
//	#path<TAB>conn             the log stream
//	#open<TAB>2020-10-06-17-32-56
//	#fields<TAB>ts<TAB>uid<TAB>id.orig_h...
//	#types<TAB>time<TAB>string<TAB>addr...
//
// then one line per connection, one column per #fields name, and
// "#close<TAB>time" at the end. Every line after #separator splits on the
// separator. Strings escape control bytes, DEL, the separator, '\' and
// bytes that are not UTF-8 as \xNN (valid UTF-8 passes, as with
// LogAscii::enable_utf_8; older logs escape it too and are kept as
// read); a string that equals the unset or empty marker has its first
// byte escaped. Times and intervals are seconds printed with %.6f;
// addresses in their canonical text; ports, counts and ints in decimal;
// bools as T/F; sets and vectors join their elements with the set
// separator. The Reader decodes escapes in the values it maps to fields
// and keeps the other columns' text as written.
//
// # JSON lines
//
// One object per line, keys the #fields names ("id.orig_h"), in the
// order of the fields; unset values are left out. Strings are JSON
// strings (bytes that are not UTF-8 become the text \xNN), counts and
// ports numbers, bools true/false, sets and vectors arrays, and times
// and intervals numbers printed as RapidJSON prints a double: the
// shortest digits that read back to the same double, "0.0" for zero,
// an exponent only below 1e-6 or from 1e21.
//
// The Writer writes JSON keys in the built-in table's order (Zeek's
// order of conn.log's fields, policy-script columns after the base
// ones), then columns the table does not know, in the order read.
//
// The Reader detects the form from the first line that is not blank: '{'
// starts JSON lines, '#' a TSV header.
//
// # Mapping to flow.Record
//
// orig is the Src direction and resp the Dst direction (no
// re-orientation, as raconvert does). ts and duration give Start and
// Last (ns); proto (and ip_proto, when present) Key.Proto; for ICMP the
// port columns are Zeek's type and counterpart type or code
// (ICMP4_counterpart/ICMP6_counterpart), read into and written from
// Key.ICMPType/ICMPCode (a code Zeek does not log is counted,
// WriterStats.Lost);
// orig_pkts/resp_pkts Pkts; orig_ip_bytes/resp_ip_bytes Bytes (IP
// bytes); orig_bytes/resp_bytes AppBytes (payload); uid, service,
// history and conn_state rec.Zeek; community_id rec.CommunityID; vlan
// VLAN.TCI (both directions); orig_l2_addr/resp_l2_addr MAC. For TCP,
// conn_state and history also set TCP.Status and the per-direction
// TCP.Side[].Flags with raconvert's tables (argus-clients.md §4.3 and
// §4.4: ConnStateBits, HistoryFlags); a record from another format gets a
// conn_state and history back from them (ConnState, AppendHistory).
// Records are flow.TypeFlow. raconvert makes them TypeAFlow (0x50), but
// Debian's ra 3.0.8.2 prints no AFlow record at all, and a conn.log
// converted to Argus must print in the ra users have (TestRecordTypeRa
// in codecs/netflow5 shows the same for 0x50).
//
// orig_cc/resp_cc (two-letter codes) give Country.
//
// The column table (columns.go) is the built-in mapping
// mappings/builtin/zeek-conn.yaml in Go: TestBuiltinMappingAgrees holds
// the two together (and TestBuiltinMappingDecodes runs both over the
// corpus). A user mapping file (schema zeek; NewMapping, WithMapping,
// convert --mapping) is laid over it as mappings.Merge lays files: a rule
// for a column the table carries in Extra decodes it into its canonical
// field (and the Writer writes it, adding the column to a header it
// makes), a rule that changes a built-in column (swap, scale, another
// field) replaces the codec's handling, drop: true sends the column to
// Extra. The mapping is resolved per header into per-column ops.
//
// # Columns without a canonical home
//
// Every other column (local_orig, local_resp, missed_bytes,
// tunnel_parents, inner_vlan, Zeek 2.x and labelled-dataset columns, and
// any name the table does not know) travels in rec.Extra as a
// flow.Field with Source flow.SourceZeek:
//
//   - ID names the column: the built-in table's index + 1 (stable:
//     ColumnName(id)), or, for a name the table lacks, an ID from 65536 up
//     that a process-wide table of names gives out (bounded to 4096
//     names) so that every Reader and Writer of the process agrees on it.
//     A carrier that leaves the process (Argus labels) must carry the
//     name (ColumnName) with the value.
//   - Value is the text as the source wrote it; Enterprise says which
//     form: 0 is TSV text (escapes and set separator as written), 1 a
//     JSON token ("text", 12, true, [..]). The Writer converts between
//     forms with the column's Zeek type, so TSV to JSON to TSV is exact.
//   - Offset is the column's position in the line.
//
// Two more kinds of Extra field carry what byte identity needs and the
// fields cannot hold:
//
//   - ID 0 lists the canonical columns the record had unset ('-' or a
//     key left out): Enterprise holds one bit per column kind.
//   - Offset 0xFFFFFFFF marks a canonical column's text that the writer
//     would not reproduce from the field: a btest baseline's masked ts
//     (XXXXXXXXXX.XXXXXX), a JSON double that is not what Zeek's own
//     arithmetic on the decoded time prints (logs whose times were
//     rewritten as doubles), a non-canonical number or address, a JSON
//     value of another type than Zeek writes for the column. The
//     field still holds the decoded value; Reader.Stats counts these.
//
// Records alias the reader's line buffer (and a per-record scratch
// buffer for unescaped values) until the next Decode: call Detach to
// keep one.
//
// # Rewriting a log byte for byte
//
// The header lines are not record values: a Writer given the Reader's
// Header (WithHeader) writes its lines and trailer as read (btest masks
// #open, some tools indent the first line) and its columns in their
// order, each value encoded from the record. Without a header the
// Writer writes the header Zeek writes, with #open and #close times from
// Writer.Now, for the current conn.log columns plus those the first
// record carries (community_id, vlan, MACs, Extra columns); later
// Extra values with no column are counted (WriterStats.Dropped), and a
// later record's VLAN, MACs or countries with no column per canonical
// field (WriterStats.Lost), as the header, written first, cannot change.
// A conn_state for a record that did not come from Zeek follows Zeek's
// definitions with the per-direction flags (ConnStateFlags). A record
// that is not IP (ARP, layer-2 flows) is not written and is counted
// (WriterStats.NotIP): Zeek logs IP connections only. A log
// made of several header blocks (concatenated or rotated logs) is read,
// the schema changing at each #fields, but a Writer keeps the columns of
// the header it started with: such a log is not rewritten byte for byte.
package zeek
