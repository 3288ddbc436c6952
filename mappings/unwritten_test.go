package mappings

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// nullSink takes values and keeps none.
type nullSink struct{ n int }

func (s *nullSink) Put(int, []byte) { s.n++ }

// TestFieldsRegistry: every canonical field a mapping can name is a row of
// flow/fields.csv, every RecordFields row has an accessor, ids are the
// CanonicalFields indexes, and each accessor's Has group is the one its
// value needs (get is false with every other group set).
func TestFieldsRegistry(t *testing.T) {
	for n := range accessors {
		if _, ok := flow.FieldByName(n); !ok {
			t.Errorf("%s: not in flow/fields.csv", n)
		}
	}
	for _, f := range flow.RecordFields {
		if accessors[f.Name] == nil {
			t.Errorf("%s: in RecordFields, no accessor", f.Name)
		}
	}
	for i, f := range CanonicalFields() {
		if id, ok := FieldID(f.Name); !ok || id != i || FieldName(i) != f.Name {
			t.Errorf("%s: id %d, name of %d %q", f.Name, id, i, FieldName(i))
		}
	}
	full := &flow.Record{}
	full.Key.Src, full.Key.Dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	full.Key.Proto = 1
	full.Label, full.Zeek.UID, full.Zeek.Service, full.Zeek.History, full.Zeek.State = []byte("l"), []byte("u"), []byte("s"), []byte("h"), []byte("S0")
	full.CommunityID = []byte("1:x")
	full.Country = [2][2]byte{{'D', 'E'}, {'F', 'R'}}
	full.IPAttr.Present, full.VLAN.Present = 3, 3
	full.NextHop, full.BGPNextHop = full.Key.Src, full.Key.Dst
	full.Exporter = netip.AddrPortFrom(full.Key.Src, 9995)
	full.Last = 1
	for n, a := range accessors {
		if k := a.kind; (k == KindUint || k == KindTime || k == KindDur) != (a.getU != nil) {
			t.Errorf("%s: %s, getU set %v", n, k, a.getU != nil)
		}
		if a.getU != nil && !a.readOnly {
			var r1, r2 flow.Record
			r1.Start, r2.Start = 5, 5
			a.set(&r1, value{u: 7})
			a.setU(&r2, 7)
			if !reflect.DeepEqual(r1, r2) {
				t.Errorf("%s: setU sets %+v, set %+v", n, r2, r1)
			}
		}
		if a.getU != nil {
			r := *full
			r.Has = ^flow.Group(0)
			u, ok := a.getU(&r)
			v, ok2 := a.get(&r)
			if u != v.u || ok != ok2 {
				t.Errorf("%s: getU %d %v, get %d %v", n, u, ok, v.u, ok2)
			}
		}
		if a.group == 0 {
			t.Errorf("%s: no Has group", n)
			continue
		}
		r := *full
		r.Has = ^flow.Group(0)
		if _, ok := a.get(&r); !ok {
			t.Errorf("%s: not carried by a record with every group", n)
		}
		r.Has = ^a.group
		if _, ok := a.get(&r); ok {
			t.Errorf("%s: carried without its group %#x", n, a.group)
		}
	}
}

func TestFieldSet(t *testing.T) {
	var s FieldSet
	for _, id := range []int{0, 5, 63, 64, 100, 127} {
		s.Add(id)
	}
	var got []int
	for id := s.Next(0); id >= 0; id = s.Next(id + 1) {
		got = append(got, id)
	}
	if len(got) != 6 || got[2] != 63 || got[3] != 64 || got[5] != 127 || s.Len() != 6 || !s.Has(100) || s.Has(99) || s.Has(-1) || s.Has(200) {
		t.Errorf("set %v: ids %v", s, got)
	}
	if s.Minus(s).Empty() != true || s.Union(FieldSet{}) != s {
		t.Error("Minus/Union")
	}
}

func outPlan(t *testing.T, name, user string) *Plan {
	t.Helper()
	f, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		u, err := Load("user.yaml", []byte(user))
		if err != nil {
			t.Fatal(err)
		}
		if f, err = Merge(f, u); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Compile(f, Out)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEncodeUnwritten: per record, the fields carried and not written, and
// which of them the mapping declares.
func TestEncodeUnwritten(t *testing.T) {
	icmp := flow.Record{Has: flow.HasKey | flow.HasICMPKey | flow.HasTime | flow.HasMetrics | flow.HasIPAttr | flow.HasCommunityID}
	icmp.Key.Src, icmp.Key.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	icmp.Key.Proto, icmp.Key.ICMPType, icmp.Key.ICMPCode = 58, 128, 0
	icmp.Start, icmp.Last = 1e18, 1e18+5e6
	icmp.Pkts, icmp.Bytes = [2]uint64{2, 2}, [2]uint64{208, 208}
	icmp.IPAttr.Present, icmp.IPAttr.TTL = 3, [2]uint8{64, 63}
	icmp.CommunityID = []byte("1:abc")
	names := func(s FieldSet) string { return strings.Join(s.Names(), " ") }
	for _, c := range []struct {
		mapping, user     string
		unwritten, undecl string
		oneWay            bool
	}{
		// ra's keys: type and code are sport and dport; ra has no
		// Community ID key.
		{"json-argus", "", "community_id", "", false},
		// ECS: ports hold type and code; no TOS or TTL key.
		{"json-ecs", "", "src_tos dst_tos src_ttl dst_ttl", "", false},
		// goflow2: one way, so the reverse counters are lost and not
		// declared; it has no reverse TOS or TTL and no Community ID.
		{"json-goflow2", "", "dst_tos dst_ttl dst_bytes dst_pkts community_id", "dst_bytes dst_pkts", true},
		// nfdump: ICMP keys; the IPv6 address has its own keys.
		{"json-nfdump", "", "src_ttl dst_ttl community_id", "", false},
		// ipfix: icmpTypeIPv6 for protocol 58.
		{"ipfix", "", "community_id", "", false},
		// A user file that keeps only the IPv4 source address key: the
		// IPv6 one is carried, has a rule, and is not written.
		{"json-nfdump", "version: 1\nschema: json\nfields:\n  - {external: src6_addr, drop: true}\n", "src_addr src_ttl dst_ttl community_id", "src_addr", false},
		// Without ports or ICMP keys, type and code are lost both ways.
		{"json-nfdump", "version: 1\nschema: json\nfields:\n  - {external: src_port, drop: true}\n  - {external: icmp_type, drop: true}\n", "src_port src_ttl dst_ttl community_id icmp_type", "", false},
	} {
		p := outPlan(t, c.mapping, c.user)
		var sink nullSink
		_, un, err := p.EncodeUnwritten(&icmp, &sink, nil)
		if err != nil {
			t.Errorf("%s: %v", c.mapping, err)
		}
		if got := names(un); got != c.unwritten {
			t.Errorf("%s %q: unwritten %q, want %q", c.mapping, c.user, got, c.unwritten)
		}
		if got := names(un.Minus(p.Declared())); got != c.undecl {
			t.Errorf("%s %q: undeclared %q, want %q", c.mapping, c.user, got, c.undecl)
		}
		if p.OneWay() != c.oneWay {
			t.Errorf("%s: OneWay %v", c.mapping, p.OneWay())
		}
		scratch := make([]byte, 0, 512)
		if n := testing.AllocsPerRun(1000, func() { scratch, _, _ = p.EncodeUnwritten(&icmp, &sink, scratch) }); n != 0 {
			t.Errorf("%s: %.1f allocations per record", c.mapping, n)
		}
	}
	// A uni-flow in a one-way dialect loses nothing of its counters.
	uni := icmp
	uni.Pkts[1], uni.Bytes[1] = 0, 0
	var sink nullSink
	if _, un, _ := outPlan(t, "json-goflow2", "").EncodeUnwritten(&uni, &sink, nil); un.Has(accessors["dst_pkts"].id) || un.Has(accessors["dst_bytes"].id) {
		t.Errorf("goflow2 uni-flow: %v unwritten", un.Names())
	}
}

// TestOneWayLoad: oneway is a bool, a one-way file with a reverse counter
// rule is an error, and a user file can say oneway: false.
func TestOneWayLoad(t *testing.T) {
	_, err := Load("a.yaml", []byte("version: 1\nschema: json\noneway: true\nfields:\n  - {external: x, canonical: dst_pkts}\n"))
	if err == nil || !strings.Contains(err.Error(), "a.yaml:3:9: oneway") {
		t.Errorf("one-way with dst_pkts: %v", err)
	}
	if _, err := Load("b.yaml", []byte("version: 1\nschema: json\noneway: 1\nfields: []\n")); err == nil {
		t.Error("oneway: 1 accepted")
	}
	p := outPlan(t, "json-goflow2", "version: 1\nschema: json\noneway: false\nfields:\n  - {external: out_bytes, canonical: dst_bytes}\n")
	if p.OneWay() || p.Declared().Has(accessors["dst_pkts"].id) != true {
		t.Errorf("goflow2 made two-way: OneWay %v, dst_pkts declared %v", p.OneWay(), p.Declared().Has(accessors["dst_pkts"].id))
	}
}
