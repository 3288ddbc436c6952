package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/sensor/capture"
)

// framable says whether a payload is one whole message by rawFrame's
// rules, read alone.
func framable(b []byte) bool {
	n, err := rawFrame(b, FormatNF, true)
	return err == nil && n == len(b)
}

// TestRawMessageFiles: the flowbeat payloads of each version, written one
// after another into a raw message file, come back one by one, whole.
func TestRawMessageFiles(t *testing.T) {
	dats := corpusDat(t)
	dir := t.TempDir()
	for _, f := range []Format{FormatNF5, FormatNF9, FormatIPFIX, FormatNF} {
		var want [][]byte
		var file []byte
		for _, b := range dats {
			v := MessageVersion(b)
			if f != FormatNF && v != map[Format]uint16{FormatNF5: 5, FormatNF9: 9, FormatIPFIX: 10}[f] || !framable(b) {
				continue
			}
			want = append(want, b)
			file = append(file, b...)
		}
		// Enough copies to cross the reader's window several times.
		for len(file) < 1<<20 {
			file = append(file, file...)
			want = append(want, want...)
		}
		name := filepath.Join(dir, string(f)+".raw")
		if err := os.WriteFile(name, file, 0o644); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		var off int64
		_, err := ReadMessages(name, f, func(batch []Message) error {
			for _, m := range batch {
				if m.Pos != off {
					return fmt.Errorf("message at %d, want %d", m.Pos, off)
				}
				off += int64(len(m.Data))
				got = append(got, append([]byte(nil), m.Data...))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, want %d", f, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: message %d differs", f, i)
			}
		}
		t.Logf("%s: %d messages, %d bytes", f, len(got), len(file))
	}
}

// TestRawMessageFramingErrors: a file that cannot be cut into messages
// fails with the offset of the place.
func TestRawMessageFramingErrors(t *testing.T) {
	dir := t.TempDir()
	ipfix := []byte{0, 10, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		f    Format
		data []byte
		off  int64
		want error
	}{
		{"wrong version", FormatIPFIX, append(append([]byte{}, ipfix...), 0, 9, 0, 1), 20, ErrFraming},
		{"short length", FormatIPFIX, append(append([]byte{}, ipfix...), 0, 10, 0, 8, 0, 0), 20, ErrFraming},
		{"cut", FormatIPFIX, append(append([]byte{}, ipfix...), ipfix[:18]...), 20, codecs.ErrTruncated},
		{"v9 flowset length 0", FormatNF9, []byte{0, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 0, ErrFraming},
		{"v5 cut", FormatNF5, []byte{0, 5, 0, 1, 0, 0, 0, 0}, 0, codecs.ErrTruncated},
		{"not netflow", FormatIPFIX, []byte("hello, world"), 0, ErrFraming},
	} {
		name := filepath.Join(dir, "x")
		os.WriteFile(name, tc.data, 0o644)
		n := 0
		_, err := ReadMessages(name, tc.f, func(b []Message) error { n += len(b); return nil })
		var de *codecs.DecodeError
		if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Offset != tc.off || de.File != name {
			t.Errorf("%s: err = %v, want %v at offset %d", tc.name, err, tc.want, tc.off)
		}
	}
}

// exportPcaps lists one capture per generated export variant.
func exportPcaps(t testing.TB) []string {
	c := os.Getenv("FLOWGATE_CORPUS")
	if c == "" {
		t.Skip("FLOWGATE_CORPUS not set: needs generated/exports")
	}
	var out []string
	dirs, _ := filepath.Glob(filepath.Join(c, "generated", "exports", "*", "pcap"))
	for _, d := range dirs {
		fs, _ := filepath.Glob(filepath.Join(d, "*.pcap"))
		sort.Strings(fs)
		out = append(out, fs...)
	}
	if len(out) == 0 {
		t.Skip("no export captures")
	}
	return out
}

// TestPcapMessagesTshark: the UDP payloads we take from the export
// captures are those tshark shows, frame by frame, with the same source
// and destination. The captures are concatenated by mergecap into one
// pcapng file, so one tshark run covers them all (and pcapng is read).
func TestPcapMessagesTshark(t *testing.T) {
	pcaps := exportPcaps(t)
	for _, tool := range []string{"tshark", "mergecap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	var nonEmpty []string
	for _, p := range pcaps {
		if fileSize(p) > 24 {
			nonEmpty = append(nonEmpty, p)
		}
	}
	all := filepath.Join(t.TempDir(), "all.pcapng")
	if out, err := exec.Command("mergecap", append([]string{"-a", "-F", "pcapng", "-w", all}, nonEmpty...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v\n%s", err, out)
	}
	out, err := exec.Command("tshark", "-r", all, "-n", "-d", "udp.port==1-65535,data", "-T", "fields", "-E", "separator=,",
		"-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport", "-e", "data.data", "-Y", "udp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ",")
		if len(f) != 8 {
			t.Fatalf("tshark line %q", l)
		}
		want = append(want, fmt.Sprintf("%s %s:%s %s:%s %s", f[0], f[1]+f[2], f[3], f[4]+f[5], f[6], f[7]))
	}
	var got []string
	skipped, err := ReadMessages(all, FormatNF, func(b []Message) error {
		for _, m := range b {
			got = append(got, fmt.Sprintf("%d %s:%d %s:%d %x", m.Pos, m.From.Addr(), m.From.Port(), m.To.Addr(), m.To.Port(), m.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d payloads, tshark %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("payload %d:\n got %.150s\nwant %.150s", i, got[i], want[i])
		}
	}
	t.Logf("%d captures, %d payloads, skipped %v", len(nonEmpty), len(got), skipped)
}

// TestFileSource: a capture decodes message by message with the
// exporter from the packet, and the counters add up.
func TestFileSource(t *testing.T) {
	pcaps := exportPcaps(t)
	sort.Slice(pcaps, func(i, j int) bool { return fileSize(pcaps[i]) > fileSize(pcaps[j]) })
	src, err := OpenFile(pcaps[0], FormatNF, newFakeDecoders())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var recs []flow.Record
	err = src.Serve(context.Background(), func(r []flow.Record) error {
		n += len(r)
		for i := range r {
			recs = append(recs, r[i])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if n == 0 || uint64(n)+st.Errors != st.Messages || st.FirstTS == 0 || st.LastTS < st.FirstTS {
		t.Fatalf("records %d, stats %+v", n, st)
	}
	if !recs[0].Exporter.IsValid() {
		t.Errorf("exporter missing: %v", recs[0].Exporter)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "none"), FormatNF, newFakeDecoders()); err == nil {
		t.Error("a missing file opened")
	}
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestUDPPayloadFrames: link layers and the frames that are not export
// messages, built by hand from RFC 791/8200/768 layouts.
func TestUDPPayloadFrames(t *testing.T) {
	udp := []byte{0x08, 0x07, 0x08, 0x13, 0, 12, 0, 0, 0, 10, 0, 4} // 2055 -> 2067, 4 bytes of payload
	ip4 := func(flags uint16, proto byte, l4 []byte) []byte {
		h := []byte{0x45, 0, 0, 0, 0, 1, byte(flags >> 8), byte(flags), 64, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2}
		h[3] = byte(20 + len(l4))
		return append(h, l4...)
	}
	ip6 := func(next byte, ext, l4 []byte) []byte {
		h := make([]byte, 40)
		h[0] = 0x60
		h[5] = byte(len(ext) + len(l4))
		h[6] = next
		h[8], h[9], h[23] = 0x20, 0x01, 1
		h[24], h[25], h[39] = 0x20, 0x01, 2
		return append(append(h, ext...), l4...)
	}
	eth := func(et uint16, p []byte) []byte {
		return append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, byte(et >> 8), byte(et)}, p...)
	}
	vlan := func(p []byte) []byte { // 802.1Q tag 100 around p's EtherType
		return append(append(append([]byte{}, p[:12]...), 0x81, 0, 0, 100), p[12:]...)
	}
	for _, tc := range []struct {
		name string
		link uint16
		data []byte
		why  string
		from string
	}{
		{"ipv4", 1, eth(0x0800, ip4(0, 17, udp)), "", "192.0.2.1:2055"},
		{"ipv4 padded", 1, eth(0x0800, append(ip4(0, 17, udp), 0, 0, 0, 0, 0, 0)), "", "192.0.2.1:2055"},
		{"vlan", 1, vlan(eth(0x0800, ip4(0, 17, udp))), "", "192.0.2.1:2055"},
		{"ipv6 hop-by-hop", 1, eth(0x86dd, ip6(0, []byte{17, 0, 0, 0, 0, 0, 0, 0}, udp)), "", "[2001::1]:2055"},
		{"raw ipv6", 101, ip6(17, nil, udp), "", "[2001::1]:2055"},
		{"sll", 113, append([]byte{0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0}, ip4(0, 17, udp)...), "", "192.0.2.1:2055"},
		{"null", 0, append([]byte{2, 0, 0, 0}, ip4(0, 17, udp)...), "", "192.0.2.1:2055"},
		{"tcp", 1, eth(0x0800, ip4(0, 6, udp)), SkipNotUDP, ""},
		{"arp", 1, eth(0x0806, make([]byte, 28)), SkipNotUDP, ""},
		{"first fragment", 1, eth(0x0800, ip4(0x2000, 17, udp)), SkipFragment, ""},
		{"later fragment", 1, eth(0x0800, ip4(0x0010, 17, udp)), SkipFragment, ""},
		{"ipv6 fragment", 1, eth(0x86dd, ip6(44, make([]byte, 8), udp)), SkipFragment, ""},
		{"snapped", 1, eth(0x0800, ip4(0, 17, udp))[:14+20+10], SkipSnapped, ""},
		{"short ip", 1, eth(0x0800, []byte{0x45, 0}), SkipMalformed, ""},
		{"udp length 3", 1, eth(0x0800, ip4(0, 17, []byte{0, 1, 0, 2, 0, 3, 0, 0})), SkipMalformed, ""},
		{"802.11", 105, make([]byte, 60), SkipLinkType, ""},
	} {
		m := Message{}
		why := udpPayload(&capture.Frame{Data: tc.data, LinkType: tc.link}, &m)
		if why != tc.why {
			t.Errorf("%s: %q, want %q", tc.name, why, tc.why)
			continue
		}
		if why == "" && (m.From.String() != tc.from || !bytes.Equal(m.Data, []byte{0, 10, 0, 4})) {
			t.Errorf("%s: from %s data % x", tc.name, m.From, m.Data)
		}
	}
}

// FuzzRawFrame: framing any bytes never panics, never claims more bytes
// than it has, and a claimed message starts with its format's version.
func FuzzRawFrame(f *testing.F) {
	f.Add([]byte{0, 10, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(3), true)
	f.Add([]byte{0, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 8, 0, 0, 0, 0, 0, 9}, uint8(2), false)
	f.Add([]byte{0, 5, 0, 1}, uint8(1), true)
	formats := []Format{FormatNF, FormatNF5, FormatNF9, FormatIPFIX}
	f.Fuzz(func(t *testing.T, b []byte, fi uint8, eof bool) {
		fm := formats[int(fi)%len(formats)]
		n, err := rawFrame(b, fm, eof)
		if err != nil {
			return
		}
		if n > len(b) || n < 0 || n > maxMessage {
			t.Fatalf("rawFrame claimed %d of %d bytes", n, len(b))
		}
		if n > 0 && MessageVersion(b) != 5 && MessageVersion(b) != 9 && MessageVersion(b) != 10 {
			t.Fatalf("message of version %d", MessageVersion(b))
		}
	})
}

// FuzzUDPPayload: any frame of any link type gives a payload inside the
// frame, or a reason, never a panic.
func FuzzUDPPayload(f *testing.F) {
	udp := []byte{0x08, 0x07, 0x08, 0x13, 0, 12, 0, 0, 0, 10, 0, 4}
	ip := append([]byte{0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2}, udp...)
	f.Add(append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0}, ip...), uint16(1))
	f.Add(ip, uint16(101))
	f.Add(append([]byte{2, 0, 0, 0}, ip...), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, link uint16) {
		var m Message
		fr := capture.Frame{Data: b, LinkType: link}
		if why := udpPayload(&fr, &m); why == "" {
			if len(m.Data) > len(b) || !m.From.IsValid() {
				t.Fatalf("payload %d of %d bytes, from %v", len(m.Data), len(b), m.From)
			}
		}
	})
}
