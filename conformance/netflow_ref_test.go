package conformance

// Expected values for the NetFlow/IPFIX conformance tests, read without our
// own decoders: flowbeat's vendor goldens (dat_tests.yaml + golden/*.json),
// what nfdump 1.7.1 and tshark 4.0 printed for the generated exports, the UDP
// payloads of export captures, and the information-element dictionary of
// calmh/ipfix (IANA registry, RFC 5103 reverse elements) and tehmaze/netflow
// (the names flowbeat's goldens use, including Cisco and Netscaler ones).

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calmh/ipfix"
	"github.com/flowgate/flowgate/sensor/capture"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/tehmaze/netflow/translate"
	"go.yaml.in/yaml/v3"
)

// ---- information elements ----

// ieKey names an information element: PEN 0 for IANA (and NetFlow v9, whose
// field types below 128 are the same numbers), 29305 for RFC 5103 reverse
// elements.
type ieKey struct {
	PEN uint32
	ID  uint16
}

func (k ieKey) String() string {
	if k.PEN == 0 {
		return strconv.Itoa(int(k.ID))
	}
	return fmt.Sprintf("%d/%d", k.PEN, k.ID)
}

const reversePEN = 29305

// ieDef is a dictionary entry; Type uses translate.FieldType's numbering,
// which calmh/ipfix's FieldType shares.
type ieDef struct {
	Key  ieKey
	Name string
	Type translate.FieldType
}

var (
	ieOnce   sync.Once
	ieByKey  map[ieKey]ieDef
	ieByName map[string]ieDef
)

// ieDictionary builds the element tables once: tehmaze/netflow's names
// first (flowbeat's goldens were written with them), then calmh/ipfix's
// IANA and RFC 5103 entries for what tehmaze lacks.
func ieDictionary() (map[ieKey]ieDef, map[string]ieDef) {
	ieOnce.Do(func() {
		ieByKey = map[ieKey]ieDef{}
		ieByName = map[string]ieDef{}
		add := func(d ieDef) {
			if _, ok := ieByKey[d.Key]; !ok {
				ieByKey[d.Key] = d
			}
			if _, ok := ieByName[d.Name]; !ok && d.Name != "" {
				ieByName[d.Name] = d
			}
		}
		tr := translate.NewTranslate(nil)
		for _, pen := range []uint32{0, 9, 5951, 6871} {
			for id := 0; id < 1<<16; id++ {
				if e, ok := tr.Key(translate.Key{EnterpriseID: pen, FieldID: uint16(id)}); ok {
					add(ieDef{Key: ieKey{pen, uint16(id)}, Name: e.Name, Type: e.Type})
				}
			}
		}
		// calmh/ipfix's dictionary is reachable through the interpreter:
		// a template naming every IANA id comes back with names.
		var specs []ipfix.TemplateFieldSpecifier
		for _, pen := range []uint32{0, reversePEN} {
			for id := 1; id < 1024; id++ {
				specs = append(specs, ipfix.TemplateFieldSpecifier{EnterpriseID: pen, FieldID: uint16(id)})
			}
		}
		in := ipfix.NewInterpreter(ipfix.NewSession())
		for _, f := range in.InterpretTemplate(ipfix.TemplateRecord{FieldSpecifiers: specs}) {
			if f.Name == "" {
				continue
			}
			k := ieKey{f.EnterpriseID, f.FieldID}
			typ := translate.Unknown
			if d, ok := ieByKey[ieKey{0, f.FieldID}]; ok {
				typ = d.Type // reverse elements share the forward type
			}
			add(ieDef{Key: k, Name: f.Name, Type: typ})
		}
	})
	return ieByKey, ieByName
}

// ieValue renders an element's raw bytes the way flowbeat's goldens print
// them: integers in decimal, addresses in text, MACs with colons, strings as
// text, octet arrays in base64, dateTime* as Unix nanoseconds in decimal.
func ieValue(d ieDef, b []byte) string {
	switch d.Type {
	case translate.Uint8, translate.Uint16, translate.Uint32, translate.Uint64:
		if len(b) <= 8 {
			return strconv.FormatUint(beUint(b), 10)
		}
	case translate.Int8, translate.Int16, translate.Int32, translate.Int64:
		if len(b) <= 8 && len(b) > 0 {
			v := beUint(b)
			shift := 64 - 8*len(b)
			return strconv.FormatInt(int64(v<<shift)>>shift, 10)
		}
	case translate.Float32:
		if len(b) == 4 {
			return strconv.FormatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 'g', -1, 32)
		}
	case translate.Float64:
		if len(b) == 8 {
			return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(b)), 'g', -1, 64)
		}
	case translate.Boolean:
		if len(b) == 1 {
			return strconv.FormatBool(b[0] == 1)
		}
	case translate.Ipv4Address, translate.Ipv6Address:
		if a, ok := netip.AddrFromSlice(b); ok {
			return a.String()
		}
	case translate.MacAddress:
		if len(b) == 6 {
			return net.HardwareAddr(b).String()
		}
	case translate.String:
		return string(b)
	case translate.DateTimeSeconds:
		if len(b) == 4 {
			return strconv.FormatInt(int64(binary.BigEndian.Uint32(b))*1e9, 10)
		}
	case translate.DateTimeMilliseconds:
		if len(b) == 8 {
			v := binary.BigEndian.Uint64(b)
			if v > math.MaxInt64/1000000 {
				return ieOutOfRange // past 2262: no int64 ns
			}
			return strconv.FormatInt(int64(v)*1e6, 10)
		}
	case translate.DateTimeMicroseconds, translate.DateTimeNanoseconds:
		if len(b) == 8 {
			return strconv.FormatInt(ntpToUnixNano(binary.BigEndian.Uint64(b), d.Type == translate.DateTimeMicroseconds), 10)
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ieOutOfRange is ieValue's text for a time no int64 of ns can hold.
const ieOutOfRange = "out of range"

// ntpToUnixNano converts an RFC 7011 §6.1.9/10 NTP timestamp (seconds since
// 1900 and a binary fraction). The microsecond form carries whole
// microseconds (its low 11 bits are to be ignored): its fraction is cut to
// the microsecond (softflowd's fractions lie a little above the value).
func ntpToUnixNano(v uint64, micro bool) int64 {
	const ntpToUnix = 2208988800
	sec := int64(v>>32) - ntpToUnix
	frac := v & 0xffffffff
	if micro {
		return sec*1e9 + int64(((frac&^0x7ff)*1e6)>>32)*1e3
	}
	return sec*1e9 + int64((frac*1e9)>>32)
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// ---- flowbeat vendor captures ----

type flowbeatCase struct {
	Name   string
	Dats   []string // payload files, in order
	Pcap   string   // or a capture
	Golden string
}

// flowbeatSanitizer is flowbeat's own test name -> golden file name rule.
var flowbeatSanitizer = strings.NewReplacer("-", "--", ":", "-", "/", "-", "+", "-", " ", "-", ",", "")

// flowbeatCases lists every flowbeat test: dat_tests.yaml's sequences and
// the captures that have a golden.
func flowbeatCases(tb testing.TB) (dir string, cases []flowbeatCase) {
	tb.Helper()
	dir = corpusDir(tb, "netflow-exports", "flowbeat")
	raw, err := os.ReadFile(filepath.Join(dir, "dat_tests.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Tests map[string][]string `yaml:"tests"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("dat_tests.yaml: %v", err)
	}
	for name, dats := range doc.Tests {
		cases = append(cases, flowbeatCase{Name: name, Dats: dats,
			Golden: filepath.Join(dir, "golden", flowbeatSanitizer.Replace(name)+".golden.json")})
	}
	pcaps, _ := filepath.Glob(filepath.Join(dir, "pcap", "*.pcap"))
	for _, p := range pcaps {
		g := filepath.Join(dir, "golden", filepath.Base(p)+".golden.json")
		if _, err := os.Stat(g); err == nil {
			cases = append(cases, flowbeatCase{Name: filepath.Base(p), Pcap: p, Golden: g})
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return dir, cases
}

// goldenEvent is one flowbeat event: the element values of one data record
// by element name (times as Unix ns text, see ieValue), its template id and
// the exporter address flowbeat saw.
type goldenEvent struct {
	Template int
	Exporter string
	Values   map[string]string
}

// readFlowbeatGolden returns the events of a golden file and the decode
// error flowbeat recorded (flowbeat stops at the first error).
func readFlowbeatGolden(path string) ([]goldenEvent, string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var doc struct {
		Error  string `json:"error"`
		Events []struct {
			Fields struct {
				Device struct {
					IP string `json:"ip"`
				} `json:"device"`
				Netflow map[string]json.RawMessage `json:"netflow"`
			} `json:"Fields"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	_, byName := ieDictionary()
	var evs []goldenEvent
	for _, e := range doc.Events {
		ev := goldenEvent{Exporter: e.Fields.Device.IP, Values: map[string]string{}}
		for k, v := range e.Fields.Netflow {
			s, err := goldenScalar(v)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %s: %w", path, k, err)
			}
			if k == "template_id" {
				ev.Template, _ = strconv.Atoi(s)
				continue
			}
			// flowbeat prints dateTime* elements as local RFC 3339 times.
			if d, ok := byName[k]; ok && d.Type >= translate.DateTimeSeconds && d.Type <= translate.DateTimeNanoseconds {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					s = strconv.FormatInt(t.UnixNano(), 10)
				}
			}
			ev.Values[k] = s
		}
		evs = append(evs, ev)
	}
	return evs, doc.Error, nil
}

func goldenScalar(v json.RawMessage) (string, error) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return "", err
	}
	switch x := x.(type) {
	case json.Number:
		return x.String(), nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return string(v), nil
}

// flowbeatPayloads returns the datagrams of a case in order, with the
// exporter address flowbeat used (192.0.2.1:4444 for dat files).
func flowbeatPayloads(tb testing.TB, dir string, c flowbeatCase) []udpPayload {
	tb.Helper()
	if c.Pcap != "" {
		return pcapUDPPayloads(tb, c.Pcap)
	}
	var out []udpPayload
	from := netip.MustParseAddrPort("192.0.2.1:4444")
	for _, f := range c.Dats {
		b, err := os.ReadFile(filepath.Join(dir, "dat", f))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, udpPayload{From: from, Data: b, Name: f})
	}
	return out
}

// ---- captures ----

// udpPayload is one export datagram.
type udpPayload struct {
	From netip.AddrPort
	To   netip.AddrPort
	Time time.Time
	Data []byte
	Name string // file and packet number, for messages
}

// pcapUDPPayloads reads the UDP payloads of a capture (Ethernet, Linux
// cooked or raw IP) in order; non-UDP frames are skipped.
func pcapUDPPayloads(tb testing.TB, path string) []udpPayload {
	tb.Helper()
	r, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	var out []udpPayload
	var fr capture.Frame
	for n := 1; ; n++ {
		err := r.ReadFrame(&fr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("%s: packet %d: %v", path, n, err)
		}
		pkt := gopacket.NewPacket(fr.Data, layers.LinkType(fr.LinkType), gopacket.Default)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || pkt.NetworkLayer() == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(pkt.NetworkLayer().NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(pkt.NetworkLayer().NetworkFlow().Dst().Raw())
		out = append(out, udpPayload{
			From: netip.AddrPortFrom(src.Unmap(), uint16(udp.SrcPort)),
			To:   netip.AddrPortFrom(dst.Unmap(), uint16(udp.DstPort)),
			Time: time.Unix(0, fr.TS), Data: append([]byte(nil), udp.Payload...),
			Name: fmt.Sprintf("%s#%d", filepath.Base(path), n),
		})
	}
	return out
}

// ---- flows as the tools print them ----

// nfFlow is what every side of a flow comparison reduces to: the fields
// nfdump's CSV and tshark's decode both show. Times are Unix ns (0: none).
type nfFlow struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Pkts, Bytes      uint64
	RevPkts          uint64
	RevBytes         uint64
	Flags, RevFlags  uint8 // TCP flags, forward and (RFC 5103) reverse
	Start, End       int64
}

func (f nfFlow) key() string {
	if f.Proto == 1 || f.Proto == 58 {
		// ICMP type/code: nfdump puts them in the destination port (CSV
		// and JSON differently), tshark in its own fields; not compared.
		return fmt.Sprintf("%d %s>%s", f.Proto, f.Src, f.Dst)
	}
	return fmt.Sprintf("%d %s:%d>%s:%d", f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort)
}

func (f nfFlow) String() string {
	return fmt.Sprintf("%s pkts %d/%d bytes %d/%d flags %#02x/%#02x %s..%s", f.key(), f.Pkts, f.RevPkts,
		f.Bytes, f.RevBytes, f.Flags, f.RevFlags, fmtNS(f.Start), fmtNS(f.End))
}

func fmtNS(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000")
}

// nfdumpFlags parses nfdump's flag string ("...AP.SF": C E U A P R S F).
func nfdumpFlags(s string) (uint8, error) {
	if len(s) != 8 {
		if n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 8); err == nil {
			return uint8(n), nil
		}
		return 0, fmt.Errorf("tcp flags %q", s)
	}
	var f uint8
	for i, c := range s {
		if c != '.' {
			f |= 0x80 >> i
		}
	}
	return f, nil
}

// parseNfdumpJSON reads `nfdump -o json` output. nfdump 1.7.1 prints times
// in the local zone at millisecond precision; the tests run with TZ=UTC.
func parseNfdumpJSON(b []byte) ([]nfFlow, error) {
	var recs []map[string]any
	// nfdump 1.7.1 prints "[\nNo matching flows\n]" for an empty file.
	b = bytes.Replace(b, []byte("No matching flows"), nil, 1)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&recs); err != nil {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("nfdump json: %w", err)
	}
	var out []nfFlow
	for i, r := range recs {
		if r["type"] != "FLOW" {
			continue
		}
		var f nfFlow
		var err error
		str := func(k string) string { s, _ := r[k].(string); return s }
		num := func(k string) uint64 {
			n, ok := r[k].(json.Number)
			if !ok {
				return 0
			}
			v, e := strconv.ParseUint(n.String(), 10, 64)
			if e != nil && err == nil {
				err = fmt.Errorf("%s %q: %w", k, n, e)
			}
			return v
		}
		for _, k := range []string{"src4_addr", "src6_addr"} {
			if s := str(k); s != "" {
				f.Src, err = netip.ParseAddr(s)
			}
		}
		for _, k := range []string{"dst4_addr", "dst6_addr"} {
			if s := str(k); s != "" && err == nil {
				f.Dst, err = netip.ParseAddr(s)
			}
		}
		f.SrcPort, f.DstPort, f.Proto = uint16(num("src_port")), uint16(num("dst_port")), uint8(num("proto"))
		f.Pkts, f.Bytes = num("in_packets"), num("in_bytes")
		f.RevPkts, f.RevBytes = num("out_packets"), num("out_bytes")
		if s := str("tcp_flags"); s != "" && err == nil {
			f.Flags, err = nfdumpFlags(s)
		}
		for _, t := range []struct {
			k string
			p *int64
		}{{"first", &f.Start}, {"last", &f.End}} {
			if s := str(t.k); s != "" && err == nil {
				var tm time.Time
				tm, err = time.ParseInLocation("2006-01-02T15:04:05.000", s, time.UTC)
				*t.p = tm.UnixNano()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("nfdump json record %d: %w", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseNfdumpCSV reads `nfdump -o csv` (1.7.1: ts,te,td,sa,da,sp,dp,pr,flg,
// fwd,stos,ipkt,ibyt,opkt,obyt,...). Its times have whole seconds only; the
// JSON output has milliseconds, so time comparisons use parseNfdumpJSON and
// this checks that both printers agree on the rest.
func parseNfdumpCSV(b []byte) ([]nfFlow, error) {
	var out []nfFlow
	var col map[string]int
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "Summary" || line == "No matching flows" {
			if line == "Summary" {
				break
			}
			continue
		}
		fs := strings.Split(line, ",")
		if col == nil {
			col = map[string]int{}
			for j, h := range fs {
				col[h] = j
			}
			for _, h := range []string{"ts", "te", "sa", "da", "sp", "dp", "pr", "flg", "ipkt", "ibyt", "opkt", "obyt"} {
				if _, ok := col[h]; !ok {
					return nil, fmt.Errorf("nfdump csv: no column %q in %q", h, line)
				}
			}
			continue
		}
		if len(fs) < len(col) {
			return nil, fmt.Errorf("nfdump csv line %d: %d fields, header has %d", i+1, len(fs), len(col))
		}
		get := func(h string) string { return strings.TrimSpace(fs[col[h]]) }
		var f nfFlow
		var err error
		u := func(h string, bits int) uint64 {
			v, e := strconv.ParseUint(get(h), 10, bits)
			if e != nil && err == nil {
				err = fmt.Errorf("%s: %w", h, e)
			}
			return v
		}
		f.Src, err = netip.ParseAddr(get("sa"))
		if err == nil {
			f.Dst, err = netip.ParseAddr(get("da"))
		}
		f.SrcPort, f.DstPort = uint16(u("sp", 16)), uint16(u("dp", 16))
		f.Proto, err = protoNumber(get("pr"), err)
		f.Pkts, f.Bytes, f.RevPkts, f.RevBytes = u("ipkt", 64), u("ibyt", 64), u("opkt", 64), u("obyt", 64)
		if err == nil {
			f.Flags, err = nfdumpFlags(get("flg"))
		}
		for _, t := range []struct {
			h string
			p *int64
		}{{"ts", &f.Start}, {"te", &f.End}} {
			if err == nil {
				var tm time.Time
				tm, err = time.ParseInLocation("2006-01-02 15:04:05", get(t.h), time.UTC)
				*t.p = tm.UnixNano()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("nfdump csv line %d: %w", i+1, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func protoNumber(s string, err error) (uint8, error) {
	if err != nil {
		return 0, err
	}
	switch strings.ToUpper(s) {
	case "TCP":
		return 6, nil
	case "UDP":
		return 17, nil
	case "ICMP":
		return 1, nil
	case "ICMP6":
		return 58, nil
	case "IGMP":
		return 2, nil
	case "GRE":
		return 47, nil
	case "ESP":
		return 50, nil
	}
	n, e := strconv.ParseUint(s, 10, 8)
	if e != nil {
		return 0, fmt.Errorf("protocol %q", s)
	}
	return uint8(n), nil
}

// ---- tshark -T json ----

// jnode is a JSON value with object members kept in order, duplicates
// included: tshark prints an RFC 5103 reverse element under the same key as
// its forward one (a second "cflow.octets" in the same flow).
type jnode struct {
	Key  string
	Val  string // scalar
	Kids []jnode
}

func parseJSONOrdered(b []byte) (jnode, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var rd func(key string) (jnode, error)
	rd = func(key string) (jnode, error) {
		n := jnode{Key: key}
		tok, err := d.Token()
		if err != nil {
			return n, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				for d.More() {
					kt, err := d.Token()
					if err != nil {
						return n, err
					}
					k, _ := kt.(string)
					c, err := rd(k)
					if err != nil {
						return n, err
					}
					n.Kids = append(n.Kids, c)
				}
			case '[':
				for d.More() {
					c, err := rd("")
					if err != nil {
						return n, err
					}
					n.Kids = append(n.Kids, c)
				}
			}
			if _, err := d.Token(); err != nil { // closing delimiter
				return n, err
			}
		case string:
			n.Val = t
		case json.Number:
			n.Val = t.String()
		case bool:
			n.Val = strconv.FormatBool(t)
		}
		return n, nil
	}
	return rd("")
}

func (n *jnode) child(key string) *jnode {
	for i := range n.Kids {
		if n.Kids[i].Key == key {
			return &n.Kids[i]
		}
	}
	return nil
}

// leaves appends every scalar under n in document order.
func (n *jnode) leaves(dst []jnode) []jnode {
	if len(n.Kids) == 0 {
		return append(dst, *n)
	}
	for i := range n.Kids {
		dst = n.Kids[i].leaves(dst)
	}
	return dst
}

// tsharkPacket is one export packet as tshark decoded it.
type tsharkPacket struct {
	Frame     int
	Malformed []string // expert info of malformed/error severity
	Warnings  int
	Flows     []nfFlow
}

// parseTsharkJSON reads `tshark -T json` of an export capture: per packet,
// its expert errors and its flows (NetFlow v5 "pdu", v9/IPFIX "Flow" nodes).
// v5/v9 times are the sysUpTime-relative start/end made absolute with the
// header's export time and uptime, as RFC 3954 §8 defines them.
func parseTsharkJSON(b []byte) ([]tsharkPacket, error) {
	root, err := parseJSONOrdered(b)
	if err != nil {
		return nil, fmt.Errorf("tshark json: %w", err)
	}
	var out []tsharkPacket
	var tsharkInit int64
	for i := range root.Kids {
		pkt := &root.Kids[i]
		layers := pkt.child("_source")
		if layers != nil {
			layers = layers.child("layers")
		}
		if layers == nil {
			continue
		}
		tp := tsharkPacket{Frame: i + 1}
		// Expert info of error severity (PI_ERROR) or in the malformed
		// group; warnings (sequence gaps, unknown templates) are not.
		var msg string
		for _, l := range layers.leaves(nil) {
			switch {
			case l.Key == "_ws.expert.message":
				msg = l.Val
			case l.Key == "_ws.expert.severity" && l.Val == "8388608",
				l.Key == "_ws.expert.group" && l.Val == "117440512":
				tp.Malformed = append(tp.Malformed, l.Key+"="+l.Val+" "+msg)
			case l.Key == "_ws.expert.severity" && l.Val == "6291456":
				tp.Warnings++
			}
		}
		if m := layers.child("_ws.malformed"); m != nil {
			tp.Malformed = append(tp.Malformed, "_ws.malformed")
		}
		for j := range layers.Kids {
			if layers.Kids[j].Key != "cflow" {
				continue
			}
			cf := &layers.Kids[j]
			var exportNS, uptimeNS, initNS int64
			for _, l := range cf.leaves(nil) {
				switch l.Key {
				case "cflow.sys_init_time":
					if t, err := time.Parse("Jan _2, 2006 15:04:05.000000000 MST", l.Val); err == nil {
						initNS = t.UnixNano()
					}
				case "cflow.unix_secs", "cflow.exporttime":
					v, _ := strconv.ParseInt(l.Val, 10, 64)
					exportNS += v * 1e9
				case "cflow.unix_nsecs":
					v, _ := strconv.ParseInt(l.Val, 10, 64)
					exportNS += v
				case "cflow.sysuptime":
					uptimeNS = parseSecondsNS(l.Val)
				}
			}
			if initNS != 0 {
				tsharkInit = initNS // options data: kept for later packets
			}
			if uptimeNS == 0 && tsharkInit != 0 {
				// IPFIX flowStart/EndSysUpTime count from
				// systemInitTimeMilliseconds (RFC 7011 has no header
				// uptime): export time - (export - init) + rel.
				uptimeNS = exportNS - tsharkInit
			}
			var walk func(n *jnode) error
			walk = func(n *jnode) error {
				if strings.HasPrefix(n.Key, "Flow ") || strings.HasPrefix(n.Key, "pdu ") {
					f, ok, err := tsharkFlow(n, exportNS, uptimeNS)
					if err != nil {
						return fmt.Errorf("frame %d %s: %w", i+1, n.Key, err)
					}
					if ok {
						tp.Flows = append(tp.Flows, f)
					}
					return nil
				}
				for k := range n.Kids {
					if err := walk(&n.Kids[k]); err != nil {
						return err
					}
				}
				return nil
			}
			if err := walk(cf); err != nil {
				return nil, err
			}
		}
		out = append(out, tp)
	}
	return out, nil
}

// parseSecondsNS parses tshark's "0.007000000" durations.
func parseSecondsNS(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	v, _ := strconv.ParseInt(sec, 10, 64)
	ns := v * 1e9
	frac = (frac + "000000000")[:9]
	f, _ := strconv.ParseInt(frac, 10, 64)
	if strings.HasPrefix(s, "-") {
		return ns - f
	}
	return ns + f
}

// tsharkFlow reduces a flow node; ok is false for options data (no
// addresses). The first of a duplicated key is the forward element, the
// second the RFC 5103 reverse one.
func tsharkFlow(n *jnode, exportNS, uptimeNS int64) (f nfFlow, ok bool, err error) {
	seen := map[string]int{}
	var relStart, relEnd int64
	var haveRel bool
	for _, l := range n.leaves(nil) {
		seen[l.Key]++
		rev := seen[l.Key] > 1
		u := func(bits int) uint64 {
			v, e := strconv.ParseUint(strings.TrimPrefix(l.Val, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(l.Val, "0x")], bits)
			if e != nil && err == nil {
				err = fmt.Errorf("%s %q: %w", l.Key, l.Val, e)
			}
			return v
		}
		switch l.Key {
		case "cflow.srcaddr", "cflow.srcaddrv6":
			f.Src, err = netip.ParseAddr(l.Val)
			ok = true
		case "cflow.dstaddr", "cflow.dstaddrv6":
			f.Dst, err = netip.ParseAddr(l.Val)
		case "cflow.srcport":
			f.SrcPort = uint16(u(16))
		case "cflow.dstport":
			f.DstPort = uint16(u(16))
		case "cflow.protocol":
			f.Proto = uint8(u(8))
		case "cflow.packets", "cflow.packets64":
			if rev {
				f.RevPkts = u(64)
			} else {
				f.Pkts = u(64)
			}
		case "cflow.octets", "cflow.octets64":
			if rev {
				f.RevBytes = u(64)
			} else {
				f.Bytes = u(64)
			}
		case "cflow.tcpflags":
			if v := uint8(u(8)); rev {
				f.RevFlags = v
			} else {
				f.Flags = v
			}
		case "cflow.abstimestart", "cflow.abstimeend":
			t, e := time.Parse("Jan _2, 2006 15:04:05.000000000 MST", l.Val)
			if e != nil {
				return f, false, fmt.Errorf("%s %q: %w", l.Key, l.Val, e)
			}
			ns := t.UnixNano()
			if ns < 1e15 {
				// tshark 4.0 prints IPFIX flowStartSysUpTime (22) as an
				// absolute time near 1970: it is the uptime value.
				if l.Key == "cflow.abstimestart" {
					relStart, haveRel = ns, true
				} else {
					relEnd, haveRel = ns, true
				}
				continue
			}
			if l.Key == "cflow.abstimestart" {
				f.Start = ns
			} else {
				f.End = ns
			}
		case "cflow.timestart":
			relStart, haveRel = parseSecondsNS(l.Val), true
		case "cflow.timeend":
			relEnd, haveRel = parseSecondsNS(l.Val), true
		}
	}
	if haveRel && exportNS != 0 {
		// timestart/timeend are sysUpTime values (v5/v9, IPFIX 22/21);
		// with an absolute start and a relative end (ipfix_uptime's mixed
		// template) only the missing one is filled.
		if f.Start == 0 {
			f.Start = exportNS - (uptimeNS - relStart)
		}
		if f.End == 0 {
			f.End = exportNS - (uptimeNS - relEnd)
		}
	}
	return f, ok, err
}

// ---- comparing flow lists ----

// nfDiff is one disagreement: Kind says which two sides, Field which value,
// Scope the file it came from (matched against known-differences rows).
type nfDiff struct {
	Kind, Field, Scope, Detail string
}

func (d nfDiff) String() string {
	return fmt.Sprintf("%s %s %s: %s", d.Kind, d.Field, d.Scope, d.Detail)
}

// nfCompareOpts says which fields a comparison checks and how close times
// must be (a printer's resolution).
type nfCompareOpts struct {
	Kind, Scope string
	TimeTol     int64 // ns; < 0 skips times
	NoFlags     bool
	NoRevFlags  bool // one side has no reverse TCP flags (nfdump 1.7.1)
}

// compareFlows pairs flows by key (in order within a key, after sorting by
// start time and counters) and returns the number matched and every
// difference. A flow on one side only is a "missing"/"extra" difference.
func compareFlows(want, got []nfFlow, o nfCompareOpts) (matched int, diffs []nfDiff) {
	group := func(fs []nfFlow) map[string][]nfFlow {
		m := map[string][]nfFlow{}
		for _, f := range fs {
			m[f.key()] = append(m[f.key()], f)
		}
		for _, l := range m {
			sort.SliceStable(l, func(i, j int) bool {
				if l[i].Start != l[j].Start {
					return l[i].Start < l[j].Start
				}
				return l[i].Pkts < l[j].Pkts
			})
		}
		return m
	}
	w, g := group(want), group(got)
	keys := make([]string, 0, len(w)+len(g))
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	add := func(field, detail string) {
		diffs = append(diffs, nfDiff{Kind: o.Kind, Field: field, Scope: o.Scope, Detail: detail})
	}
	for _, k := range keys {
		wl, gl := w[k], g[k]
		// Pair each wanted flow with the unused flow of the same key that
		// agrees on most counters (then nearest start): printers order
		// flows of one key differently and CSV times are whole seconds.
		pair := make([]int, len(wl))
		used := make([]bool, len(gl))
		for i, a := range wl {
			pair[i] = -1
			best, bestDT := -1, int64(math.MaxInt64)
			for j, b := range gl {
				if used[j] {
					continue
				}
				sc := 0
				for _, eq := range []bool{a.Pkts == b.Pkts, a.Bytes == b.Bytes, a.RevPkts == b.RevPkts, a.RevBytes == b.RevBytes} {
					if eq {
						sc++
					}
				}
				dt := a.Start - b.Start
				if dt < 0 {
					dt = -dt
				}
				if sc > best || (sc == best && dt < bestDT) {
					best, bestDT, pair[i] = sc, dt, j
				}
			}
			if pair[i] >= 0 {
				used[pair[i]] = true
			}
		}
		for j := range gl {
			if !used[j] {
				add("extra", "unexpected "+gl[j].String())
			}
		}
		for i := range wl {
			if pair[i] < 0 {
				add("missing", "expected "+wl[i].String())
				continue
			}
			a, b := wl[i], gl[pair[i]]
			matched++
			cmpU := func(field string, x, y uint64) {
				if x != y {
					add(field, fmt.Sprintf("%s: want %d got %d", k, x, y))
				}
			}
			cmpU("pkts", a.Pkts, b.Pkts)
			cmpU("bytes", a.Bytes, b.Bytes)
			cmpU("rpkts", a.RevPkts, b.RevPkts)
			cmpU("rbytes", a.RevBytes, b.RevBytes)
			if !o.NoFlags && a.Proto == 6 && a.Flags != b.Flags {
				add("flags", fmt.Sprintf("%s: want %#02x got %#02x", k, a.Flags, b.Flags))
			}
			if !o.NoFlags && !o.NoRevFlags && a.Proto == 6 && a.RevFlags != b.RevFlags {
				add("rflags", fmt.Sprintf("%s: want %#02x got %#02x", k, a.RevFlags, b.RevFlags))
			}
			if o.TimeTol >= 0 {
				for _, t := range []struct {
					f    string
					x, y int64
				}{{"start", a.Start, b.Start}, {"end", a.End, b.End}} {
					if d := t.x - t.y; d > o.TimeTol || -d > o.TimeTol {
						add(t.f, fmt.Sprintf("%s: want %s got %s", k, fmtNS(t.x), fmtNS(t.y)))
					}
				}
			}
		}
	}
	return matched, diffs
}
