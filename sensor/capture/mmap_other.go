//go:build !linux

package capture

import "os"

// mapFile: files are mapped on Linux only; elsewhere they are read through
// a buffer.
func mapFile(*os.File) []byte { return nil }

func unmap([]byte) {}

func release(_ []byte, from, _ int) int { return from }

func populate(m []byte, _, _ int) int { return len(m) }
