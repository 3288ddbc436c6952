//go:build !linux

package track

// mapMem: memory is mapped on Linux only; elsewhere the table's arrays are
// Go slices.
func mapMem(int) (b, m []byte) { return nil, nil }

func unmapMem([]byte) {}
