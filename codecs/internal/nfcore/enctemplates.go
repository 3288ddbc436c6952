package nfcore

import (
	"time"

	"github.com/flowgate/flowgate/flow"
)

// FirstTemplateID is the first data template id (v9 and IPFIX reserve
// the ids below 256).
const FirstTemplateID = 256

// EncTemplates is an encoder's template ids, shared by the v9 and IPFIX
// encoders: one id per distinct field list, at most Max of them; past
// Max the least recently used id gets the new field list (and must go
// out again, with it, before its next use: its generation changes, so
// every domain's TemplateSends forgets having sent it).
type EncTemplates struct {
	Max       int
	Redefined uint64 // ids given a new field list
	tpls      []encTemplate
	tick      uint64
	last      int // index of the template last used + 1, 0 none
}

type encTemplate struct {
	id     uint16
	gen    uint32 // 1 + times redefined
	used   uint64 // tick of the last use
	fields []EncField
}

// Index returns the index of the template for fields, adding or
// redefining one when no template has them.
func (t *EncTemplates) Index(fields []EncField) int {
	t.tick++
	if t.last > 0 && SameFields(t.tpls[t.last-1].fields, fields) {
		t.tpls[t.last-1].used = t.tick
		return t.last - 1
	}
	for i := range t.tpls {
		if SameFields(t.tpls[i].fields, fields) {
			t.last, t.tpls[i].used = i+1, t.tick
			return i
		}
	}
	if len(t.tpls) < t.Max {
		t.tpls = append(t.tpls, encTemplate{id: uint16(FirstTemplateID + len(t.tpls)), gen: 1, used: t.tick,
			fields: append([]EncField(nil), fields...)})
		t.last = len(t.tpls)
		return t.last - 1
	}
	lru := 0
	for i := range t.tpls {
		if t.tpls[i].used < t.tpls[lru].used {
			lru = i
		}
	}
	x := &t.tpls[lru]
	x.fields, x.used = append(x.fields[:0], fields...), t.tick
	x.gen++
	t.Redefined++
	t.last = lru + 1
	return lru
}

// ID returns template i's id.
func (t *EncTemplates) ID(i int) uint16 { return t.tpls[i].id }

// Fields returns template i's field list.
func (t *EncTemplates) Fields(i int) []EncField { return t.tpls[i].fields }

// TemplateSends records, for one domain (v9 source id), when each
// template last went out.
type TemplateSends struct{ s []templateSent }

type templateSent struct {
	gen uint32 // the template's generation when sent, 0 never
	at  int64  // Unix ns of the send
	msg uint64 // the domain's message count then
}

// Need says whether template i must go into the domain's message number
// msgs (built at now): never sent in its current definition, or not in
// this message and due for its refresh by message count (packets) or
// time (every); 0 turns a refresh off.
func (s *TemplateSends) Need(t *EncTemplates, i int, msgs uint64, now int64, packets uint64, every time.Duration) bool {
	if i >= len(s.s) || s.s[i].gen != t.tpls[i].gen {
		return true
	}
	x := &s.s[i]
	if x.msg == msgs { // already in this message
		return false
	}
	return packets > 0 && msgs-x.msg >= packets || every > 0 && now-x.at >= int64(every)
}

// Sent records that template i went into message msgs at now.
func (s *TemplateSends) Sent(t *EncTemplates, i int, msgs uint64, now int64) {
	for len(s.s) <= i {
		s.s = append(s.s, templateSent{})
	}
	s.s[i] = templateSent{gen: t.tpls[i].gen, at: now, msg: msgs}
}

// RevOnly says whether r carries reverse-direction values besides the
// counts (a reverse TOS, VLAN or TCP flags), which the encoders can write
// only for a flow with reverse counts.
func RevOnly(r *flow.Record) bool {
	return r.Has&flow.HasIPAttr != 0 && r.IPAttr.Present&2 != 0 && r.IPAttr.TOS[flow.Dst] != 0 ||
		r.Has&flow.HasVLAN != 0 && r.VLAN.Present&2 != 0 && r.VLAN.TCI[flow.Dst] != 0 ||
		r.Has&flow.HasTCP != 0 && r.TCP.Side[flow.Dst].Flags != 0
}
