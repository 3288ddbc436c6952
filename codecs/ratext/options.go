package ratext

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/flow"
)

// DefaultFields is ra's default field list (ra 3.0.8 and 5.0.3 agree).
var DefaultFields = []string{"stime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "pkts", "bytes", "state"}

// BinetflowFields is the field list of the "binetflow" CSV files found in
// the wild (and of upstream's sample rarc).
var BinetflowFields = []string{"stime", "dur", "proto", "saddr", "sport", "dir", "daddr", "dport", "state", "stos", "dtos", "pkts", "bytes", "sbytes", "srcid"}

// Options select what ra would print. The zero value prints like `ra`
// with no options except that Precision 0 means the default 6; use
// Precision -1 for ra's -p 0.
type Options struct {
	// Fields is the -s list (names, optionally name:len). Empty means
	// DefaultFields. Use EditFields to apply ra's +/- syntax.
	Fields []string
	// Delim is the -c delimiter; "" prints ra's fixed-width columns.
	Delim string
	// NFlag is the number of -n options: 0 names ports and protocols,
	// 1 (-n) prints numeric ports, 2 (-nn) numeric protocols and DSCP.
	NFlag int
	// UnixTime prints times as epoch seconds (-u).
	UnixTime bool
	// Precision is -p: fractional digits of times and floats; 0 means 6,
	// negative means 0.
	Precision int
	// Labels is -L: -1 no header, 0 one header line (default), n>0 a
	// header every n records.
	Labels int
	// JSON prints ra 5's -M json objects (always valid JSON, see the
	// package documentation).
	JSON bool
	// Compat3 mimics ra 3.0.8.2 where it differs from ra 5.0.3.
	Compat3 bool
	// TimeFormat is RA_TIME_FORMAT (strftime plus %f); "" means "%T.%f"
	// ("%H:%M:%S.%f" in JSON mode).
	TimeFormat string
	// Location is the zone times are printed in; nil means time.Local.
	Location *time.Location
}

// EditFields applies an ra -s specification to base: tokens separated by
// spaces or commas; if the first token starts with neither + nor - the
// list is replaced; "-name" removes a field, "+name" appends it and
// "+N name" or "+Nname" inserts it at 0-based position N. "name:len" sets
// a column width. Unknown names are an error naming them.
func EditFields(base []string, spec string) ([]string, error) {
	toks := strings.FieldsFunc(spec, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	out := append([]string(nil), base...)
	var unknown []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t[0] == '-':
			name := t[1:]
			base, _, _ := strings.Cut(name, ":")
			found := false
			for j := 0; j < len(out); j++ {
				if b, _, _ := strings.Cut(out[j], ":"); b == base {
					out = append(out[:j], out[j+1:]...)
					found = true
					j--
				}
			}
			if _, ok := flow.FieldByRaName(base); !ok && !found {
				unknown = append(unknown, base)
			}
		case t[0] == '+':
			rest := t[1:]
			pos := -1
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n > 0 {
				pos, _ = strconv.Atoi(rest[:n])
				rest = rest[n:]
				if rest == "" && i+1 < len(toks) {
					i++
					rest = toks[i]
				}
			}
			if err := checkField(rest); err != nil {
				unknown = append(unknown, rest)
				continue
			}
			if pos < 0 || pos >= len(out) {
				out = append(out, rest)
			} else {
				out = append(out[:pos], append([]string{rest}, out[pos:]...)...)
			}
		default:
			if i == 0 {
				out = out[:0]
			}
			if err := checkField(t); err != nil {
				unknown = append(unknown, t)
				continue
			}
			out = append(out, t)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownFieldsError{Names: unknown}
	}
	return out, nil
}

// UnknownFieldsError lists field names ra does not know.
type UnknownFieldsError struct{ Names []string }

func (e *UnknownFieldsError) Error() string {
	return "ratext: unknown field(s): " + strings.Join(e.Names, ", ")
}

// parseField splits "name[:len]" and checks the name.
func parseField(s string) (flow.FieldDef, int, error) {
	name, ws, hasW := strings.Cut(s, ":")
	def, ok := flow.FieldByRaName(name)
	if !ok {
		return def, 0, &UnknownFieldsError{Names: []string{name}}
	}
	w := 0
	if hasW {
		if extra := strings.IndexByte(ws, ':'); extra >= 0 {
			return def, 0, fmt.Errorf("ratext: field %q: printf formats are not supported", s)
		}
		n, err := strconv.Atoi(ws)
		if err != nil || n < 1 {
			return def, 0, fmt.Errorf("ratext: field %q: bad width", s)
		}
		w = n
	}
	return def, w, nil
}

func checkField(s string) error {
	_, _, err := parseField(s)
	return err
}
