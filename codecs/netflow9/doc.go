// Package netflow9 decodes Cisco NetFlow version 9 (RFC 3954) export
// packets into flow.Record; the encoder is in encode.go. Templates,
// element mapping, sampling, times and sequence tracking are shared with
// IPFIX in codecs/internal/nfcore.
//
// Packet layout (all big-endian, RFC 3954 §5):
//
//	0      2      4              8              12             16             20
//	+------+------+--------------+--------------+--------------+--------------+
//	| ver  | count| sysUpTime ms | unix secs    | sequence     | source id    |  header, ver = 9
//	+------+------+--------------+--------------+--------------+--------------+
//	| flowset id | length | body ... (length - 4 bytes)                        |  flowsets
//
// count (records in the packet) is unreliable in the field and not used;
// flowsets run to the end of the datagram, and a zero-filled tail (Palo
// Alto pads datagrams) ends them.
//
// Flowset ids: 0 template flowset, 1 options template flowset, 2-255
// reserved (rejected), 256-65535 data flowset of that template id.
//
// Template record: template id (>= 256), field count, then per field a
// 16-bit type and a 16-bit length. Types 1-127 are the IPFIX element ids;
// vendor types above 32767 (Cisco ASA, NBAR ...) have no enterprise
// number and are kept in Record.Extra with their type.
//
// Options template record (§6.1): template id, scope length and option
// length in bytes, then scope fields (types 1 system, 2 interface, 3 line
// card, 4 cache, 5 template: their own namespace) and option fields;
// the flowset is padded to 4 bytes. Options data gives the sampling
// interval (34, or FLOW_SAMPLER_RANDOM_INTERVAL 50 per FLOW_SAMPLER_ID 48).
//
// Times: FIRST_SWITCHED (22) and LAST_SWITCHED (21) are sysUpTime in ms
// when the flow's first and last packets were switched; with the header's
// sysUpTime and unix secs they become absolute (the difference is taken
// modulo 2^32, so the 49.7-day uptime wrap costs nothing).
//
// Sequence: the count of export packets the source id sent (§5.1), so
// loss is counted in packets.
//
// Mapping files: the element table is the built-in mapping
// mappings/builtin/netflow9.yaml (nfcore's TestBuiltinMappingAgrees). A
// user file of schema netflow9 (NewMapping; WithMapping for a Decoder,
// WithEncoderMapping for an Encoder; convert --mapping) is laid over it:
// a rule for a type the codec keeps in Extra (an EdgeRouter's post MACs,
// 81 and 57) decodes it into its canonical field and the encoder writes
// it; a rule naming a known type with another canonical field or a
// conversion (swap, scale ...) replaces the codec's handling; drop: true
// sends the type to Extra.
package netflow9
