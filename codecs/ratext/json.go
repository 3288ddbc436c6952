package ratext

import (
	"strconv"

	"github.com/flowgate/flowgate/flow"
)

var recordTypeNames = map[flow.RecordType]string{
	flow.TypeFlow: "flow", flow.TypeMgmt: "man", flow.TypeEvent: "evnt", flow.TypeDataSup: "supp",
	flow.TypeAFlow: "aflo", flow.TypeNetFlow: "nflo", flow.TypeIndex: "indx", flow.TypeArchival: "arch",
}

func typeName(t flow.RecordType) string {
	if s, ok := recordTypeNames[t]; ok {
		return s
	}
	return "unkn"
}

// jsonLine builds ra 5's `-M json` object: `{ "type":"flow","k":v,... }`.
// Values ra would print unquoted but that are not JSON numbers (hex such as
// 0x3ec6, nan, inf) are quoted, and strings are escaped so that the line is
// always valid JSON.
func (p *Printer) jsonLine(r *flow.Record, b []byte) []byte {
	b = append(b, `{ "type":"`...)
	b = append(b, typeName(r.Type)...)
	b = append(b, `",`...)
	if r.Type == flow.TypeMgmt {
		b = p.jsonMAR(r, b)
		b = b[:len(b)-1]
		return append(b, " }"...)
	}
	for i := range p.cols {
		c := &p.cols[i]
		p.curCol = i
		v := c.fn(p, r, p.val[:0])
		p.val = v
		if c.flags {
			v = append(v, ' ') // ra keeps the separator space after flgs
		} else {
			v = trimRightSpace(v)
		}
		if len(v) == 0 {
			continue
		}
		b = append(b, '"')
		b = append(b, c.def.Ra...)
		b = append(b, `":`...)
		numeric := c.def.RaType != flow.RaString || cNumeric(v)
		if numeric {
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
		}
		if numeric && jsonNumber(v) {
			b = append(b, v...)
		} else {
			b = appendJSONString(b, v)
		}
		b = append(b, ',')
	}
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return append(b, " }"...)
}

func (p *Printer) jsonMAR(r *flow.Record, b []byte) []byte {
	m := &r.Mgmt
	str := func(b []byte, k string, v []byte) []byte {
		b = append(b, ` "`...)
		b = append(b, k...)
		b = append(b, `":`...)
		b = appendJSONString(b, v)
		return append(b, ',')
	}
	num := func(b []byte, k string, v uint64) []byte {
		b = append(b, ` "`...)
		b = append(b, k...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, v, 10)
		return append(b, ',')
	}
	b = str(b, "srcid", trimRightSpace(fSrcID(p, r, p.val[:0])))
	b = str(b, "cause", causeName(r))
	t := func(b []byte, k string, ns int64) []byte {
		v := p.appendTime(p.val[:0], ns/1000)
		if p.o.UnixTime {
			b = append(b, ` "`...)
			b = append(b, k...)
			b = append(b, `":`...)
			b = append(b, v...)
			return append(b, ',')
		}
		return str(b, k, v)
	}
	b = t(b, "starttime", m.StartTime)
	b = t(b, "now", m.Now)
	if m.LocalNet != 0 || m.NetMask != 0 {
		b = str(b, "localnet", appendIPv4(p.val[:0], m.LocalNet))
		b = str(b, "netmask", appendIPv4(p.val[:0], m.NetMask))
	}
	b = num(b, "nextMrSequenceNum", uint64(m.NextSeq))
	v := strconv.AppendUint(p.val[:0], uint64(m.Major), 10)
	v = append(v, '.')
	v = strconv.AppendUint(v, uint64(m.Minor), 10)
	b = str(b, "version", v)
	b = num(b, "interfaceType", uint64(m.IfType))
	b = num(b, "interfaceStatus", uint64(m.IfStatus))
	b = num(b, "reportInterval", uint64(m.ReportInterval))
	b = num(b, "argusMrInterval", uint64(m.MarInterval))
	b = num(b, "pktsRcvd", m.PktsRcvd)
	b = num(b, "bytesRcvd", m.BytesRcvd)
	b = append(b, ` "drift":`...)
	b = strconv.AppendInt(b, int64(m.Drift), 10)
	b = append(b, ',')
	b = num(b, "records", uint64(m.Records))
	b = num(b, "flows", uint64(m.Flows))
	b = num(b, "dropped", uint64(m.Dropped))
	b = num(b, "queue", uint64(m.Queue))
	b = num(b, "output", uint64(m.Output))
	b = num(b, "clients", uint64(m.Clients))
	b = num(b, "bufs", uint64(m.Bufs))
	b = num(b, "bytes", uint64(m.BytesOut))
	b = num(b, "suserlen", uint64(m.SUserLen))
	b = num(b, "duserlen", uint64(m.DUserLen))
	return b
}

func appendIPv4(b []byte, v uint32) []byte {
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(v>>(8*i)&0xff), 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return b
}

// cNumeric reports whether C's sscanf("%d %n") or sscanf("%f %n") would
// consume all of s, which is ra's test for printing a STRING unquoted.
func cNumeric(s []byte) bool {
	// Fast refusal: text starting with a letter other than the first of
	// inf/infinity/nan is never numeric (names, addresses, states).
	if len(s) > 0 {
		c := s[0] | 0x20
		if c >= 'a' && c <= 'z' && c != 'i' && c != 'n' {
			return false
		}
	}
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := s[i:]
	if len(rest) == 0 {
		return false
	}
	// inf, infinity, nan
	low := func(t string) bool {
		if len(rest) < len(t) {
			return false
		}
		for j := 0; j < len(t); j++ {
			c := rest[j] | 0x20
			if c != t[j] {
				return false
			}
		}
		return allSpace(rest[len(t):])
	}
	if low("infinity") || low("inf") || low("nan") {
		return true
	}
	j := 0
	hex := len(rest) > 2 && rest[0] == '0' && (rest[1]|0x20) == 'x'
	isDigit := func(c byte) bool {
		if hex {
			return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f'
		}
		return c >= '0' && c <= '9'
	}
	if hex {
		j = 2
	}
	digits := 0
	for j < len(rest) && isDigit(rest[j]) {
		j++
		digits++
	}
	if j < len(rest) && rest[j] == '.' {
		j++
		for j < len(rest) && isDigit(rest[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if j < len(rest) && ((!hex && (rest[j]|0x20) == 'e') || (hex && (rest[j]|0x20) == 'p')) {
		k := j + 1
		if k < len(rest) && (rest[k] == '+' || rest[k] == '-') {
			k++
		}
		d := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
			d++
		}
		if d > 0 {
			j = k
		}
	}
	return allSpace(rest[j:])
}

// jsonEscape marks the bytes appendJSONString must escape.
var jsonEscape = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x7f
	}
	return t
}()

func allSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// jsonNumber reports whether s is a valid JSON number.
func jsonNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			d++
		}
		if d == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			d++
		}
		if d == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	// Most values need no escaping: copy them whole.
	clean := true
	for _, c := range s {
		if jsonEscape[c] {
			clean = false
			break
		}
	}
	if clean {
		b = append(b, s...)
		return append(b, '"')
	}
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
