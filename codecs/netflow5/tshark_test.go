package netflow5

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tsharkPort is the UDP port our test captures use; tshark is told to
// dissect it as cflow.
const tsharkPort = 2055

// writeExportPcap writes each payload as one UDP datagram (with Ethernet,
// IPv4 and UDP headers and checksums) from 192.0.2.1:5000 to
// 192.0.2.2:tsharkPort into a pcap file.
func writeExportPcap(t testing.TB, path string, payloads [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// pcap file header (microsecond magic, v2.4, snaplen 65535, Ethernet).
	var fh [24]byte
	le := binary.LittleEndian
	le.PutUint32(fh[0:], 0xa1b2c3d4)
	le.PutUint16(fh[4:], 2)
	le.PutUint16(fh[6:], 4)
	le.PutUint32(fh[16:], 65535)
	le.PutUint32(fh[20:], 1)
	out := fh[:]
	ts := time.Unix(1700000000, 0)
	for i, p := range payloads {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}, Id: uint16(i)}
		udp := &layers.UDP{SrcPort: 5000, DstPort: tsharkPort}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(p)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		var rh [16]byte
		at := ts.Add(time.Duration(i) * time.Millisecond)
		le.PutUint32(rh[0:], uint32(at.Unix()))
		le.PutUint32(rh[4:], uint32(at.Nanosecond()/1000))
		le.PutUint32(rh[8:], uint32(len(b)))
		le.PutUint32(rh[12:], uint32(len(b)))
		out = append(append(out, rh[:]...), b...)
	}
	if _, err := f.Write(out); err != nil {
		t.Fatal(err)
	}
}

// tsharkPacket is tshark's cflow layer of one packet: header fields and
// the flow records ("pdu i/n") in order, values as tshark prints them.
type tsharkPacket struct {
	Hdr  map[string]string
	PDUs []map[string]string
	// Expert holds the expert-info and malformed entries tshark added.
	Expert []string
}

// flatten copies string leaves of a tshark JSON tree into m (subtrees
// such as "cflow.timestamp_tree" are merged in).
func flatten(v map[string]any, m map[string]string, expert *[]string) {
	for k, x := range v {
		switch x := x.(type) {
		case string:
			m[k] = x
			if strings.HasPrefix(k, "_ws.expert") || strings.HasPrefix(k, "_ws.malformed") {
				*expert = append(*expert, k+"="+x)
			}
		case map[string]any:
			if strings.HasPrefix(k, "_ws.expert") || strings.HasPrefix(k, "_ws.malformed") {
				*expert = append(*expert, k)
			}
			if !strings.HasPrefix(k, "pdu ") {
				flatten(x, m, expert)
			}
		}
	}
}

// parseTshark reads `tshark -T json` output.
func parseTshark(t testing.TB, js []byte) []tsharkPacket {
	t.Helper()
	var raw []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	var out []tsharkPacket
	for _, p := range raw {
		var tp tsharkPacket
		tp.Hdr = map[string]string{}
		for name, l := range p.Source.Layers {
			lm, ok := l.(map[string]any)
			if !ok {
				continue
			}
			if name != "cflow" {
				var ignore = map[string]string{}
				flatten(lm, ignore, &tp.Expert)
				continue
			}
			flatten(lm, tp.Hdr, &tp.Expert)
			var keys []string
			for k := range lm {
				if strings.HasPrefix(k, "pdu ") {
					keys = append(keys, k)
				}
			}
			// "pdu 10/30" sorts after "pdu 9/30" by number.
			sort.Slice(keys, func(i, j int) bool { return pduNum(keys[i]) < pduNum(keys[j]) })
			for _, k := range keys {
				m := map[string]string{}
				flatten(lm[k].(map[string]any), m, &tp.Expert)
				tp.PDUs = append(tp.PDUs, m)
			}
		}
		if _, ok := p.Source.Layers["_ws.malformed"]; ok {
			tp.Expert = append(tp.Expert, "_ws.malformed")
		}
		out = append(out, tp)
	}
	return out
}

func pduNum(k string) int {
	n := 0
	for _, c := range strings.TrimPrefix(k, "pdu ") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// tsharkFile returns tshark's decode of a capture file (UDP port 2055 as cflow).
func tsharkFile(t testing.TB, path string) []tsharkPacket {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-d", "udp.port==2055,cflow", "-T", "json").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return parseTshark(t, out)
}

// runTshark writes payloads into a pcap and returns tshark's decode.
func runTshark(t testing.TB, payloads [][]byte) []tsharkPacket {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	path := filepath.Join(t.TempDir(), "export.pcap")
	writeExportPcap(t, path, payloads)
	cmd := exec.Command("tshark", "-n", "-r", path, "-d", "udp.port==2055,cflow", "-T", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	return parseTshark(t, out)
}
