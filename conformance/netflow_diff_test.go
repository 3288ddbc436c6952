package conformance

// Differential tests: our v9/IPFIX decoders against calmh/ipfix and
// tehmaze/netflow on every corpus datagram, a fuzz target running them on
// mutated datagrams, and the reordered replay (templates after their data).

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow9"
	"github.com/flowgate/flowgate/flow"
)

// nfStream is one corpus export stream: datagrams in order.
type nfStream struct {
	Scope string // <set>/<file>
	Pkts  []udpPayload
}

// corpusStreams lists every v9/IPFIX stream of the corpus: flowbeat's test
// sequences and captures, logstash's extra payloads, and the generated
// export captures.
func corpusStreams(tb testing.TB) []nfStream {
	tb.Helper()
	var out []nfStream
	dir, cases := flowbeatCases(tb)
	for _, c := range cases {
		out = append(out, nfStream{"flowbeat/" + flowbeatSanitizer.Replace(c.Name), flowbeatPayloads(tb, dir, c)})
	}
	for _, p := range []string{"ipt_netflow_v9.pcap"} { // flowbeat captures without a golden
		out = append(out, nfStream{"flowbeat/" + p, pcapUDPPayloads(tb, filepath.Join(dir, "pcap", p))})
	}
	ls := corpusDir(tb, "netflow-exports", "logstash-dat")
	from := netip.MustParseAddrPort("192.0.2.2:4444")
	for _, seq := range [][]string{
		{"ipfix_test_ixia_tpldata256.dat", "ipfix_test_ixia_tpldata271.dat"},
		{"netflow9_test_cisco_aci_tpl256-258.dat", "netflow9_test_cisco_aci_data256.dat"},
	} {
		s := nfStream{Scope: "logstash-dat/" + strings.TrimSuffix(seq[0], ".dat")}
		for _, f := range seq {
			b, err := os.ReadFile(filepath.Join(ls, f))
			if err != nil {
				tb.Fatal(err)
			}
			s.Pkts = append(s.Pkts, udpPayload{From: from, Data: b, Name: f})
		}
		out = append(out, s)
	}
	root := corpusDir(tb, "generated", "exports")
	for _, v := range exportVariants {
		pcaps, _ := filepath.Glob(filepath.Join(root, v, "pcap", "*.pcap"))
		for _, p := range pcaps {
			pk := pcapUDPPayloads(tb, p)
			if len(pk) > 0 && binary.BigEndian.Uint16(pk[0].Data) != 5 {
				out = append(out, nfStream{"exports/" + v + "/" + strings.TrimSuffix(filepath.Base(p), ".pcap"), pk})
			}
		}
	}
	return out
}

// diffDatagram compares, for one datagram, a reference decoder's data
// records with ours in order, element by element through recordElem.
// Elements a flow.Record cannot give back are left out (skipElem).
func diffDatagram(kind, scope string, ref []elemRecord, ours []flow.Record, hdr []byte, initMS *int64) (compared int, diffs []nfDiff) {
	byKey, _ := ieDictionary()
	var data []elemRecord
	for _, r := range ref {
		if raw, ok := r.get(ieKey{0, 160}); ok {
			*initMS = int64(beUint(raw))
		}
		if !r.Options {
			data = append(data, r)
		}
	}
	if len(data) != len(ours) {
		return 0, []nfDiff{{kind, "records", scope, fmt.Sprintf("reference decoded %d data records, ours %d", len(data), len(ours))}}
	}
	for i, r := range data {
		seen, count := map[ieKey]int{}, map[ieKey]int{}
		for _, e := range r.Elems {
			count[e.Key]++
		}
		for _, e := range r.Elems {
			d, ok := byKey[e.Key]
			if !ok {
				d = ieDef{Key: e.Key, Name: "element " + e.Key.String(), Type: 0} // octets: compared as base64
			}
			n := seen[e.Key]
			seen[e.Key]++
			if count[e.Key] > 1 && canonicalIE(e.Key) {
				continue // a repeated canonical element: the record holds one of its values
			}
			want := ieValue(d, e.Raw)
			if want == ieOutOfRange {
				continue
			}
			if (e.Key == ieKey{0, 34} || e.Key == ieKey{0, 305}) && beUint(e.Raw) > 1<<31 {
				continue // nfcore ignores rates over 2^31 (record.go: not a sampling rate)
			}
			got, ok := recordElemN(&ours[i], d, hdr, *initMS, n)
			compared++
			switch {
			case !ok:
				diffs = append(diffs, nfDiff{kind, d.Name, scope, fmt.Sprintf("record %d: %s (%s) not carried; reference %q", i, d.Name, d.Key, clip([]byte(want), 60))})
			case got != want:
				diffs = append(diffs, nfDiff{kind, d.Name, scope, fmt.Sprintf("record %d: %s (%s): reference %q, ours %q", i, d.Name, d.Key, clip([]byte(want), 60), clip([]byte(got), 60))})
			}
		}
	}
	return compared, diffs
}

// TestNetflowDifferential: our decoders and calmh/ipfix (IPFIX) and
// tehmaze/netflow (v9, IPFIX) agree on every element of every data record
// of every corpus v9/IPFIX datagram both decode. A datagram a reference
// rejects is skipped; one we reject and a reference accepts is logged (ours
// may be stricter), never a different value.
func TestNetflowDifferential(t *testing.T) {
	streams := corpusStreams(t)
	kd := nfKnownDiffs(t, "differential-calmh", "differential-tehmaze")
	type tally struct{ datagrams, compared, refRejected, oursRejected, diffs int }
	tallies := map[string]*tally{}
	for _, st := range streams {
		refs := []refDecoder{newTehmazeDecoder(), newCalmhDecoder()}
		// systemInitTimeMilliseconds as any reference saw it (calmh/ipfix
		// returns no options data; tehmaze decodes it first).
		init := int64(-1)
		initMS := map[string]*int64{"tehmaze": &init, "calmh": &init}
		ours := newOurStream(t, 9, 10)
		for _, p := range st.Pkts {
			if len(p.Data) < 20 {
				continue
			}
			ver := binary.BigEndian.Uint16(p.Data)
			recs, oerr := ours.decode(p.Data, p.From)
			for _, rd := range refs {
				if rd.name() == "calmh" && ver != 10 {
					continue
				}
				ty := tallies[rd.name()]
				if ty == nil {
					ty = &tally{}
					tallies[rd.name()] = ty
				}
				ty.datagrams++
				rr, rerr := rd.decode(p.Data, p.From)
				if rerr != nil {
					ty.refRejected++
					continue
				}
				if oerr != nil {
					ty.oursRejected++
					t.Logf("%s %s: ours rejected what %s accepts: %v", st.Scope, p.Name, rd.name(), oerr)
					continue
				}
				n, d := diffDatagram("differential-"+rd.name(), st.Scope, rr, recs, p.Data, initMS[rd.name()])
				ty.compared += n
				ty.diffs += len(d)
				kd.check(t, d)
			}
		}
	}
	names := make([]string, 0, len(tallies))
	for n := range tallies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ty := tallies[n]
		t.Logf("differential vs %s: %d streams, %d datagrams, %d element values compared, %d listed differences; %s rejected %d datagrams, ours rejected %d it accepted",
			n, len(streams), ty.datagrams, ty.compared, ty.diffs, n, ty.refRejected, ty.oursRejected)
	}
}

// FuzzNetflowDifferential runs our decoders and the references on mutated
// datagrams (seeds: the self-contained corpus datagrams, templates and data
// in one message). Ours must not panic; when ours and a reference both
// decode a datagram without error, every element value must agree (the
// elements a flow.Record cannot give back, as listed for the corpus, are
// left out).
func FuzzNetflowDifferential(f *testing.F) {
	f.Add(fuzzSeedIPFIX())
	if os.Getenv("FLOWGATE_CORPUS") != "" {
		for _, st := range corpusStreams(f) {
			for _, p := range st.Pkts {
				if strings.HasPrefix(st.Scope, "exports/") {
					f.Add(p.Data)
				}
			}
		}
	}
	from := netip.MustParseAddrPort("192.0.2.9:9995")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 20 {
			return
		}
		ver := binary.BigEndian.Uint16(b)
		var recs []flow.Record
		var oerr error
		switch ver {
		case 9:
			recs, oerr = netflow9.NewDecoder().DecodePacket(b, from, nil)
		case 10:
			recs, oerr = ipfix.NewDecoder().DecodePacket(b, from, nil)
		default:
			return
		}
		if oerr != nil {
			return
		}
		for i := range recs {
			recs[i].Detach()
		}
		refs := []refDecoder{newTehmazeDecoder()}
		if ver == 10 {
			refs = append(refs, newCalmhDecoder())
		}
		for _, rd := range refs {
			rr, err := rd.decode(b, from)
			if err != nil || !fuzzComparable(rr) {
				continue
			}
			initMS := int64(-1)
			_, d := diffDatagram("fuzz-"+rd.name(), "fuzz", rr, recs, b, &initMS)
			for _, x := range d {
				if !fuzzExplained(x) {
					t.Errorf("%s", x)
				}
			}
		}
	})
}

// fuzzComparable: references decode some malformed input leniently (a
// truncated last record as a short one); only records whose every element
// has a plausible length are compared.
func fuzzComparable(rr []elemRecord) bool {
	byKey, _ := ieDictionary()
	for _, r := range rr {
		for _, e := range r.Elems {
			if d, ok := byKey[e.Key]; ok {
				switch d.Type {
				case 19: // ipv4Address
					if len(e.Raw) != 4 {
						return false
					}
				case 20:
					if len(e.Raw) != 16 {
						return false
					}
				}
			}
			if len(e.Raw) == 0 {
				return false
			}
		}
	}
	return len(rr) > 0
}

// fuzzExplained: the fields known-differences-netflow.tsv explains for the
// corpus (elements a record cannot give back) are not fuzz failures.
func fuzzExplained(d nfDiff) bool {
	switch d.Field {
	case "flowStartSysUpTime", "flowEndSysUpTime", "samplerId", "samplingAlgorithm", "records":
		return true
	case "samplingInterval", "samplingPacketInterval":
		// SamplingRate comes from whichever of samplingInterval,
		// samplerRandomInterval and samplingPacketInterval/Space a
		// record carries; a mutated template repeating them has no one
		// value to compare.
		return true
	}
	return false
}

// fuzzSeedIPFIX is a self-contained IPFIX message: a template (src/dst
// IPv4, ports, proto, octets, packets, flowStart/EndMilliseconds) and one
// data record for it.
func fuzzSeedIPFIX() []byte {
	be := binary.BigEndian
	var tpl []byte
	tpl = be.AppendUint16(tpl, 256)
	specs := [][2]uint16{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 8}, {2, 8}, {152, 8}, {153, 8}}
	tpl = be.AppendUint16(tpl, uint16(len(specs)))
	for _, s := range specs {
		tpl = be.AppendUint16(be.AppendUint16(tpl, s[0]), s[1])
	}
	var rec []byte
	rec = append(rec, 10, 0, 0, 1, 10, 0, 0, 2)
	rec = be.AppendUint16(be.AppendUint16(rec, 40000), 443)
	rec = append(rec, 6)
	rec = be.AppendUint64(be.AppendUint64(rec, 1500), 3)
	rec = be.AppendUint64(be.AppendUint64(rec, 1700000000000), 1700000000500)
	set := func(id uint16, body []byte) []byte {
		return append(be.AppendUint16(be.AppendUint16(nil, id), uint16(4+len(body))), body...)
	}
	body := append(set(2, tpl), set(256, rec)...)
	msg := be.AppendUint16(nil, 10)
	msg = be.AppendUint16(msg, uint16(16+len(body)))
	msg = be.AppendUint32(msg, 1700000001)
	msg = be.AppendUint32(msg, 0)
	msg = be.AppendUint32(msg, 1)
	return append(msg, body...)
}

// splitTemplates rewrites a v9/IPFIX message into two: its data (and
// options data) sets first, then its template sets; nil when it has no
// template sets. The header is copied (IPFIX length fixed up).
func splitTemplates(b []byte) (data, tpls []byte) {
	ver := binary.BigEndian.Uint16(b)
	hdr, tplMax := 16, uint16(3)
	if ver == 9 {
		hdr, tplMax = 20, 1
	}
	if len(b) < hdr {
		return nil, nil
	}
	data = append([]byte(nil), b[:hdr]...)
	tpls = append([]byte(nil), b[:hdr]...)
	for off := hdr; off+4 <= len(b); {
		id, n := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			data = append(data, b[off:]...) // let the decoder judge the rest
			break
		}
		if id <= tplMax {
			tpls = append(tpls, b[off:off+n]...)
		} else {
			data = append(data, b[off:off+n]...)
		}
		off += n
	}
	if len(tpls) == hdr {
		return nil, nil
	}
	if ver == 10 {
		binary.BigEndian.PutUint16(data[2:], uint16(len(data)))
		binary.BigEndian.PutUint16(tpls[2:], uint16(len(tpls)))
	}
	return data, tpls
}

// TestNetflowReorderedReplay: every corpus v9/IPFIX stream, with each
// message's template sets sent after its data sets (and, second pass, every
// template of the stream held back to its end), decodes to the same records
// as in order, with none lost: the data wait in the pending buffer.
func TestNetflowReorderedReplay(t *testing.T) {
	streams := corpusStreams(t)
	newOurStream(t, 9, 10) // skip unless ours landed
	total, moved := 0, 0
	for _, st := range streams {
		flows := func(pk []udpPayload) ([]string, ipfix.Stats) {
			v9 := netflow9.NewDecoder()
			fix := ipfix.NewDecoder()
			var out []string
			for _, p := range pk {
				var recs []flow.Record
				if binary.BigEndian.Uint16(p.Data) == 9 {
					recs, _ = v9.DecodePacket(p.Data, p.From, nil)
				} else {
					recs, _ = fix.DecodePacket(p.Data, p.From, nil)
				}
				for i := range recs {
					f := recordFlow(&recs[i])
					out = append(out, fmt.Sprintf("%s in %d out %d extra %d", f, recs[i].InIf, recs[i].OutIf, len(recs[i].Extra)))
				}
			}
			sort.Strings(out)
			s9, s10 := v9.Stats(), fix.Stats()
			s10.PendingExpired += s9.PendingExpired
			s10.PendingDropped += s9.PendingDropped
			s10.PendingSets += s9.PendingSets
			return out, s10
		}
		want, _ := flows(st.Pkts)
		var perMsg, atEnd, tail []udpPayload
		for _, p := range st.Pkts {
			d, tp := splitTemplates(p.Data)
			if tp == nil {
				perMsg, atEnd = append(perMsg, p), append(atEnd, p)
				continue
			}
			moved++
			dp, tpp := p, p
			dp.Data, tpp.Data = d, tp
			perMsg = append(perMsg, dp, tpp)
			atEnd = append(atEnd, dp)
			tail = append(tail, tpp)
		}
		total += len(want)
		for _, v := range []struct {
			name string
			pk   []udpPayload
		}{{"templates after each message's data", perMsg}, {"all templates at the end", append(atEnd, tail...)}} {
			got, stats := flows(v.pk)
			if stats.PendingExpired != 0 || stats.PendingDropped != 0 {
				t.Errorf("%s, %s: pending sets expired %d, dropped %d", st.Scope, v.name, stats.PendingExpired, stats.PendingDropped)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s, %s: %d records, in order %d; first differences:\n%s", st.Scope, v.name, len(got), len(want), firstLineDiffs(want, got, 4))
			}
		}
	}
	t.Logf("reordered replay: %d streams, %d records each way, %d messages had their templates moved", len(streams), total, moved)
}

func firstLineDiffs(want, got []string, n int) string {
	var sb strings.Builder
	w := map[string]int{}
	for _, s := range want {
		w[s]++
	}
	for _, s := range got {
		if w[s] > 0 {
			w[s]--
			continue
		}
		if n--; n < 0 {
			break
		}
		fmt.Fprintf(&sb, "  only reordered: %s\n", s)
	}
	for s, c := range w {
		if c > 0 && n > 0 {
			n--
			fmt.Fprintf(&sb, "  only in order: %s\n", s)
		}
	}
	return sb.String()
}

// TestNetflowV5Reference: every NetFlow v5 datagram of the corpus (flowbeat's
// ipt_netflow capture, softflowd's and pmacct's generated exports) decodes
// with ours to the flows the fixed v5 layout gives (v5Flows: Cisco's format
// table and RFC 3954 §8 time arithmetic), exactly, times to the ns.
func TestNetflowV5Reference(t *testing.T) {
	newOurStream(t, 5)
	kd := nfKnownDiffs(t, "v5-reference")
	var files []string
	files = append(files, filepath.Join(corpusDir(t, "netflow-exports", "flowbeat", "pcap"), "ipt_netflow_v5.pcap"))
	for _, v := range []string{"v5", "pmacct_v5"} {
		p, _ := filepath.Glob(filepath.Join(corpusDir(t, "generated", "exports", v, "pcap"), "*.pcap"))
		files = append(files, p...)
	}
	total := 0
	for _, f := range files {
		scope := filepath.Base(filepath.Dir(filepath.Dir(f))) + "/" + strings.TrimSuffix(filepath.Base(f), ".pcap")
		var want []nfFlow
		pk := pcapUDPPayloads(t, f)
		for _, p := range pk {
			fs, err := v5Flows(p.Data)
			if err != nil {
				t.Fatalf("%s %s: %v", scope, p.Name, err)
			}
			want = append(want, fs...)
		}
		got := decodeOurs(t, pk)
		m, d := compareFlows(want, got, nfCompareOpts{Kind: "v5-reference", Scope: scope, TimeTol: 0})
		total += m
		kd.check(t, d)
	}
	t.Logf("NetFlow v5: %d captures, %d flows equal to the v5 layout's", len(files), total)
}
