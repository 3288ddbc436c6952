//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the file-backed part of our resident set (RssFile in
// /proc/self/status), in bytes.
func rssFile(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestMappedRSS reads a 64 MiB capture through the mapping: the pages read
// go back to the kernel as the reading goes on, so our resident set grows
// by a few chunks at most, not by the size of the file.
func TestMappedRSS(t *testing.T) {
	const frames, size = 44000, 1500
	p := filepath.Join(t.TempDir(), "big.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.Write(buildPcap(binary.LittleEndian, false, uint32(LinkEthernet), nil))
	for i := range frames {
		var h [16]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(i))
		binary.LittleEndian.PutUint32(h[8:], size)
		binary.LittleEndian.PutUint32(h[12:], size)
		w.Write(h[:])
		w.Write(payload(i, size))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	before := rssFile(t)
	src, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.(*pcapReader).mapped == nil {
		t.Fatal("the capture is not mapped")
	}
	var grew int64
	var fr Frame
	for i := 0; ; i++ {
		err := src.ReadFrame(&fr)
		if err == io.EOF {
			if i != frames {
				t.Fatalf("%d frames, want %d", i, frames)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fr.Data, payload(i, size)) || fr.TS != int64(i)*1e9 {
			t.Fatalf("frame %d: wrong data or time %d", i, fr.TS)
		}
		if i%1000 == 0 {
			grew = max(grew, rssFile(t)-before)
		}
	}
	const limit = dropChunk + populateAhead + touchAhead + 8<<20
	t.Logf("file %d MiB; resident set grew by %d MiB at most (limit %d MiB)", frames*(size+16)>>20, grew>>20, limit>>20)
	if grew > limit {
		t.Fatalf("the resident set grew by %d bytes reading a %d-byte file", grew, frames*(size+16))
	}
}
