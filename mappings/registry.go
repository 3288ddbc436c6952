package mappings

import (
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/flow"
)

// Element is an IPFIX information element or a NetFlow v9 field type.
type Element struct {
	Name       string
	Enterprise uint32 // 0 for IANA; 29305 for RFC 5103 reverse elements
	ID         uint16
}

// Elements named by flow/fields.csv's ipfix and netflow9 columns, plus the
// IANA elements and Cisco v9 types the built-ins use that no canonical
// field names. The test compares the IPFIX names with calmh/ipfix's IANA
// dictionary.
var (
	ipfixByName = map[string]Element{}
	ipfixByNum  = map[[2]uint32]Element{}
	nf9ByName   = map[string]Element{}
	nf9ByNum    = map[uint32]Element{}
)

var extraIPFIX = []string{
	"flowStartSeconds=150", "flowEndSeconds=151", "flowStartMicroseconds=154",
	"flowEndMicroseconds=155", "flowStartNanoseconds=156", "flowEndNanoseconds=157",
	"ipVersion=60", "icmpTypeCodeIPv4=32", "icmpTypeCodeIPv6=139",
}

var extraNF9 = []string{"IP_PROTOCOL_VERSION=60", "ICMP_TYPE=32"}

func init() {
	var ip, nf []string
	for _, f := range append(flow.Fields[:], flow.RecordFields[:]...) {
		if f.IPFIX != "" {
			ip = append(ip, strings.Split(f.IPFIX, "|")...)
		}
		if f.NetFlow9 != "" {
			nf = append(nf, strings.Split(f.NetFlow9, "|")...)
		}
	}
	for _, s := range append(ip, extraIPFIX...) {
		if e, ok := parseElemSpec(s); ok {
			ipfixByName[e.Name] = e
			ipfixByNum[[2]uint32{e.Enterprise, uint32(e.ID)}] = e
		}
	}
	for _, s := range append(nf, extraNF9...) {
		if e, ok := parseElemSpec(s); ok {
			nf9ByName[e.Name] = e
			nf9ByNum[uint32(e.ID)] = e
		}
	}
}

// parseElemSpec reads "name=id" or "name=pen/id".
func parseElemSpec(s string) (Element, bool) {
	name, num, ok := strings.Cut(s, "=")
	if !ok {
		return Element{}, false
	}
	pen, id, ok := parseNum(num)
	return Element{Name: name, Enterprise: pen, ID: id}, ok
}

// parseNum reads "id" or "pen/id".
func parseNum(s string) (pen uint32, id uint16, ok bool) {
	if p, i, found := strings.Cut(s, "/"); found {
		pv, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return 0, 0, false
		}
		iv, err := strconv.ParseUint(i, 10, 15) // the enterprise bit is not part of the id
		return uint32(pv), uint16(iv), err == nil
	}
	iv, err := strconv.ParseUint(s, 10, 16)
	return 0, uint16(iv), err == nil
}

// ResolveIPFIX finds an IPFIX element by name, number or enterprise/number.
// A number the table does not know is accepted as is (the codec carries
// such values in Extra); a name must be known.
func ResolveIPFIX(s string) (Element, bool) {
	if e, ok := ipfixByName[s]; ok {
		return e, true
	}
	if pen, id, ok := parseNum(s); ok {
		if e, ok := ipfixByNum[[2]uint32{pen, uint32(id)}]; ok {
			return e, true
		}
		return Element{Name: s, Enterprise: pen, ID: id}, true
	}
	return Element{}, false
}

// ResolveNetFlow9 finds a NetFlow v9 field type by Cisco name or number.
func ResolveNetFlow9(s string) (Element, bool) {
	if e, ok := nf9ByName[s]; ok {
		return e, true
	}
	if _, id, ok := parseNum(s); ok && !strings.Contains(s, "/") {
		if e, ok := nf9ByNum[uint32(id)]; ok {
			return e, true
		}
		return Element{Name: s, ID: id}, true
	}
	return Element{}, false
}
