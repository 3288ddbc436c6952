package mappings

import "math/bits"

// MaxFields bounds the number of canonical fields a FieldSet holds.
const MaxFields = 128

// FieldSet is a set of canonical fields by id: the index of the field in
// CanonicalFields (FieldID, FieldName). It is a value of two words, so
// that reporting one per record does not allocate.
type FieldSet [MaxFields / 64]uint64

// Add puts field id in the set.
func (s *FieldSet) Add(id int) { s[id>>6] |= 1 << (id & 63) }

// Has reports whether field id is in the set.
func (s FieldSet) Has(id int) bool { return id >= 0 && id < MaxFields && s[id>>6]&(1<<(id&63)) != 0 }

// Empty reports whether the set has no field.
func (s FieldSet) Empty() bool { return s[0]|s[1] == 0 }

// Len is the number of fields in the set.
func (s FieldSet) Len() int { return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) }

// Union returns the fields in s or t.
func (s FieldSet) Union(t FieldSet) FieldSet { return FieldSet{s[0] | t[0], s[1] | t[1]} }

// Minus returns the fields of s not in t.
func (s FieldSet) Minus(t FieldSet) FieldSet { return FieldSet{s[0] &^ t[0], s[1] &^ t[1]} }

// Next returns the smallest id >= from in the set, or -1:
//
//	for id := s.Next(0); id >= 0; id = s.Next(id + 1) { ... }
func (s FieldSet) Next(from int) int {
	for w := from >> 6; w >= 0 && w < len(s); w++ {
		m := s[w]
		if w == from>>6 {
			m &^= 1<<(from&63) - 1
		}
		if m != 0 {
			return w<<6 | bits.TrailingZeros64(m)
		}
	}
	return -1
}

// Names lists the fields of the set by name, in id order.
func (s FieldSet) Names() []string {
	var out []string
	for id := s.Next(0); id >= 0; id = s.Next(id + 1) {
		out = append(out, FieldName(id))
	}
	return out
}

var fieldNames []string

// FieldName is the canonical name of field id ("" for none).
func FieldName(id int) string {
	if id < 0 || id >= len(fieldNames) {
		return ""
	}
	return fieldNames[id]
}

// FieldID is the id of a canonical field a mapping can name.
func FieldID(name string) (int, bool) {
	a := accessors[name]
	if a == nil {
		return -1, false
	}
	return a.id, true
}

// NumFields is the number of canonical fields (ids are 0 to NumFields-1).
func NumFields() int { return len(fieldNames) }
