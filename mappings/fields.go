package mappings

// FieldInfo describes one canonical field a mapping can name.
type FieldInfo struct {
	Name string
	Kind Kind
	Bits uint8 // KindUint width
	// Derived: a total (bytes, pkts, app_bytes) computed from the
	// per-direction fields; written out, never read in.
	Derived bool
}

// CanonicalFields lists every canonical field a mapping can name, in
// Check's order (flow/fields.csv order: ra's columns, then the fields ra
// has no column for), for tools that go over all of them (convert
// --report, the conformance matrix). A field's index is its id in a
// FieldSet (FieldID, FieldName).
func CanonicalFields() []FieldInfo {
	names := canonicalOrder()
	out := make([]FieldInfo, len(names))
	for i, n := range names {
		a := accessors[n]
		out[i] = FieldInfo{Name: n, Kind: a.kind, Bits: a.bits, Derived: a.readOnly}
	}
	return out
}
