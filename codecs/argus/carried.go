package argus

// Carried lists the canonical fields (mappings.CanonicalFields names) that
// the Writer writes and the Reader reads back, for a converter's account
// of what Argus has no place for: the DSRs' fields (times in µs for 3.x;
// 5.x keeps ns) and, in the label DSR next to the record's own label, the
// context of label.go (NetFlow/IPFIX export context, Community ID, Zeek
// columns; and, not canonical fields, other formats' Extra elements). A label too long for the DSR is refused (or, WithLossy, its
// words left out and counted), never cut silently.
var Carried = []string{
	"start_time", "last_time", "duration", "src_addr", "dst_addr", "protocol", "src_port", "dst_port",
	"src_tos", "dst_tos", "src_ttl", "dst_ttl", "bytes", "src_bytes", "dst_bytes", "app_bytes",
	"src_app_bytes", "dst_app_bytes", "pkts", "src_pkts", "dst_pkts", "src_mac", "dst_mac", "seq",
	"src_vid", "dst_vid", "src_start_time", "src_last_time", "dst_start_time", "dst_last_time",
	"src_country", "dst_country", "label", "src_as", "dst_as", "src_mss", "src_tcp_flags", "dst_tcp_flags",
	// in the label DSR (label.go)
	"zeek_uid", "zeek_service", "zeek_history", "zeek_conn_state", "community_id",
	"in_if", "out_if", "next_hop", "bgp_next_hop", "sampling_rate", "obs_domain", "exporter_addr",
}
