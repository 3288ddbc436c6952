package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
)

// convert --report's per-field account: for every canonical field
// (mappings.CanonicalFields) a record carried, how many values the sink
// preserved, transformed by a declared lossy rule (times cut to the
// format's resolution, a biflow split into two one-way records), or could
// not represent (the sink has no place for the field, or the value is
// outside what the place holds). What the sink carries comes from the
// codec's declaration: the mapping for the mapped formats (zeek, JSON
// dialects, and the IPFIX and v9 element tables), netflow5.Carried and
// argus.Carried. The conformance matrix (flowgate
// conformance matrix) reads this table and checks it against what comes
// back.

// fieldCount is one canonical field's line of the account.
type fieldCount struct {
	preserved, transformed, notRep int64
	// codec: values the sink's own encoder reported (refused or dropped
	// with --lossy), by the field it named.
	codec int64
	rule  string // the lossy rule or reason that applied last
}

// sinkProfile is what a sink format holds, per canonical field index.
type sinkProfile struct {
	name    string
	carried []bool
	quantum []int64  // time fields: resolution in ns (0 or 1: exact)
	limit   []uint64 // largest value held (0: the field's own width)
	v4only  []bool   // addresses: IPv4 only
	// biflowSplit: the reverse direction's fields come back in a record of
	// their own (NetFlow v5 and v9 have no reverse elements).
	biflowSplit bool
	// revNeedsCounts: the reverse direction's attributes (revAttrs) are
	// written only with reverse counts.
	revNeedsCounts bool
	// refuse: a value over limit or of the wrong family makes the encoder
	// refuse the whole record (NetFlow v5), not just leave the value out.
	refuse bool
	// writeOnly: written, but the format's reader does not read it back
	// (a mapping's direction: out rule with no way back).
	writeOnly []bool
	// codecWrites: fields the codec writes itself though its mapping has
	// no rule for them (v9's sysUptime flow times).
	codecWrites []bool
	// plan: a mapped format's plan, for the values it does not write.
	plan *mappings.Plan
	// tcpFlagsTCP: TCP flags are written for TCP flows only (v5's
	// tcp_flags, tcpControlBits): a non-TCP flow's are left out.
	tcpFlagsTCP bool
	// ipOnly: a record whose key is not an IP 5-tuple (ARP, an L2 flow)
	// is refused whole (NetFlow/IPFIX).
	ipOnly bool
	// leftOut: a record the sink leaves out whole (a conn.log's non-IP
	// flows, zeek.NotIP), its key counted as not representable.
	leftOut func(*flow.Record) bool
}

// fieldAccount observes the records convert hands its sink. It is a sink
// itself, wrapping the real one, so that runConvert needs one line for it.
type fieldAccount struct {
	sink
	prof   sinkProfile
	fields []mappings.FieldInfo
	index  map[string]int
	probe  *mappings.Plan
	vals   probeVals
	counts []fieldCount
	read   int64 // records handed to the sink
	mgmt   int64
	// refused: records the declaration says the sink refuses whole.
	refused  int64
	scratch  []byte
	scratch2 []byte
	// rule texts
	noPlace, notWritten, v4Only, oneWay string
	cut, over                           []string
	isFlags                             []bool
}

// discardSink takes a plan's values and keeps nothing: the account only
// wants to know which were not written.
type discardSink struct{}

func (discardSink) Put(int, []byte) {}

// probeVals collects one record's canonical values by field index, in the
// probe mapping's canonical text (integers, ns times, addresses).
type probeVals struct {
	has []bool
	v   [][]byte
}

func (p *probeVals) Put(slot int, v []byte) { p.has[slot], p.v[slot] = true, v }

// probeFile is a mapping whose external names are the canonical names,
// with no conversion: Encode gives every value a record carries in
// canonical form, through the same accessors every mapped codec uses.
func probeFile() (*mappings.File, error) {
	var b strings.Builder
	b.WriteString("version: 1\nschema: json\ndialect: canonical\nfields:\n")
	for _, f := range mappings.CanonicalFields() {
		dir := ""
		if f.Derived {
			dir = ", direction: out"
		}
		fmt.Fprintf(&b, "  - {external: %s, canonical: %s%s}\n", f.Name, f.Name, dir)
	}
	return mappings.Load("canonical probe", []byte(b.String()))
}

func newProbe(dir mappings.Direction) (*mappings.Plan, error) {
	f, err := probeFile()
	if err != nil {
		return nil, err
	}
	return mappings.Compile(f, dir)
}

// withFieldAccount wraps sk when --report is on.
func withFieldAccount(sk sink, out gateway.Endpoint, o convertOpts) sink {
	if !o.report {
		return sk
	}
	a, err := newFieldAccount(sk, out, o)
	if err != nil {
		fmt.Fprintf(o.stderr, "flowgate convert: --report: no per-field account: %v\n", err)
		return sk
	}
	return a
}

func newFieldAccount(sk sink, out gateway.Endpoint, o convertOpts) (*fieldAccount, error) {
	a := &fieldAccount{sink: sk, fields: mappings.CanonicalFields(), index: map[string]int{}}
	for i, f := range a.fields {
		a.index[f.Name] = i
	}
	var err error
	if a.probe, err = newProbe(mappings.Out); err != nil {
		return nil, err
	}
	n := len(a.fields)
	a.vals = probeVals{has: make([]bool, n), v: make([][]byte, n)}
	a.counts = make([]fieldCount, n)
	if a.prof, err = profileFor(out, o, a.index); err != nil {
		return nil, err
	}
	// The rules' text, made once: observe does not allocate.
	p := &a.prof
	a.noPlace = "no place for it in " + p.name
	a.notWritten = "not written by the " + p.name + " mapping"
	a.v4Only = p.name + " holds IPv4 only"
	a.oneWay = "written only: the " + p.name + " reader does not read it back"
	a.cut, a.over = make([]string, n), make([]string, n)
	a.isFlags = make([]bool, n)
	for _, f := range []string{"src_tcp_flags", "dst_tcp_flags"} {
		if i, ok := a.index[f]; ok {
			a.isFlags[i] = true
		}
	}
	for i := range a.fields {
		if p.quantum[i] > 1 {
			a.cut[i] = "cut to " + quantumName(p.quantum[i])
		}
		a.over[i] = fmt.Sprintf("over %s's %d", p.name, p.limit[i])
	}
	return a, nil
}

func newProfile(name string, n int) sinkProfile {
	return sinkProfile{name: name, carried: make([]bool, n), quantum: make([]int64, n),
		limit: make([]uint64, n), v4only: make([]bool, n), writeOnly: make([]bool, n), codecWrites: make([]bool, n)}
}

func (p *sinkProfile) carry(index map[string]int, names ...string) {
	for _, n := range names {
		if i, ok := index[n]; ok {
			p.carried[i] = true
		}
	}
}

func (p *sinkProfile) byCodec(index map[string]int, names ...string) {
	for _, n := range names {
		if i, ok := index[n]; ok {
			p.codecWrites[i] = true
		}
	}
}

func (p *sinkProfile) times(index map[string]int, q int64) {
	for _, n := range timeFields {
		if i, ok := index[n]; ok {
			p.quantum[i] = q
		}
	}
}

var timeFields = []string{"start_time", "last_time", "duration", "src_start_time", "src_last_time", "dst_start_time", "dst_last_time"}

// raJSONCarried is what ra 5's -M json prints with ra's default fields
// (convert's json sink without a dialect): ratext.DefaultFields by their
// canonical names (flgs, dir and state have none).
func raJSONCarried() []string {
	var out []string
	for _, n := range ratext.DefaultFields {
		if f, ok := flow.FieldByRaName(n); ok {
			out = append(out, f.Name)
		}
	}
	return out
}

// sinkMapping returns the mapping a mapped sink format writes through (ok
// false for the others): the zeek-conn table codecs/zeek uses, the JSON
// and CSV dialects' (with --mapping laid over), and the IPFIX and v9
// element tables as the declaration of what those encoders write.
func sinkMapping(out gateway.Endpoint, o convertOpts) (f *mappings.File, ok bool, err error) {
	// A --mapping file of the sink's schema changes what its codec writes
	// (convert_mapping.go gives it to the codec): the account follows it.
	withUser := func(name, schema string) (*mappings.File, error) {
		b, err := mappings.Builtin(name)
		if err != nil || o.codecMapping == nil || o.codecMapping.Schema != schema {
			return b, err
		}
		return mappings.Merge(b, o.codecMapping)
	}
	switch out.Format {
	case gateway.FormatZeek, gateway.FormatZeekJSON:
		f, err = withUser("zeek-conn", "zeek")
	case gateway.FormatNF9:
		f, err = withUser("netflow9", "netflow9")
	case gateway.FormatIPFIX:
		f, err = withUser("ipfix", "ipfix")
	case gateway.FormatJSON:
		switch o.dialect {
		case "", dialectRa:
			return nil, false, nil
		case "ipfix":
			f, err = mappings.Open("ipfix", o.mapping)
		default:
			f, err = mappings.Open("json-"+o.dialect, o.mapping)
		}
	case gateway.FormatCSV:
		d := o.dialect
		if d == "" || d == dialectRa {
			d = "argus"
		}
		f, err = csv.Mapping(d, o.mapping)
	default:
		return nil, false, nil
	}
	return f, err == nil, err
}

// derivedFrom: a derived field is held when its parts are (a format
// with start and end times holds the duration, one with both directions'
// counts holds the totals).
var derivedFrom = map[string][2]string{
	"duration": {"start_time", "last_time"}, "bytes": {"src_bytes", "dst_bytes"},
	"pkts": {"src_pkts", "dst_pkts"}, "app_bytes": {"src_app_bytes", "dst_app_bytes"},
	"last_time": {"start_time", "duration"}, // Zeek's ts and duration
}

// profileFor derives what out holds from its codec's declaration.
func profileFor(out gateway.Endpoint, o convertOpts, index map[string]int) (sinkProfile, error) {
	p, err := profileFor1(out, o, index)
	if err != nil {
		return p, err
	}
	for d, parts := range derivedFrom {
		i, ok := index[d]
		a, ok1 := index[parts[0]]
		b, ok2 := index[parts[1]]
		if ok && ok1 && ok2 && !p.carried[i] && p.carried[a] && p.carried[b] {
			p.carried[i] = true
			p.quantum[i] = max(p.quantum[a], p.quantum[b])
		}
	}
	return p, nil
}

func profileFor1(out gateway.Endpoint, o convertOpts, index map[string]int) (sinkProfile, error) {
	n := len(index)
	switch out.Format {
	case gateway.FormatAuto, gateway.FormatArgus, gateway.FormatArgus3:
		p := newProfile("argus", n)
		p.carry(index, argus.Carried...)
		if out.Format == gateway.FormatArgus3 {
			p.name = "argus3"
			p.times(index, 1e3) // µs time DSRs
		} // 5.x: ns time DSRs (qualifier 0x19)
		return p, nil
	case gateway.FormatNF5:
		p := newProfile("nf5", n)
		p.carry(index, netflow5.Carried...)
		p.times(index, netflow5.TimeResolution)
		for f, l := range netflow5.Limits {
			if i, ok := index[f]; ok {
				p.limit[i] = l
			}
		}
		for _, f := range []string{"src_addr", "dst_addr", "next_hop"} {
			if i, ok := index[f]; ok {
				p.v4only[i] = true
			}
		}
		p.biflowSplit, p.refuse, p.revNeedsCounts, p.ipOnly = netflow5.BiflowSplit, true, true, true
		p.tcpFlagsTCP = true
		return p, nil
	}
	f, ok, err := sinkMapping(out, o)
	if err != nil {
		return sinkProfile{}, err
	}
	if !ok {
		if out.Format == gateway.FormatJSON {
			p := newProfile("ra json", n)
			p.carry(index, raJSONCarried()...)
			p.times(index, 1e3) // Precision 6
			return p, nil
		}
		return sinkProfile{}, fmt.Errorf("no declaration of what %s holds", out.Format)
	}
	p, err := mappedProfile(f, index)
	if err != nil {
		return p, err
	}
	switch out.Format {
	case gateway.FormatZeek, gateway.FormatZeekJSON:
		p.leftOut = zeek.NotIP
	case gateway.FormatNF9:
		// v9 flow times are sysUptime ms (FIRST_SWITCHED/LAST_SWITCHED,
		// which the mapping leaves to the codec); no reverse elements.
		p.carry(index, "start_time", "last_time", "duration")
		p.byCodec(index, "start_time", "last_time")
		p.times(index, 1e6)
		p.biflowSplit, p.revNeedsCounts, p.ipOnly, p.tcpFlagsTCP = true, true, true, true
	case gateway.FormatIPFIX:
		p.revNeedsCounts, p.ipOnly, p.tcpFlagsTCP = true, true, true
		if out.Opts.Times == "ms" {
			p.times(index, 1e6)
		} else {
			p.times(index, 1) // ns elements when a time needs them
		}
	}
	return p, nil
}

// mappedProfile reads a mapping's writing rules: the canonical fields it
// has an external field for and a time rule's resolution; per record, its
// plan says which values it did not write (Plan.EncodeUnwritten: no rule,
// a value a rule cannot convert, an address of a family no rule takes).
func mappedProfile(f *mappings.File, index map[string]int) (sinkProfile, error) {
	p := newProfile(f.Schema+" "+f.Dialect, len(index))
	var err error
	if p.plan, err = mappings.Compile(f, mappings.Out); err != nil {
		return p, err
	}
	read := make([]bool, len(index))
	for _, r := range f.Rules {
		if r.Drop {
			continue
		}
		i, ok := index[r.Canonical]
		if !ok {
			continue
		}
		if r.Dir != mappings.Out {
			read[i] = true
		}
		if r.Dir == mappings.In {
			continue
		}
		p.carried[i] = true
		c := &r.Convert
		switch c.Kind {
		case mappings.ConvTime:
			q := unitNs(c.Unit)
			if c.Format == "decimal" {
				for d := 0; d < int(c.Digits) && q > 1; d++ {
					q /= 10
				}
			}
			p.quantum[i] = max(p.quantum[i], q)
		}
	}
	// A field written but not read back (direction: out) comes back
	// from its parts if they are read (a total from both directions'
	// counts, a duration from the times: at their resolution), else not
	// at all: the dialect holds it one way.
	for n, i := range index {
		if !p.carried[i] || read[i] {
			continue
		}
		parts, ok := derivedFrom[n]
		a, ok1 := index[parts[0]]
		b, ok2 := index[parts[1]]
		if ok && ok1 && ok2 && read[a] && read[b] {
			p.quantum[i] = max(p.quantum[i], p.quantum[a], p.quantum[b])
			continue
		}
		p.writeOnly[i] = true
	}
	return p, nil
}

func unitNs(u string) int64 {
	switch u {
	case "ms":
		return 1e6
	case "us":
		return 1e3
	case "ns":
		return 1
	}
	return 1e9
}

// splitFields come back changed when a biflow is split into two one-way
// records: the reverse direction's values go to a record of their own,
// and the totals of each record are its one direction's.
var splitFields = map[string]bool{"dst_pkts": true, "dst_bytes": true, "dst_tos": true, "dst_ttl": true,
	"dst_tcp_flags": true, "dst_start_time": true, "dst_last_time": true, "dst_app_bytes": true,
	"dst_vid": true, "bytes": true, "pkts": true, "app_bytes": true}

// revAttrs are the reverse direction's attributes NetFlow/IPFIX write
// only for a flow with reverse counts (nfcore's RFC 5103 elements, v5's
// reverse record); a one-way flow's are left out.
var revAttrs = map[string]bool{"dst_tos": true, "dst_ttl": true, "dst_vid": true, "dst_tcp_flags": true}

func (a *fieldAccount) write(recs []flow.Record) error {
	for i := range recs {
		a.observe(&recs[i])
	}
	return a.sink.write(recs)
}

// observe counts one record's values. It runs only with --report.
func (a *fieldAccount) observe(r *flow.Record) {
	a.read++
	if r.Type == flow.TypeMgmt {
		a.mgmt++
		return
	}
	clear(a.vals.has)
	a.scratch, _ = a.probe.Encode(r, &a.vals, a.scratch)
	p := &a.prof
	var unwritten mappings.FieldSet
	if p.plan != nil {
		a.scratch2, unwritten, _ = p.plan.EncodeUnwritten(r, discardSink{}, a.scratch2)
	}
	biflow := r.Has&flow.HasMetrics != 0 && (r.Pkts[flow.Dst] != 0 || r.Bytes[flow.Dst] != 0)
	// A record the sink refuses whole: its offending fields are not
	// representable, the others are not counted (the sink's own lines
	// count the record).
	if p.ipOnly && r.Has&flow.HasKey != 0 && r.Key.Kind != flow.Kind5Tuple || p.leftOut != nil && p.leftOut(r) {
		if i, ok := a.index["src_addr"]; ok {
			a.note(i, &a.counts[i].notRep, "not an IP 5-tuple flow: record refused")
		}
		a.refused++
		return
	}
	if p.refuse {
		bad := false
		for i, ok := range a.vals.has {
			if ok && p.carried[i] && !a.fits(i) {
				bad = true
				a.note(i, &a.counts[i].notRep, a.reason(i))
			}
		}
		if bad {
			a.refused++
			return
		}
	}
	for i, ok := range a.vals.has {
		if !ok {
			continue
		}
		c := &a.counts[i]
		switch {
		case !p.carried[i]:
			a.note(i, &c.notRep, a.noPlace)
		case unwritten.Has(i) && !p.codecWrites[i]:
			a.note(i, &c.notRep, a.notWritten)
		case !a.fits(i):
			a.note(i, &c.notRep, a.reason(i))
		case p.tcpFlagsTCP && r.Key.Proto != 6 && a.isFlags[i] && string(a.vals.v[i]) != "0":
			a.note(i, &c.notRep, "TCP flags of a non-TCP flow: left out")
		case p.writeOnly[i]:
			a.note(i, &c.transformed, a.oneWay)
		case p.quantum[i] > 1 && a.timeCut(i):
			a.note(i, &c.transformed, a.cut[i])
		case p.biflowSplit && biflow && splitFields[a.fields[i].Name]:
			a.note(i, &c.transformed, "biflow split: the reverse direction is a record of its own")
		case p.revNeedsCounts && !biflow && revAttrs[a.fields[i].Name]:
			if string(a.vals.v[i]) == "0" {
				c.preserved++ // nothing to leave out: it reads back as 0
				break
			}
			a.note(i, &c.notRep, "reverse attribute of a one-way flow: left out")
		default:
			c.preserved++
		}
	}
}

func (a *fieldAccount) note(i int, n *int64, rule string) {
	*n++
	a.counts[i].rule = rule
}

// fits reports whether field i's value is within the sink's limit and
// family.
func (a *fieldAccount) fits(i int) bool {
	v := a.vals.v[i]
	if l := a.prof.limit[i]; l > 0 {
		if u, ok := parseU(v); ok && u > l {
			return false
		}
	}
	if a.prof.v4only[i] && bytes.IndexByte(v, ':') >= 0 {
		return false
	}
	return true
}

func (a *fieldAccount) reason(i int) string {
	if a.prof.v4only[i] {
		if v := a.vals.v[i]; bytes.IndexByte(v, ':') >= 0 {
			return a.v4Only
		}
	}
	return a.over[i]
}

// timeCut reports whether a time's value has a part finer than the sink
// holds.
func (a *fieldAccount) timeCut(i int) bool {
	v := a.vals.v[i]
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	u, ok := parseU(v)
	return ok && u%uint64(a.prof.quantum[i]) != 0
}

func parseU(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

func quantumName(q int64) string {
	switch {
	case q >= 1e9:
		return "s"
	case q >= 1e6:
		return "ms"
	case q >= 1e3:
		return "µs"
	}
	return fmt.Sprintf("%d ns", q)
}

// codecReported adds what the sink's own encoder reported, by the field
// it named (ra names, as the codecs name them), to the account.
func (a *fieldAccount) codecReported() {
	add := func(key string, n int64) {
		field, reason, _ := strings.Cut(key, ": ")
		name := field
		if f, ok := flow.FieldByRaName(field); ok {
			name = f.Name
		}
		if i, ok := a.index[codecFieldAlias(name)]; ok {
			a.counts[i].codec += n
			if a.counts[i].rule == "" {
				a.counts[i].rule = reason
			}
		}
	}
	switch s := a.sink.(type) {
	case *argusSink:
		for k, n := range s.st.lost {
			add(k, n)
		}
	case *packetSink:
		for k, n := range s.stats().Skipped {
			add(k, int64(n))
		}
	case *zeekSink:
		for k, n := range s.lost() {
			add(k, n)
		}
	}
}

// contextDropped takes the Argus sink's lines of NetFlow/IPFIX context
// dropped before the writer (convert's netflowContext, "dropped, per
// record"): what the account took as preserved was not. Read from the
// report's text, as a user reads it, so that the account follows the
// sink's own word.
func (a *fieldAccount) contextDropped(rep string) {
	_, rest, ok := strings.Cut(rep, "(dropped, per record):\n")
	if !ok {
		return
	}
	for _, l := range strings.Split(rest, "\n") {
		var n int64
		if _, err := fmt.Sscanf(l, "%d", &n); err != nil || n <= 0 {
			break
		}
		for _, c := range netflowContext {
			if !strings.HasSuffix(l, "  "+c.name) {
				continue
			}
			for _, f := range contextFields[c.g] {
				if i, ok := a.index[f]; ok && a.counts[i].preserved > 0 {
					d := min(n, a.counts[i].preserved)
					a.counts[i].preserved -= d
					a.counts[i].codec += d
					a.counts[i].rule = "NetFlow/IPFIX context dropped by convert's Argus sink"
				}
			}
		}
	}
}

// contextFields are the canonical fields of each NetFlow/IPFIX context
// group (convert's netflowContext).
var contextFields = map[flow.Group][]string{
	flow.HasExporter: {"exporter_addr", "obs_domain"},
	flow.HasSampling: {"sampling_rate"},
	flow.HasIfaces:   {"in_if", "out_if"},
	flow.HasNextHop:  {"next_hop", "bgp_next_hop"},
}

// codecFieldAlias maps the field names encoders use that are not ra
// column names to canonical names.
func codecFieldAlias(n string) string {
	switch n {
	case "obsdomain":
		return "obs_domain"
	case "sampling":
		return "sampling_rate"
	case "inif":
		return "in_if"
	case "nexthop":
		return "next_hop"
	case "communityid":
		return "community_id"
	}
	return n
}

// written is how many records the wrapped sink wrote (sent, printed).
func (a *fieldAccount) written() int64 {
	switch s := a.sink.(type) {
	case *argusSink:
		return s.st.written
	case *zeekSink:
		return s.written
	case *jsonlSink:
		return s.written
	case *jsonSink:
		return s.written
	case *csvSink:
		return s.written
	case *packetSink:
		return int64(s.stats().Records)
	}
	return -1
}

// fieldTableHead starts the per-field table in --report; the conformance
// matrix parses the lines after it.
const fieldTableHead = "  per field         preserved transformed  not-repr.  codec-rep.  field (rule)"

func (a *fieldAccount) report(w io.Writer) {
	var b bytes.Buffer
	a.sink.report(&b)
	w.Write(b.Bytes())
	a.codecReported()
	a.contextDropped(b.String())
	fmt.Fprintf(w, "  field account     %s: %d records handed to the sink (%d management), %d written", a.prof.name, a.read, a.mgmt, a.written())
	if a.refused > 0 {
		fmt.Fprintf(w, ", %d refused whole", a.refused)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, fieldTableHead)
	var tot fieldCount
	for i, c := range a.counts {
		if c == (fieldCount{}) {
			continue
		}
		tot.preserved += c.preserved
		tot.transformed += c.transformed
		tot.notRep += c.notRep
		tot.codec += c.codec
		line := fmt.Sprintf("    %24d %11d %10d %11d  %s", c.preserved, c.transformed, c.notRep, c.codec, a.fields[i].Name)
		if c.rule != "" && c.transformed+c.notRep+c.codec > 0 {
			line += " (" + c.rule + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "    %24d %11d %10d %11d  (all fields)\n", tot.preserved, tot.transformed, tot.notRep, tot.codec)
}

// fieldLine is one parsed line of the per-field table.
type fieldLine struct {
	Field                                   string
	Preserved, Transformed, NotRep, CodecRp int64
	Rule                                    string
}

// parseFieldTable reads the per-field table back from --report's output.
func parseFieldTable(out string) (map[string]fieldLine, error) {
	i := strings.Index(out, fieldTableHead)
	if i < 0 {
		return nil, errNoFieldTable
	}
	m := map[string]fieldLine{}
	for _, l := range strings.Split(out[i+len(fieldTableHead):], "\n") {
		var fl fieldLine
		n, _ := fmt.Sscanf(l, "%d %d %d %d %s", &fl.Preserved, &fl.Transformed, &fl.NotRep, &fl.CodecRp, &fl.Field)
		if n != 5 {
			continue
		}
		if fl.Field == "(all" {
			break
		}
		if j := strings.Index(l, fl.Field+" ("); j >= 0 {
			fl.Rule = strings.TrimSuffix(l[j+len(fl.Field)+2:], ")")
		}
		m[fl.Field] = fl
	}
	return m, nil
}

var errNoFieldTable = errors.New("no per-field table in the report")
