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
