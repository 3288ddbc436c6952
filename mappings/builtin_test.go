package mappings

import (
	"testing"

	"github.com/calmh/ipfix"
)

func TestBuiltinsLoad(t *testing.T) {
	names := Builtins()
	if len(names) < 6 {
		t.Fatalf("builtins: %v", names)
	}
	for _, n := range names {
		f, err := Builtin(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		for _, d := range []Direction{In, Out} {
			if _, err := Compile(f, d); err != nil {
				t.Errorf("%s %s: %v", n, d, err)
			}
		}
		rep := Check(f)
		if testing.Verbose() {
			t.Log("\n" + rep.Text())
		}
	}
}

// The built-in IPFIX mapping's element names and numbers must be IANA's:
// calmh/ipfix's dictionary (generated from the IANA registry) is the
// outside reference.
func TestIPFIXNamesMatchIANA(t *testing.T) {
	f, err := Builtin("ipfix")
	if err != nil {
		t.Fatal(err)
	}
	interp := ipfix.NewInterpreter(ipfix.NewSession())
	var specs []ipfix.TemplateFieldSpecifier
	for _, r := range f.Rules {
		specs = append(specs, ipfix.TemplateFieldSpecifier{EnterpriseID: r.Element.Enterprise, FieldID: r.Element.ID})
	}
	got := interp.InterpretTemplate(ipfix.TemplateRecord{FieldSpecifiers: specs})
	in, _ := Compile(f, In)
	if c := in.Column(0); c.Element.ID != 152 || c.Name != "flowStartMilliseconds" {
		t.Errorf("column 0: %+v", c)
	}
	for i, r := range f.Rules {
		if got[i].Name != r.External {
			t.Errorf("%s: %s is element %d/%d, which calmh/ipfix names %q", r.Pos, r.External, r.Element.Enterprise, r.Element.ID, got[i].Name)
		}
	}
	// Every IPFIX name in the element table (fields.csv's ipfix column and
	// the extras) too.
	var names []string
	specs = specs[:0]
	for n, e := range ipfixByName {
		names = append(names, n)
		specs = append(specs, ipfix.TemplateFieldSpecifier{EnterpriseID: e.Enterprise, FieldID: e.ID})
	}
	got = interp.InterpretTemplate(ipfix.TemplateRecord{FieldSpecifiers: specs})
	for i, n := range names {
		if got[i].Name != n {
			t.Errorf("element table: %s = %d/%d, calmh/ipfix names it %q", n, specs[i].EnterpriseID, specs[i].FieldID, got[i].Name)
		}
	}
}

// The v9 names and numbers of the built-in are RFC 3954 §8's (typed from
// the RFC; "BPG" is its spelling).
func TestNetFlow9NamesRFC3954(t *testing.T) {
	rfc := map[string]uint16{
		"IN_BYTES": 1, "IN_PKTS": 2, "PROTOCOL": 4, "SRC_TOS": 5, "TCP_FLAGS": 6, "L4_SRC_PORT": 7,
		"IPV4_SRC_ADDR": 8, "INPUT_SNMP": 10, "L4_DST_PORT": 11, "IPV4_DST_ADDR": 12, "OUTPUT_SNMP": 14,
		"IPV4_NEXT_HOP": 15, "SRC_AS": 16, "DST_AS": 17, "BGP_IPV4_NEXT_HOP": 18, "OUT_BYTES": 23,
		"OUT_PKTS": 24, "IPV6_SRC_ADDR": 27, "IPV6_DST_ADDR": 28, "SAMPLING_INTERVAL": 34, "MIN_TTL": 52,
		"DST_TOS": 55, "IN_SRC_MAC": 56, "SRC_VLAN": 58, "DST_VLAN": 59, "IPV6_NEXT_HOP": 62,
		"BPG_IPV6_NEXT_HOP": 63, "IN_DST_MAC": 80,
	}
	f, err := Builtin("netflow9")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Rules {
		id, ok := rfc[r.External]
		if !ok || r.Element.ID != id {
			t.Errorf("%s: %s = %d, RFC 3954 has %d (%v)", r.Pos, r.External, r.Element.ID, id, ok)
		}
	}
}
