package conformance

// TestRaGolden decodes every Argus file of the corpus oracle with
// codecs/argus, prints it with codecs/ratext, and compares the result field
// by field with what the real ra printed (ra 3.0.8.2 and ra 5.0.3 CSV, ra
// 5.0.3 JSON; ra 5.0.0 CSV/JSON of upstream's baseline file). Every
// difference must be listed in known-differences.tsv with an upstream reason;
// a listed difference that no longer occurs fails the test too.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/codecs/argus"
	"github.com/flowgate/flowgate/codecs/ratext"
	"github.com/flowgate/flowgate/flow"
)

// raGoldenCase is one golden file and the Argus file it was made from.
type raGoldenCase struct {
	kind   string // ra3, ra5, json
	input  string // .argus path
	golden string // golden path
	header string // CSV file whose header names the fields
	scope  string // "<dir>/<golden base name>" for known-differences globs
}

func raGoldenCases(t *testing.T) []raGoldenCase {
	root := corpusDir(t, "argus")
	var cases []raGoldenCase
	dirs, err := os.ReadDir(filepath.Join(root, "oracle"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, "oracle", d.Name())
		inputs, _ := filepath.Glob(filepath.Join(dir, "*.argus"))
		sort.Strings(inputs)
		for _, in := range inputs {
			base := strings.TrimSuffix(filepath.Base(in), ".argus")
			add := func(kind, suffix, header string) {
				g := filepath.Join(dir, base+suffix)
				if _, err := os.Stat(g); err == nil {
					cases = append(cases, raGoldenCase{kind, in, g, filepath.Join(dir, base+header), d.Name() + "/" + base + suffix})
				}
			}
			add("ra3", ".ra3.csv", ".ra3.csv")
			add("ra5", ".ra5.csv", ".ra5.csv")
			add("json", ".ra5.json", ".ra5.csv")
		}
	}
	in := filepath.Join(root, "openargus-clients", "baseline.2024.01.25.out")
	der := filepath.Join(root, "derived", "baseline.2024.01.25.ra5")
	if _, err := os.Stat(in); err == nil {
		cases = append(cases,
			raGoldenCase{"ra5", in, der + ".csv", der + ".csv", "derived/baseline.2024.01.25.ra5.csv"},
			raGoldenCase{"json", in, der + ".json", der + ".csv", "derived/baseline.2024.01.25.ra5.json"})
	}
	return cases
}

// raKnownDiff is one row of known-differences.tsv.
type raKnownDiff struct {
	kind, field, scope, reason string
	line                       int
	hits                       int
}

func loadRaKnownDiffs(t *testing.T) []*raKnownDiff {
	b, err := os.ReadFile("known-differences.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var out []*raKnownDiff
	for i, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 4 || f[3] == "" {
			t.Fatalf("known-differences.tsv:%d: want 4 tab-separated columns (kind, field, scope, reason)", i+1)
		}
		if f[0] != "ra3" && f[0] != "ra5" && f[0] != "json" {
			continue // rows of the sensor and v3write tests (helpers_test.go)
		}
		if _, err := path.Match(f[2], ""); err != nil {
			t.Fatalf("known-differences.tsv:%d: bad glob %q", i+1, f[2])
		}
		out = append(out, &raKnownDiff{kind: f[0], field: f[1], scope: f[2], reason: f[3], line: i + 1})
	}
	return out
}

func (k *raKnownDiff) match(kind, field, scope string) bool {
	if k.kind != kind || (k.field != "*" && k.field != field) {
		return false
	}
	ok, _ := path.Match(k.scope, scope)
	return ok || k.scope == "*"
}

// raFieldsFromHeader maps a golden header's labels back to ra -s names.
// Labels are not unique (dsPkts, sLo ...); ra prints fields in the order
// given with -s, and the goldens list them in table order, so the first
// candidate after the previous field wins.
func raFieldsFromHeader(t *testing.T, header string) []string {
	var names []string
	last := -1
	used := map[string]bool{}
	for _, l := range strings.Split(header, ",") {
		cands := flow.FieldsByRaLabel(l)
		if len(cands) == 0 {
			t.Fatalf("label %q is not in the registry", l)
		}
		pick := ""
		for _, c := range cands {
			if c.RaIndex > last && !used[c.Ra] {
				pick, last = c.Ra, c.RaIndex
				break
			}
		}
		if pick == "" {
			for _, c := range cands {
				if !used[c.Ra] {
					pick = c.Ra
					break
				}
			}
		}
		used[pick] = true
		names = append(names, pick)
	}
	return names
}

func readFirstLine(t *testing.T, name string) string {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	if !s.Scan() {
		t.Fatalf("%s: empty", name)
	}
	return s.Text()
}

// decodeFlows reads an Argus file and returns its flow records (management
// records carry the sensor's wall clock and ra -X does not print them).
func decodeFlows(t *testing.T, name string) ([]flow.Record, []int64) {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := argus.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []flow.Record
	var offs []int64
	for {
		var r flow.Record
		off := rd.Offset()
		err := rd.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("%s: record %d: %v", name, len(out), err)
			break
		}
		if r.Type == flow.TypeMgmt {
			continue
		}
		r.Detach()
		out = append(out, r)
		offs = append(offs, off)
	}
	return out, offs
}

const raSep = "\x1f"

// printFields prints recs with ratext and returns one []string per record.
func printFields(t *testing.T, recs []flow.Record, offs []int64, fields []string, asJSON, compat3 bool) [][]string {
	var buf bytes.Buffer
	o := ratext.Options{Fields: fields, Delim: raSep, NFlag: 1, UnixTime: true, Labels: -1, Compat3: compat3, Location: time.UTC}
	if asJSON {
		o.JSON = true
		o.Delim = ","
	}
	p, err := ratext.NewPrinter(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		p.SetOffset(offs[i])
		if err := p.Print(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if buf.Len() == 0 {
		lines = nil
	}
	out := make([][]string, len(lines))
	for i, l := range lines {
		if asJSON {
			if !json.Valid([]byte(l)) {
				t.Errorf("ratext printed invalid JSON: %s", l)
			}
			out[i] = jsonValuesByField(l, fields)
		} else {
			out[i] = strings.Split(l, raSep)
			// ra 3.0.8.2 prints no delimiter after an empty resp; ratext
			// does the same with Compat3: put the empty value back.
			if r := indexOf(fields, "resp"); compat3 && r >= 0 && len(out[i]) == len(fields)-1 {
				out[i] = append(out[i][:r], append([]string{""}, out[i][r:]...)...)
			}
		}
	}
	return out
}

// splitGoldenCSV splits an unquoted ra CSV line whose values may contain
// commas (user data, labels, dsrs): where the token counts disagree, a value
// takes as many tokens as make it equal to ours, else as many as ours has
// commas.
func splitGoldenCSV(line string, ours []string, n int) []string {
	toks := strings.Split(line, ",")
	if len(toks) == n {
		return toks
	}
	out := make([]string, 0, n)
	j := 0
	for i := 0; i < n && j < len(toks); i++ {
		extra := (len(toks) - j) - (n - i)
		k := 1
		if i == n-1 {
			k = len(toks) - j
		} else if extra > 0 && i < len(ours) {
			k = 0
			for c := 1; c <= extra+1; c++ {
				if strings.Join(toks[j:j+c], ",") == ours[i] {
					k = c
					break
				}
			}
			if k == 0 {
				k = 1 + min(strings.Count(ours[i], ","), extra)
			}
		}
		out = append(out, strings.Join(toks[j:j+k], ","))
		j += k
	}
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

type raFieldStat struct{ compared, matched int }

func TestRaGolden(t *testing.T) {
	cases := raGoldenCases(t)
	known := loadRaKnownDiffs(t)
	// RAGOLDEN_DUMP=file writes every difference (listed or not) as TSV.
	var dump io.Writer
	if name := os.Getenv("RAGOLDEN_DUMP"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dump = f
	}
	stats := map[string]map[string]*raFieldStat{}
	records := map[string]int{}
	unlisted := map[string][]string{} // kind/field -> examples
	type decodedFile struct {
		recs []flow.Record
		offs []int64
	}
	decoded := map[string]decodedFile{}
	for _, c := range cases {
		df, ok := decoded[c.input]
		if !ok {
			df.recs, df.offs = decodeFlows(t, c.input)
			decoded[c.input] = df
		}
		fields := raFieldsFromHeader(t, readFirstLine(t, c.header))
		ours := printFields(t, df.recs, df.offs, fields, c.kind == "json", c.kind == "ra3")
		gold := readGolden(t, c, fields, ours)
		if len(gold) != len(ours) {
			t.Errorf("%s: %d records, ra printed %d", c.scope, len(ours), len(gold))
		}
		n := min(len(gold), len(ours))
		records[c.kind] += n
		st := stats[c.kind]
		if st == nil {
			st = map[string]*raFieldStat{}
			stats[c.kind] = st
		}
		for i := 0; i < n; i++ {
			for fi, f := range fields {
				s := st[f]
				if s == nil {
					s = &raFieldStat{}
					st[f] = s
				}
				s.compared++
				var o, g string
				if fi < len(ours[i]) {
					o = ours[i][fi]
				}
				if fi < len(gold[i]) {
					g = gold[i][fi]
				}
				if o == g {
					s.matched++
					continue
				}
				listed := false
				for _, k := range known {
					if k.match(c.kind, f, c.scope) {
						k.hits++
						listed = true
					}
				}
				if dump != nil {
					fmt.Fprintf(dump, "%s\t%s\t%s\t%d\t%q\t%q\n", c.kind, f, c.scope, i+1, o, g)
				}
				if !listed {
					key := c.kind + "/" + f
					if len(unlisted[key]) < 3 {
						unlisted[key] = append(unlisted[key], fmt.Sprintf("%s rec %d: ours %q ra %q", c.scope, i+1, o, g))
					} else {
						unlisted[key] = append(unlisted[key], "")
					}
				}
			}
		}
	}
	for _, kind := range []string{"ra3", "ra5", "json"} {
		st := stats[kind]
		var names []string
		comp, match, full := 0, 0, 0
		for f, s := range st {
			names = append(names, f)
			comp += s.compared
			match += s.matched
			if s.compared == s.matched {
				full++
			}
		}
		sort.Strings(names)
		t.Logf("%s: %d records, %d fields, %d fields always equal, %d/%d values equal", kind, records[kind], len(st), full, match, comp)
		for _, f := range names {
			if s := st[f]; s.matched != s.compared {
				t.Logf("  %s %s: %d/%d equal", kind, f, s.matched, s.compared)
			}
		}
	}
	var keys []string
	for k := range unlisted {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ex := unlisted[k]
		var shown []string
		for _, e := range ex {
			if e != "" {
				shown = append(shown, e)
			}
		}
		t.Errorf("unlisted difference %s (%d values), e.g.\n\t%s", k, len(ex), strings.Join(shown, "\n\t"))
	}
	for _, k := range known {
		if k.hits == 0 {
			t.Errorf("known-differences.tsv:%d: stale entry (%s %s %s): the difference no longer occurs", k.line, k.kind, k.field, k.scope)
		}
	}
}

func readGolden(t *testing.T, c raGoldenCase, fields []string, ours [][]string) [][]string {
	b, err := os.ReadFile(c.golden)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var out [][]string
	if c.kind == "json" {
		for _, l := range lines {
			if l == "" {
				continue
			}
			out = append(out, jsonValuesByField(l, fields))
		}
		return out
	}
	r := indexOf(fields, "resp")
	for i, l := range lines[1:] {
		var o []string
		if i < len(ours) {
			o = ours[i]
		}
		if c.kind == "ra3" && r >= 0 && r < len(o) && o[r] == "" {
			short := append(append([]string(nil), o[:r]...), o[r+1:]...)
			g := splitGoldenCSV(l, short, len(fields)-1)
			out = append(out, append(g[:r], append([]string{""}, g[r:]...)...))
			continue
		}
		out = append(out, splitGoldenCSV(l, o, len(fields)))
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// jsonValuesByField parses one ra JSON object leniently (ra 5 prints hex
// numbers unquoted and does not escape backslashes) and returns the text
// of each field's value ("" when absent), strings unescaped.
func jsonValuesByField(line string, fields []string) []string {
	vals := map[string]string{}
	s := line
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return make([]string, len(fields))
	}
	s = s[i+1:]
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" || s[0] == '}' {
			break
		}
		key, rest, ok := jsonLenientString(s)
		if !ok {
			break
		}
		s = strings.TrimLeft(rest, " ")
		if s == "" || s[0] != ':' {
			break
		}
		s = strings.TrimLeft(s[1:], " ")
		var v string
		if s != "" && s[0] == '"' {
			v, s, ok = jsonLenientString(s)
			if !ok {
				break
			}
		} else {
			j := strings.IndexAny(s, ",}")
			if j < 0 {
				j = len(s)
			}
			v, s = strings.TrimSpace(s[:j]), s[j:]
		}
		if _, dup := vals[key]; !dup {
			vals[key] = v
		} else if key == "type" {
			vals["type:field"] = v
		}
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		if f == "type" {
			out[i] = vals["type:field"]
			continue
		}
		out[i] = vals[f]
	}
	return out
}

// jsonLenientString reads a quoted string; \" \\ \n \r \t \b \f and \u00XX
// are unescaped, a backslash before anything else is kept.
func jsonLenientString(s string) (string, string, bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if i+4 < len(s) {
					var v int
					fmt.Sscanf(s[i+1:i+5], "%04x", &v)
					b.WriteByte(byte(v))
					i += 4
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", s, false
}
