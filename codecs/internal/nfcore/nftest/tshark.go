package nftest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
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

// WritePcap writes each payload as one UDP datagram (Ethernet, IPv4,
// UDP with checksums) from 192.0.2.1:5000 to 192.0.2.2:port.
func WritePcap(t testing.TB, path string, payloads [][]byte, port uint16) {
	t.Helper()
	var out []byte
	le := binary.LittleEndian
	var fh [24]byte
	le.PutUint32(fh[0:], 0xa1b2c3d4)
	le.PutUint16(fh[4:], 2)
	le.PutUint16(fh[6:], 4)
	le.PutUint32(fh[16:], 65535)
	le.PutUint32(fh[20:], 1) // Ethernet
	out = append(out, fh[:]...)
	for i, p := range payloads {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}, Id: uint16(i)}
		udp := &layers.UDP{SrcPort: 5000, DstPort: layers.UDPPort(port)}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(p)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		var rh [16]byte
		le.PutUint32(rh[0:], uint32(1700000000+i))
		le.PutUint32(rh[8:], uint32(len(b)))
		le.PutUint32(rh[12:], uint32(len(b)))
		out = append(append(out, rh[:]...), b...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TsMsg is tshark's decode of one message: header values, data records
// ("Flow n" of every data set, in order) and expert/malformed entries.
// Values are lists: a forward and a reverse (RFC 5103) element print
// under the same name (tshark --no-duplicate-keys).
type TsMsg struct {
	Hdr    map[string][]string
	Flows  []map[string][]string
	Sets   []string // flowset ids in order
	Expert []string
}

func tsFlatten(v map[string]any, m map[string][]string, expert *[]string) {
	for k, x := range v {
		if strings.HasPrefix(k, "_ws.expert") || strings.HasPrefix(k, "_ws.malformed") {
			msg := ""
			if xm, ok := x.(map[string]any); ok {
				msg, _ = xm["_ws.expert.message"].(string)
			}
			if msg != "" || strings.HasPrefix(k, "_ws.malformed") {
				*expert = append(*expert, k+": "+msg)
			}
		}
		switch x := x.(type) {
		case string:
			m[k] = append(m[k], x)
		case []any:
			for _, y := range x {
				switch y := y.(type) {
				case string:
					m[k] = append(m[k], y)
				case map[string]any:
					tsFlatten(y, m, expert)
				}
			}
		case map[string]any:
			if !(strings.HasPrefix(k, "Set ") || strings.HasPrefix(k, "FlowSet ")) && !strings.HasPrefix(k, "Flow ") {
				tsFlatten(x, m, expert)
			}
		}
	}
}

func tsNum(k string) int {
	n := 0
	f := strings.Fields(k)
	if len(f) > 1 {
		for _, c := range f[1] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
	}
	return n
}

// Tshark runs tshark 4.0 on the messages, sent to UDP port port and
// decoded as cflow, and returns its decode; tplSet is the template set id
// (IPFIX 2, v9 0), whose sets it names "id:template id". It skips the test
// when tshark is missing.
func Tshark(t testing.TB, payloads [][]byte, port uint16, tplSet string) []TsMsg {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	path := filepath.Join(t.TempDir(), "export.pcap")
	WritePcap(t, path, payloads, port)
	cmd := exec.Command("tshark", "-n", "-r", path, "-d", fmt.Sprintf("udp.port==%d,cflow", port), "-T", "json", "--no-duplicate-keys")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	var raw []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatal(err)
	}
	var out []TsMsg
	for _, p := range raw {
		m := TsMsg{Hdr: map[string][]string{}}
		for name, l := range p.Source.Layers {
			lm, ok := l.(map[string]any)
			if !ok {
				continue
			}
			if strings.HasPrefix(name, "_ws.") {
				m.Expert = append(m.Expert, name)
			}
			tsFlatten(lm, m.Hdr, &m.Expert)
			if name != "cflow" {
				continue
			}
			var sets []string
			for k := range lm {
				if strings.HasPrefix(k, "Set ") || strings.HasPrefix(k, "FlowSet ") {
					sets = append(sets, k)
				}
			}
			sort.Slice(sets, func(i, j int) bool { return tsNum(sets[i]) < tsNum(sets[j]) })
			for _, s := range sets {
				sm, _ := lm[s].(map[string]any)
				id, _ := sm["cflow.flowset_id"].(string)
				if id == tplSet {
					for k, v := range sm {
						if tm, ok := v.(map[string]any); ok && strings.HasPrefix(k, "Template (") {
							tid, _ := tm["cflow.template_id"].(string)
							id += ":" + tid
						}
					}
				}
				m.Sets = append(m.Sets, id)
				var flows []string
				for k := range sm {
					if strings.HasPrefix(k, "Flow ") {
						flows = append(flows, k)
					}
				}
				sort.Slice(flows, func(i, j int) bool { return tsNum(flows[i]) < tsNum(flows[j]) })
				for _, f := range flows {
					fm := map[string][]string{}
					tsFlatten(sm[f].(map[string]any), fm, &m.Expert)
					m.Flows = append(m.Flows, fm)
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// TsTime reads a time as tshark prints it, to Unix ns.
func TsTime(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse("Jan 2, 2006 15:04:05.999999999 MST", strings.Join(strings.Fields(s), " "))
	if err != nil {
		t.Fatalf("tshark time %q: %v", s, err)
	}
	return tm.UnixNano()
}
