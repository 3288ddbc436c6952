package mappings

// Slots is the Sink a text writer gives Plan.Encode: it keeps the values
// of one record by slot, and which slots that record filled, without
// clearing anything between records (a generation number marks them).
type Slots struct {
	vals [][]byte
	gen  []uint32
	cur  uint32
}

// NewSlots returns Slots for a plan of n columns.
func NewSlots(n int) Slots {
	return Slots{vals: make([][]byte, n), gen: make([]uint32, n)}
}

// Next starts a record: every slot is empty again.
func (s *Slots) Next() {
	s.cur++
	if s.cur == 0 { // wrapped: the old marks could match again
		clear(s.gen)
		s.cur = 1
	}
}

// Put implements Sink.
func (s *Slots) Put(slot int, v []byte) {
	if slot >= 0 && slot < len(s.vals) {
		s.vals[slot], s.gen[slot] = v, s.cur
	}
}

// Has reports whether the record filled slot.
func (s *Slots) Has(slot int) bool { return s.gen[slot] == s.cur }

// Get returns slot's value for the record (nil when it has none).
func (s *Slots) Get(slot int) ([]byte, bool) {
	if s.gen[slot] != s.cur {
		return nil, false
	}
	return s.vals[slot], true
}
