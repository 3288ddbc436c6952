package zeek

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/mappings"
)

// Mapping is a user mapping file (schema zeek) laid over the built-in
// conn.log mapping (mappings/builtin/zeek-conn.yaml, which the column
// table in columns.go is), as mappings.Merge lays one file over another:
// a user rule replaces the built-in handling of its column in the
// directions it covers, drop: true sends the column to Extra, and a rule
// for a column the table does not know (one a script adds) decodes it
// into its canonical field instead of Extra and writes it back. A rule
// that restates the built-in one keeps the codec's own code for the
// column (and its byte-exact rewriting).
//
// Readers and Writers resolve the mapping once per header (#fields, or a
// JSON line's keys when they change) into per-column ops: no map lookup
// and no allocation per record.
type Mapping struct {
	in, out map[string]colRule
	// added lists the written columns the built-in table does not
	// know, in file order: a Writer that makes its own header adds them.
	added []addedCol
}

type colRule struct {
	drop bool
	rule *mappings.RuleOp
}

type addedCol struct {
	name string
	typ  string
	rule *mappings.RuleOp
}

// ErrMapping is returned by NewMapping for a file it cannot use.
var ErrMapping = errors.New("zeek: mapping")

var builtinConn = sync.OnceValues(func() (*mappings.File, error) { return mappings.Builtin("zeek-conn") })

// NewMapping resolves a user mapping file of schema zeek over the
// built-in one. f is the user's file as loaded (mappings.LoadFile), not
// merged: its drop rules say which columns to take from the codec.
func NewMapping(f *mappings.File) (*Mapping, error) {
	if f.Schema != "zeek" {
		return nil, fmt.Errorf("%w: %s is a %s mapping, not zeek", ErrMapping, f.Name, f.Schema)
	}
	base, err := builtinConn()
	if err != nil {
		return nil, err
	}
	m := &Mapping{in: map[string]colRule{}, out: map[string]colRule{}}
	for i := range f.Rules {
		u := &f.Rules[i]
		for _, dir := range [2]mappings.Direction{mappings.In, mappings.Out} {
			if u.Dir != mappings.Both && u.Dir != dir {
				continue
			}
			tbl := m.in
			if dir == mappings.Out {
				tbl = m.out
			}
			if u.Drop {
				tbl[u.External] = colRule{drop: true}
				continue
			}
			if restates(base, u, dir) {
				delete(tbl, u.External)
				continue
			}
			x, err := mappings.CompileRule(*u, dir)
			if err != nil {
				if dir == mappings.In && u.Dir == mappings.Both {
					continue // a derived field (a total) is only written
				}
				return nil, fmt.Errorf("%w: %s: %v", ErrMapping, u.Pos, err)
			}
			tbl[u.External] = colRule{rule: x}
			if dir == mappings.Out && lookupColumn([]byte(u.External)) < 0 {
				m.added = append(m.added, addedCol{name: u.External, typ: zeekType(x), rule: x})
			}
		}
	}
	return m, nil
}

// restates reports whether u does to its column, in dir, what the
// built-in rule for the column does.
func restates(base *mappings.File, u *mappings.Rule, dir mappings.Direction) bool {
	for i := range base.Rules {
		b := base.Rules[i]
		if b.External != u.External || (b.Dir != mappings.Both && b.Dir != dir) {
			continue
		}
		uu := *u
		uu.Dir, b.Dir = dir, dir
		return mappings.SameRule(&uu, &b)
	}
	return false
}

// zeekType is the #types entry of a column a rule adds.
func zeekType(x *mappings.RuleOp) string {
	switch x.Kind() {
	case mappings.KindUint:
		if strings.HasSuffix(x.Rule().Canonical, "_port") {
			return "port"
		}
		return "count"
	case mappings.KindTime:
		return "time"
	case mappings.KindDur:
		return "interval"
	case mappings.KindAddr:
		return "addr"
	}
	return "string"
}

// rcol is what a reader or writer does with one column: the built-in
// kind (kExtra: carried in Extra), or a user rule.
type rcol struct {
	kind kind
	rule *mappings.RuleOp
	ck   kind // the built-in kind whose canonical field the rule fills (unset bookkeeping)
}

// resolve gives column name (built-in table index c, or -1) its op in a
// table of m (nil: the built-in one).
func resolve(tbl map[string]colRule, c int, name []byte) rcol {
	rc := rcol{}
	if c >= 0 {
		rc.kind = columns[c].kind
	}
	if tbl == nil {
		return rc
	}
	cr, ok := tbl[string(name)]
	switch {
	case !ok:
	case cr.drop:
		rc.kind = kExtra
	default:
		rc = rcol{kind: kExtra, rule: cr.rule, ck: canonicalKind(cr.rule.Rule().Canonical)}
	}
	return rc
}

// WithMapping makes a Reader or Writer follow a user mapping (NewMapping).
func WithMapping(m *Mapping) Option { return func(o *options) { o.mapping = m } }

func (o *options) inTable() map[string]colRule {
	if o.mapping == nil {
		return nil
	}
	return o.mapping.in
}

func (o *options) outTable() map[string]colRule {
	if o.mapping == nil {
		return nil
	}
	return o.mapping.out
}

// colName is column n's name as the input wrote it.
func (r *Reader) colName(n int) string {
	if r.format == FormatJSON {
		return r.keys[n]
	}
	if n < len(r.hdr.Fields) {
		return string(r.hdr.Fields[n])
	}
	return ""
}

// ruleValue decodes column n's value v (TSV text, or a JSON token when
// json) with a user rule.
func (r *Reader) ruleValue(rec *flow.Record, n int, v []byte, json bool, x *mappings.RuleOp) error {
	str := v
	missing := false
	if json {
		switch {
		case len(v) > 0 && v[0] == '"':
			u, ok := r.jsonString(v)
			if !ok {
				return r.fail(r.colName(n), string(v), fmt.Errorf("%w: bad JSON string", ErrSyntax))
			}
			str = u
		case string(v) == "null":
			missing = true
		}
	} else {
		switch {
		case bytes.Equal(v, r.hdr.Unset):
			missing = true
		case bytes.Equal(v, r.hdr.Empty):
			str = v[:0]
		case bytes.IndexByte(v, '\\') >= 0:
			n0 := len(r.scratch)
			var ok bool
			r.scratch, ok = unescapeTSV(r.scratch, v)
			if !ok {
				return r.fail(r.colName(n), string(v), fmt.Errorf("%w: bad \\x escape", ErrValue))
			}
			str = r.scratch[n0:len(r.scratch):len(r.scratch)]
		}
	}
	if missing {
		if !x.SetMissing(rec) {
			r.unset |= 1 << r.rc[n].ck
		}
		return nil
	}
	if k := x.Kind(); k == mappings.KindDur {
		// The codec sets Last from Start and the duration after the
		// whole line (finish): a duration rule feeds that.
		d, err := x.ParseNs(str)
		if err != nil {
			return r.fail(r.colName(n), string(v), fmt.Errorf("%w: %w", ErrValue, err))
		}
		r.dur, r.hasDur = d, true
		return nil
	}
	if err := x.SetText(rec, str); err != nil {
		return r.fail(r.colName(n), string(v), fmt.Errorf("%w: %w", ErrValue, err))
	}
	return nil
}
