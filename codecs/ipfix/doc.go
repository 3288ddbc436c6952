// Package ipfix decodes IPFIX (RFC 7011) messages into flow.Record; the
// encoder is in encode.go. Templates, element mapping, sampling, times and
// sequence tracking are shared with NetFlow v9 in codecs/internal/nfcore.
//
// Message layout (all big-endian, RFC 7011 §3):
//
//	0      2      4              8              12             16
//	+------+------+--------------+--------------+--------------+
//	| ver  | len  | export time  | sequence     | obs. domain  |  header, ver = 10,
//	+------+------+--------------+--------------+--------------+  len = whole message
//	| set id | set len | body ... (set len - 4 bytes)          |  sets, back to back
//
// Set ids: 2 template set, 3 options template set, 4-255 reserved
// (rejected), 256-65535 data set of that template id.
//
// Template record: template id (>= 256), field count, then per field an
// element id (bit 15: enterprise bit), a length (65535: variable length)
// and, with the enterprise bit, a 4-byte private enterprise number. An
// options template record adds a scope field count (>= 1) after the field
// count; its first fields are the scope. A template record with field
// count 0 withdraws the template (§8.1); id 2 (in set 2) or 3 (in set 3)
// withdraws all templates (all options templates) of the domain.
//
// Data record: the fields in template order; a variable-length field is
// prefixed by its length, one byte, or 255 and two bytes (§7). A set may
// end with padding shorter than a record.
//
// Sequence: the number of data records the domain sent before this
// message (§3.1), so loss is counted in records.
//
// RFC 5103 biflows: elements of enterprise 29305 are the reverse of the
// IANA element with the same id; their values fill flow.Dst (counters,
// TCP flags, TOS, TTL, VLAN, MPLS, times). The encoder writes a biflow's
// reverse counters, TCP flags, TOS, TTL (when set, as the forward one)
// and VLAN.
//
// Mapping files: the element table is the built-in mapping
// mappings/builtin/ipfix.yaml (nfcore's TestBuiltinMappingAgrees). A
// user file of schema ipfix (NewMapping; WithMapping for a Decoder,
// WithEncoderMapping for an Encoder; convert --mapping) is laid over it:
// a rule for an element the codec keeps in Extra (an enterprise element
// such as Cisco AVC's 9/12236) decodes it into its canonical field and
// the encoder writes it; a rule naming a known element with another
// canonical field or a conversion (swap, scale ...) replaces the codec's
// handling; drop: true sends the element to Extra.
package ipfix
