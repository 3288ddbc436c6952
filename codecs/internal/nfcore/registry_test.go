package nfcore

import (
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/flow"
)

// TestRegistryAgreesWithFields: every IPFIX element the project's field
// registry (flow/fields.csv) names has the same name here, and the
// decoder maps it (to a field or, kept, to Extra). postVlanId is the one
// listed difference: fields.csv gives it to dst_vid; we keep it in Extra
// and fill the destination VLAN from the RFC 5103 reverse vlanId, since
// postVlanId is the egress VLAN of the same packets, not the reverse
// direction's. interfaceName goes to Extra too: fields.csv gives it to
// inf, the Argus 5 monitor's 4-character interface id, and exporters send
// names of any length for the flow's interface.
func TestRegistryAgreesWithFields(t *testing.T) {
	n := 0
	for _, f := range flow.Fields {
		if f.IPFIX == "" {
			continue
		}
		for _, ie := range strings.Split(f.IPFIX, "|") {
			name, num, ok := strings.Cut(ie, "=")
			if !ok {
				t.Errorf("%s: %q", f.Name, ie)
				continue
			}
			var pen uint64
			if p, id, ok := strings.Cut(num, "/"); ok {
				pen, _ = strconv.ParseUint(p, 10, 32)
				num = id
			}
			id, err := strconv.ParseUint(num, 10, 16)
			if err != nil {
				t.Errorf("%s: %q", f.Name, ie)
				continue
			}
			n++
			got := Name(uint32(pen), uint16(id))
			if got != name {
				t.Errorf("%s: element %d/%d is %q here, %q in fields.csv", f.Name, pen, id, got, name)
			}
			e, _ := Lookup(uint32(pen), uint16(id))
			if e != nil && e.Op == OpExtra && name != "postVlanId" && name != "interfaceName" {
				t.Errorf("%s: %s has no field here", f.Name, name)
			}
		}
	}
	t.Logf("%d elements checked", n)
}
