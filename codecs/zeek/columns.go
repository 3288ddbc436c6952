package zeek

// kind is what the codec does with a column: a canonical home in
// flow.Record, or kExtra (carried verbatim in Record.Extra).
type kind uint8

const (
	kExtra kind = iota
	kTS
	kUID
	kOrigH
	kOrigP
	kRespH
	kRespP
	kProto
	kService
	kDuration
	kOrigBytes
	kRespBytes
	kConnState
	kHistory
	kOrigPkts
	kOrigIPBytes
	kRespPkts
	kRespIPBytes
	kCommunityID
	kVLAN
	kOrigL2
	kRespL2
	kIPProto
	kOrigCC
	kRespCC
	nKinds
)

// kindCanonical names each kind's canonical field as the built-in mapping
// (mappings/builtin/zeek-conn.yaml) does: the column table below and
// that file are one table in two places, and TestBuiltinMappingAgrees
// holds them together (every rule of the file is what the codec does with
// the column, every column the codec maps has a rule or a listed reason).
// vlan fills both directions' VLAN (Zeek logs one per connection) and
// writes the source's, which the file calls src_vid.
var kindCanonical = [nKinds]string{
	kTS: "start_time", kUID: "zeek_uid", kOrigH: "src_addr", kOrigP: "src_port",
	kRespH: "dst_addr", kRespP: "dst_port", kProto: "protocol", kService: "zeek_service",
	kDuration: "duration", kOrigBytes: "src_app_bytes", kRespBytes: "dst_app_bytes",
	kConnState: "zeek_conn_state", kHistory: "zeek_history", kOrigPkts: "src_pkts",
	kOrigIPBytes: "src_bytes", kRespPkts: "dst_pkts", kRespIPBytes: "dst_bytes",
	kCommunityID: "community_id", kVLAN: "src_vid", kOrigL2: "src_mac", kRespL2: "dst_mac",
	kIPProto: "protocol", kOrigCC: "src_country", kRespCC: "dst_country",
}

// canonicalKind is kindCanonical backwards (the first kind of a field).
func canonicalKind(name string) kind {
	for k := kTS; k < nKinds; k++ {
		if kindCanonical[k] == name {
			return k
		}
	}
	return kExtra
}

// column is one entry of the built-in conn.log schema. The table is Go
// for now; it has the shape a mapping file (mappings/) would compile to:
// a Zeek column name, its Zeek type, and the canonical field it feeds.
type column struct {
	name string
	typ  string // Zeek type as #types prints it
	kind kind
}

// columns lists conn.log's columns in the order Zeek writes them (base
// scripts first, then the policy scripts that add columns), followed by
// aliases and columns seen in the wild. A column's ID in Record.Extra is
// its index here plus 1, so the numbering is stable: append only.
var columns = [...]column{
	{"ts", "time", kTS},
	{"uid", "string", kUID},
	{"id.orig_h", "addr", kOrigH},
	{"id.orig_p", "port", kOrigP},
	{"id.resp_h", "addr", kRespH},
	{"id.resp_p", "port", kRespP},
	{"proto", "enum", kProto},
	{"service", "string", kService},
	{"duration", "interval", kDuration},
	{"orig_bytes", "count", kOrigBytes},
	{"resp_bytes", "count", kRespBytes},
	{"conn_state", "string", kConnState},
	{"local_orig", "bool", kExtra},
	{"local_resp", "bool", kExtra},
	{"missed_bytes", "count", kExtra},
	{"history", "string", kHistory},
	{"orig_pkts", "count", kOrigPkts},
	{"orig_ip_bytes", "count", kOrigIPBytes},
	{"resp_pkts", "count", kRespPkts},
	{"resp_ip_bytes", "count", kRespIPBytes},
	{"tunnel_parents", "set[string]", kExtra},
	{"ip_proto", "count", kIPProto},
	{"community_id", "string", kCommunityID},
	{"vlan", "int", kVLAN},
	{"inner_vlan", "int", kExtra},
	{"orig_l2_addr", "string", kOrigL2},
	{"resp_l2_addr", "string", kRespL2},
	{"orig_cc", "string", kOrigCC},
	{"resp_cc", "string", kRespCC},
	{"speculative_service", "string", kExtra},
	{"suri_ids", "set[string]", kExtra},
	// Names Log::default_field_name_map style renames produce (the
	// field-name-map btest): same canonical homes.
	{"src", "addr", kOrigH},
	{"src_port", "port", kOrigP},
	{"dst", "addr", kRespH},
	{"dst_port", "port", kRespP},
	// Labelled datasets (Stratosphere conn.log.labeled).
	{"label", "string", kExtra},
	{"detailedlabel", "string", kExtra},
}

// defaultColumns is the schema the writer uses when it has no header:
// current Zeek's conn.log with ip_proto and community_id.
var defaultColumns = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}

// firstUnknownID is the first Extra ID given to a column that is not in
// the built-in table; the reader's Header resolves such IDs to names.
const firstUnknownID = 1 << 16

// idUnset is the Extra ID of the field that lists the canonical columns a
// record had unset ("-" in TSV, key absent in JSON); Enterprise holds the
// bits (1 << kind).
const idUnset = 0

func lookupColumn(name []byte) int {
	// Linear: the table is small and the lookup runs once per header.
	for i := range columns {
		if columns[i].name == string(name) {
			return i
		}
	}
	return -1
}

// ColumnName returns the name of the column with Extra ID id: one of the
// built-in table, or a name a Reader of this process met, or "".
func ColumnName(id uint32) string {
	n, _ := columnInfo(id)
	return n
}
