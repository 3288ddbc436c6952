package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// wiretapToLinkType maps the Wireshark encapsulation numbers tshark prints
// as frame.encap_type (wiretap's WTAP_ENCAP_*, stable across 4.x) to pcap
// LINKTYPE_* values, for the encapsulations the corpus holds.
var wiretapToLinkType = map[int]uint16{
	1:   LinkEthernet, // WTAP_ENCAP_ETHERNET
	4:   9,            // WTAP_ENCAP_PPP = LINKTYPE_PPP
	7:   LinkRaw,      // WTAP_ENCAP_RAW_IP
	15:  LinkNull,     // WTAP_ENCAP_NULL
	25:  LinkSLL,      // WTAP_ENCAP_SLL
	129: LinkRawIPv4,  // WTAP_ENCAP_RAW_IP4
	130: LinkRawIPv6,  // WTAP_ENCAP_RAW_IP6
}

// corpusCaptures lists every capture (by magic, not by name) under the
// corpus folders the sensor reads.
func corpusCaptures(t testing.TB) []string {
	root := os.Getenv("FLOWGATE_CORPUS")
	if root == "" {
		t.Skip("FLOWGATE_CORPUS is not set: skipping the tshark comparison over the corpus captures")
	}
	var files []string
	for _, dir := range []string{"traffic", "zeek/zeek-btest/traces", "generated/pcaps"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if isCapture(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no captures under %s", root)
	}
	return files
}

func isCapture(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [4]byte
	if _, err := io.ReadFull(f, m[:]); err != nil {
		return false
	}
	switch binary.BigEndian.Uint32(m[:]) {
	case magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap, magicPcapng, magicZstd:
		return true
	}
	return m[0] == 0x1f && m[1] == 0x8b
}

// tsharkFrame is one packet record as tshark reports it.
type tsharkFrame struct {
	time           string // frame.time_epoch, "" when the record has none
	encap          int
	length, caplen int
	ifIndex        int
}

// tsharkRead runs tshark on name and returns its packet records (custom
// blocks, which tshark lists as frames without an encapsulation, left out)
// and whether tshark reported an error reading the file.
func tsharkRead(t *testing.T, tshark, name string) ([]tsharkFrame, bool) {
	cmd := exec.Command(tshark, "-n", "-r", name, "-T", "fields", "-E", "separator=/t",
		"-e", "frame.time_epoch", "-e", "frame.encap_type", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id")
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("tshark: %v", err)
	}
	var frames []tsharkFrame
	for line := range strings.Lines(out.String()) {
		c := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(c) != 5 {
			t.Fatalf("tshark line %q: want 5 fields", line)
		}
		if c[1] == "" {
			continue // not a packet (a custom block)
		}
		var fr tsharkFrame
		fr.time = c[0]
		fr.encap, _ = strconv.Atoi(c[1])
		fr.length, _ = strconv.Atoi(c[2])
		fr.caplen, _ = strconv.Atoi(c[3])
		fr.ifIndex, _ = strconv.Atoi(c[4])
		frames = append(frames, fr)
	}
	return frames, err != nil
}

// epoch prints a Unix-ns time as tshark prints frame.time_epoch.
func epoch(ns int64) string {
	if ns < 0 {
		return fmt.Sprintf("-%d.%09d", -ns/1e9, -ns%1e9)
	}
	return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
}

// readFrame is a frame's metadata, without the data.
type readFrame struct {
	Frame
	caplen int
}

// readAll reads every frame of a file, keeping only the metadata.
func readAll(name string) ([]readFrame, error) {
	src, err := OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var frames []readFrame
	for {
		var f Frame
		err := src.ReadFrame(&f)
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		n := len(f.Data)
		f.Data = nil
		frames = append(frames, readFrame{f, n})
	}
}

// TestTsharkOracle reads every corpus capture and compares, frame by frame,
// the count, timestamps, lengths, link types and interfaces with what tshark
// 4.0 reports for the same file, run now. Where tshark fails on a file
// (gopacket's test901 is malformed on purpose), we must fail too, after the
// same good frames.
func TestTsharkOracle(t *testing.T) {
	files := corpusCaptures(t)
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: skipping the tshark comparison")
	}
	root := os.Getenv("FLOWGATE_CORPUS")
	var nFiles, nFrames, nErrFiles atomic.Int64
	t.Run("files", func(t *testing.T) {
		for _, name := range files {
			rel, _ := filepath.Rel(root, name)
			t.Run(rel, func(t *testing.T) {
				t.Parallel()
				want, tsharkFailed := tsharkRead(t, tshark, name)
				got, err := readAll(name)
				if tsharkFailed != (err != nil) {
					t.Errorf("tshark failed: %v; our error: %v", tsharkFailed, err)
				}
				if err != nil {
					var de interface{ Unwrap() error }
					if !errors.As(err, &de) {
						t.Errorf("error %v is not a DecodeError", err)
					}
					nErrFiles.Add(1)
				}
				if len(got) != len(want) {
					t.Fatalf("%d frames, tshark %d", len(got), len(want))
				}
				for i, w := range want {
					g := got[i]
					wantTime := w.time
					gotTime := epoch(g.TS)
					if wantTime == "" { // simple packet block
						wantTime = epoch(0)
					}
					lt, ok := wiretapToLinkType[w.encap]
					if !ok {
						t.Fatalf("frame %d: tshark encapsulation %d not in wiretapToLinkType (ours: link type %d)", i+1, w.encap, g.LinkType)
					}
					if gotTime != wantTime || g.Len != w.length || g.caplen != w.caplen || lt != g.LinkType || g.IfIndex != w.ifIndex {
						t.Fatalf("frame %d: got time %s len %d caplen %d link %d if %d; tshark time %s len %d caplen %d link %d (encap %d) if %d",
							i+1, gotTime, g.Len, g.caplen, g.LinkType, g.IfIndex, wantTime, w.length, w.caplen, lt, w.encap, w.ifIndex)
					}
				}
				nFiles.Add(1)
				nFrames.Add(int64(len(got)))
			})
		}
	})
	t.Logf("%d of %d captures agree with tshark frame by frame (%d frames; %d files end in an error, as in tshark)",
		nFiles.Load(), len(files), nFrames.Load(), nErrFiles.Load())
}

// TestTsharkOnSamples checks our own small captures (power-of-2 and
// millisecond resolutions, negative if_tsoffset, simple and obsolete packet
// blocks, two sections of different byte order, gzip) against tshark; it
// needs no corpus.
func TestTsharkOnSamples(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: skipping the tshark comparison")
	}
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			p := writeTemp(t, "sample", s.data)
			want, failed := tsharkRead(t, tshark, p)
			if failed {
				t.Fatal("tshark failed on the sample")
			}
			if len(want) != len(s.want) {
				t.Fatalf("tshark reads %d frames, we expect %d", len(want), len(s.want))
			}
			for i, w := range want {
				g := s.want[i]
				wt := w.time
				if wt == "" {
					wt = epoch(0)
				}
				if wt != epoch(g.ts) || w.length != g.length || w.caplen != len(g.data) || wiretapToLinkType[w.encap] != g.linkType {
					t.Errorf("frame %d: tshark time %s len %d caplen %d encap %d; we expect %s len %d caplen %d link %d",
						i+1, w.time, w.length, w.caplen, w.encap, epoch(g.ts), g.length, len(g.data), g.linkType)
				}
			}
		})
	}
}

// TestCorpusWays reads every corpus capture every way readBytes knows
// (mapped and buffered files, frame by frame and in batches, one byte at a
// time) and requires the same frames, data included, and the same error as
// the buffered reader over the bytes in memory; TestTsharkOracle checks
// those against tshark.
func TestCorpusWays(t *testing.T) {
	root := os.Getenv("FLOWGATE_CORPUS")
	for _, name := range corpusCaptures(t) {
		rel, _ := filepath.Rel(root, name)
		t.Run(rel, func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			readBytes(t, b)
		})
	}
}
