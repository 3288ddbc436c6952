package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/codecs/jsonl"
	"github.com/flowgate/flowgate/flow/filter"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/mappings"
	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is the name errors and summaries give the embedded default.
const DefaultName = "(embedded default.yaml)"

// Default returns the text of the embedded default config.
func Default() []byte { return slices.Clone(defaultYAML) }

// LoadDefault loads the embedded default config.
func LoadDefault() (*Config, error) { return Load(DefaultName, defaultYAML, ".") }

// Defaults of the queue between two stages.
const (
	DefaultQueueSize = 65536
	MaxQueueSize     = 1 << 26
)

// WhenFull is what a full queue does to the stage feeding it.
type WhenFull uint8

const (
	Block WhenFull = iota // back-pressure: the feeding stage waits
	Drop                  // the record is dropped and counted (reason: queue full)
)

func (w WhenFull) String() string { return [...]string{"block", "drop"}[w] }

// Queue bounds the queue in front of one stage.
type Queue struct {
	Size     int // records
	WhenFull WhenFull
}

// Rotate is when a file sink closes its file and starts another.
type Rotate struct {
	Every time.Duration // 0: never by time
	Size  int64         // bytes; 0: never by size
}

// Source is one pipeline input.
type Source struct {
	Pos Pos
	Endpoint
	Queue Queue // between the source and the pipeline
	// Dialect is a csv: source's CSV dialect ("" the pipeline's csv
	// mapping's, else argus: ra -c ,).
	Dialect string
}

// Sink is one pipeline output.
type Sink struct {
	Pos Pos
	Endpoint
	Rotate Rotate // file sinks only
	Queue  Queue  // in front of the sink
	// Dialect is the JSON-lines or CSV dialect of a json:, csv: or
	// kafka:// (format=json) sink ("" the default: the pipeline's
	// mapping's dialect, else argus).
	Dialect string
}

// Pipeline is sources, an optional filter and mapping, and sinks.
type Pipeline struct {
	Pos     Pos
	Name    string
	Sources []Source
	// Filter is the ra filter expression ("" passes everything); Compiled
	// is it compiled.
	Filter    string
	Compiled  *filter.Filter
	Mapping   string         // as written ("" none)
	MappingAt string         // the built-in name, or the file path resolved against the config's directory
	Map       *mappings.File // loaded
	Sinks     []Sink
	Queue     Queue // the pipeline's default for its stages
}

// Config is a loaded gateway config.
type Config struct {
	Name    string
	Version int
	// Metrics is where /metrics, /healthz and /readyz are served
	// (host:port; "" none).
	Metrics   string
	Pipelines []Pipeline
}

// LoadFile loads a config file from disk; mapping paths in it are relative
// to its directory.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, b, filepath.Dir(path))
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

type loader struct {
	file string
	dir  string
	errs Errors
}

func (l *loader) add(n *yaml.Node, path string, err error, format string, args ...any) *Error {
	e := &Error{Pos: Pos{File: l.file, Path: path}, Err: err, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
	return e
}

func (l *loader) pos(n *yaml.Node, path string) Pos {
	return Pos{File: l.file, Line: n.Line, Col: n.Column, Path: path}
}

// mapping checks every key of a mapping node against allowed and returns
// the values by key.
func (l *loader) mapping(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		l.add(n, path, ErrType, "want a mapping, have %s", kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := join(path, k.Value)
		if !slices.Contains(allowed, k.Value) {
			l.add(k, kp, ErrUnknownKey, "%q (want one of %s)", k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			l.add(k, kp, ErrDuplicate, "key %q given twice", k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("scalar %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.add(n, path, ErrType, "want text, have %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		l.add(n, path, ErrType, "want a list, have %s", kindName(n))
		return nil, false
	}
	return n.Content, true
}

// Load parses and validates one config. name is used in errors; dir is
// where relative mapping paths are looked up. The error, if any, is an
// Errors listing every problem found.
func Load(name string, data []byte, dir string) (*Config, error) {
	l := &loader{file: name, dir: dir}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 puts "line N:" in its message and gives no column.
		e := &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Err: ErrSyntax, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
		}
		return nil, Errors{e}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		e := l.add(nil, "", ErrMissing, "empty file (a config starts with version: 1)")
		e.Line, e.Col = 1, 1
		return nil, l.errs
	}
	root := doc.Content[0]
	top := l.mapping(root, "", "version", "metrics", "pipelines")
	if top == nil {
		return nil, l.errs
	}
	c := &Config{Name: name}
	if n := top["version"]; n == nil {
		l.add(root, "version", ErrMissing, "a config starts with version: 1")
	} else if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		l.add(n, "version", ErrType, "want an integer, have %s", kindName(n))
	} else if v, err := strconv.ParseInt(n.Value, 0, 64); err != nil || v != 1 {
		l.add(n, "version", ErrVersion, "%s (this flowgate reads version 1)", n.Value)
	} else {
		c.Version = 1
	}
	if n := top["metrics"]; n != nil {
		if a, ok := l.str(n, "metrics"); ok {
			if a != "" {
				if _, port, err := net.SplitHostPort(a); err != nil || checkPort(port) != nil {
					l.add(n, "metrics", ErrValue, "%q: want host:port or :port (\"\" serves no metrics)", a)
				}
			}
			c.Metrics = a
		}
	}
	if n := top["pipelines"]; n == nil {
		l.add(root, "pipelines", ErrMissing, "a config needs a pipelines: list")
	} else if ps, ok := l.list(n, "pipelines"); ok {
		if len(ps) == 0 {
			l.add(n, "pipelines", ErrMissing, "the list is empty")
		}
		names := map[string]string{}
		listens := map[string]string{}
		for i, pn := range ps {
			path := fmt.Sprintf("pipelines[%d]", i)
			p, ok := l.pipeline(pn, path)
			if !ok {
				continue
			}
			if prev, dup := names[p.Name]; dup {
				l.add(pn, path, ErrDuplicate, "pipeline %q already defined at %s", p.Name, prev)
			} else {
				names[p.Name] = fmt.Sprintf("%d:%d", pn.Line, pn.Column)
			}
			l.listeners(&p, listens)
			c.Pipelines = append(c.Pipelines, p)
		}
	}
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		})
		return nil, l.errs
	}
	return c, nil
}

// listeners reports two endpoints, in any pipelines, that would bind the
// same transport and address (the second one would fail at start).
func (l *loader) listeners(p *Pipeline, seen map[string]string) {
	check := func(key string, pos Pos, text string) {
		if prev, dup := seen[key]; dup {
			l.errs = append(l.errs, &Error{Pos: pos, Err: ErrDuplicate, Msg: fmt.Sprintf("%s listens where %s already does", text, prev)})
			return
		}
		seen[key] = fmt.Sprintf("%s (%d:%d)", text, pos.Line, pos.Col)
	}
	for _, s := range p.Sources {
		if s.Kind == KindNetFlow {
			check(s.Net.Transport+" "+s.Net.Addr, s.Pos, s.Text)
		}
	}
	for _, s := range p.Sinks {
		if s.Kind == KindArgus {
			check("tcp "+s.Addr, s.Pos, s.Text)
		}
	}
	// Two sinks writing one file would interleave (or, rotated, rename
	// over each other's names); one sink twice writes each record twice.
sinks:
	for i, s := range p.Sinks {
		for _, o := range p.Sinks[:i] {
			if o.Text == s.Text {
				l.errs = append(l.errs, &Error{Pos: s.Pos, Err: ErrDuplicate, Msg: fmt.Sprintf("sink %s given twice in pipeline %q", s.Text, p.Name)})
				continue sinks
			}
		}
		if s.Kind == KindFile && !s.Net.IsStdio() {
			key := "file " + filepath.Clean(s.Net.Path)
			if prev, dup := seen[key]; dup {
				l.errs = append(l.errs, &Error{Pos: s.Pos, Err: ErrDuplicate, Msg: fmt.Sprintf("%s writes the file %s writes", s.Text, prev)})
			} else {
				seen[key] = fmt.Sprintf("%s (%d:%d)", s.Text, s.Pos.Line, s.Pos.Col)
			}
		}
	}
}

func (l *loader) pipeline(n *yaml.Node, path string) (Pipeline, bool) {
	p := Pipeline{Pos: l.pos(n, path), Queue: Queue{Size: DefaultQueueSize, WhenFull: Block}}
	m := l.mapping(n, path, "name", "sources", "filter", "mapping", "sinks", "queue")
	if m == nil {
		return p, false
	}
	if x := m["name"]; x == nil {
		l.add(n, join(path, "name"), ErrMissing, "every pipeline has a name (it labels its metrics)")
	} else if s, ok := l.str(x, join(path, "name")); ok {
		if s == "" {
			l.add(x, join(path, "name"), ErrValue, "empty name")
		}
		p.Name = s
	}
	// The pipeline's queue is the default of its stages: read it first.
	if x := m["queue"]; x != nil {
		p.Queue = l.queue(x, join(path, "queue"), p.Queue)
	}
	if x := m["sources"]; x == nil {
		l.add(n, join(path, "sources"), ErrMissing, "a pipeline needs at least one source")
	} else if xs, ok := l.list(x, join(path, "sources")); ok {
		if len(xs) == 0 {
			l.add(x, join(path, "sources"), ErrMissing, "the list is empty")
		}
		for i, sn := range xs {
			if s, ok := l.source(sn, fmt.Sprintf("%s.sources[%d]", path, i), p.Queue); ok {
				p.Sources = append(p.Sources, s)
			}
		}
	}
	if x := m["filter"]; x != nil {
		l.filter(x, join(path, "filter"), &p)
	}
	if x := m["mapping"]; x != nil {
		l.mappingFile(x, join(path, "mapping"), &p)
	}
	if x := m["sinks"]; x == nil {
		l.add(n, join(path, "sinks"), ErrMissing, "a pipeline needs at least one sink")
	} else if xs, ok := l.list(x, join(path, "sinks")); ok {
		if len(xs) == 0 {
			l.add(x, join(path, "sinks"), ErrMissing, "the list is empty")
		}
		for i, sn := range xs {
			if s, ok := l.sink(sn, fmt.Sprintf("%s.sinks[%d]", path, i), p.Queue); ok {
				p.Sinks = append(p.Sinks, s)
			}
		}
	}
	return p, true
}

// endpoint reads the endpoint text of a source or sink: the scalar itself,
// or the endpoint: key of its mapping form.
func (l *loader) endpoint(n *yaml.Node, path string, role Role) (Endpoint, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return Endpoint{}, false
	}
	e, err := parseEndpoint(s, role)
	if err != nil {
		var re *roleError
		if errors.As(err, &re) {
			l.add(n, path, ErrRole, "%q: %v", s, err)
		} else {
			l.add(n, path, ErrEndpoint, "%q: %v", s, err)
		}
		return e, false
	}
	return e, true
}

func (l *loader) source(n *yaml.Node, path string, q Queue) (Source, bool) {
	s := Source{Pos: l.pos(n, path), Queue: q}
	en := n
	if n.Kind == yaml.MappingNode {
		m := l.mapping(n, path, "endpoint", "queue", "dialect")
		if x := m["queue"]; x != nil {
			s.Queue = l.queue(x, join(path, "queue"), q)
		}
		dn := m["dialect"]
		if dn != nil {
			s.Dialect = l.dialect(dn, join(path, "dialect"))
		}
		if en = m["endpoint"]; en == nil {
			l.add(n, join(path, "endpoint"), ErrMissing, "the source's endpoint")
			return s, false
		}
		e, ok := l.endpoint(en, join(path, "endpoint"), RoleSource)
		s.Endpoint = e
		if ok && dn != nil && !(e.Kind == KindFile && e.Net.Format == gateway.FormatCSV) {
			l.add(dn, join(path, "dialect"), ErrRole, "only csv: sources have a dialect, not %q", e.Text)
		}
		return s, ok
	}
	e, ok := l.endpoint(en, path, RoleSource)
	s.Endpoint = e
	return s, ok
}

// dialect reads a JSON-lines or CSV dialect name (codecs/jsonl,
// codecs/csv: the same names).
func (l *loader) dialect(n *yaml.Node, path string) string {
	d, ok := l.str(n, path)
	if ok && !slices.Contains(jsonl.Dialects, d) {
		l.add(n, path, ErrValue, "%q: want one of %s", d, strings.Join(jsonl.Dialects, ", "))
	}
	return d
}

func (l *loader) sink(n *yaml.Node, path string, q Queue) (Sink, bool) {
	s := Sink{Pos: l.pos(n, path), Queue: q}
	en := n
	var rot *yaml.Node
	epath := path
	if n.Kind == yaml.MappingNode {
		m := l.mapping(n, path, "endpoint", "rotate", "queue", "dialect")
		if x := m["dialect"]; x != nil {
			s.Dialect = l.dialect(x, join(path, "dialect"))
		}
		if x := m["queue"]; x != nil {
			s.Queue = l.queue(x, join(path, "queue"), q)
		}
		rot = m["rotate"]
		if rot != nil {
			s.Rotate = l.rotate(rot, join(path, "rotate"))
		}
		if en = m["endpoint"]; en == nil {
			l.add(n, join(path, "endpoint"), ErrMissing, "the sink's endpoint")
			return s, false
		}
		epath = join(path, "endpoint")
	}
	e, ok := l.endpoint(en, epath, RoleSink)
	s.Endpoint = e
	if ok && rot != nil && (e.Kind != KindFile || e.Net.IsStdio()) {
		l.add(rot, join(path, "rotate"), ErrRole, "only file sinks rotate, not %q", e.Text)
	}
	if ok && s.Dialect != "" && !(e.Kind == KindFile && (e.Net.Format == gateway.FormatJSON || e.Net.Format == gateway.FormatCSV) ||
		e.Kind == KindKafka && e.Kafka.Format == "json") {
		l.add(n, join(path, "dialect"), ErrRole, "only json:, csv: and kafka:// (format=json) sinks have a dialect, not %q", e.Text)
	}
	return s, ok
}

func (l *loader) rotate(n *yaml.Node, path string) Rotate {
	var r Rotate
	m := l.mapping(n, path, "every", "size")
	if m == nil {
		return r
	}
	if x := m["every"]; x != nil {
		if s, ok := l.str(x, join(path, "every")); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Second {
				l.add(x, join(path, "every"), ErrValue, "%q: want a duration of 1s or more (30s, 5m, 1h)", s)
			} else {
				r.Every = d
			}
		}
	}
	if x := m["size"]; x != nil {
		if s, ok := l.str(x, join(path, "size")); ok {
			b, err := gateway.ParseSize(s)
			if err != nil || b < 1<<20 {
				l.add(x, join(path, "size"), ErrValue, "%q: want a size of 1M or more (suffix K, M or G)", s)
			} else {
				r.Size = b
			}
		}
	}
	if len(m) == 0 {
		l.add(n, path, ErrMissing, "rotate by every:, size: or both")
	}
	return r
}

func (l *loader) queue(n *yaml.Node, path string, q Queue) Queue {
	m := l.mapping(n, path, "size", "when_full")
	if x := m["size"]; x != nil {
		if x.Kind != yaml.ScalarNode || x.Tag != "!!int" {
			l.add(x, join(path, "size"), ErrType, "want an integer, have %s", kindName(x))
		} else if v, err := strconv.ParseInt(x.Value, 0, 64); err != nil || v < 1 || v > MaxQueueSize {
			l.add(x, join(path, "size"), ErrValue, "%s: want records from 1 to %d", x.Value, MaxQueueSize)
		} else {
			q.Size = int(v)
		}
	}
	if x := m["when_full"]; x != nil {
		if s, ok := l.str(x, join(path, "when_full")); ok {
			switch s {
			case "block":
				q.WhenFull = Block
			case "drop":
				q.WhenFull = Drop
			default:
				l.add(x, join(path, "when_full"), ErrValue, "%q: want block or drop", s)
			}
		}
	}
	return q
}

func (l *loader) filter(n *yaml.Node, path string, p *Pipeline) {
	s, ok := l.str(n, path)
	if !ok {
		return
	}
	f, err := filter.Compile(s)
	if err != nil {
		e := l.add(n, path, ErrFilter, "%q: %v", s, err)
		e.Cause = err
		var se *filter.SyntaxError
		if errors.As(err, &se) {
			e.Msg = fmt.Sprintf("%q: offset %d: %s", s, se.Offset, se.Msg)
			e.Col += filterCol(n, s, se.Offset)
		}
		return
	}
	p.Filter, p.Compiled = s, f
}

// filterCol is how far right of the node's column byte off of its value
// is, when the value is written on one line as is (plain, or quoted
// without escapes); otherwise 0, and the error points at the value.
func filterCol(n *yaml.Node, s string, off int) int {
	if strings.ContainsAny(s, "\n") || off < 0 || off > len(s) {
		return 0
	}
	switch n.Style {
	case 0:
		return off
	case yaml.SingleQuotedStyle:
		if !strings.Contains(s, "'") {
			return off + 1
		}
	case yaml.DoubleQuotedStyle:
		if !strings.ContainsAny(s, "\\\"") {
			return off + 1
		}
	}
	return 0
}

func (l *loader) mappingFile(n *yaml.Node, path string, p *Pipeline) {
	s, ok := l.str(n, path)
	if !ok {
		return
	}
	if s == "" {
		l.add(n, path, ErrValue, "empty: leave mapping: out, or name a built-in (%s) or a file", strings.Join(mappings.Builtins(), ", "))
		return
	}
	p.Mapping = s
	var f *mappings.File
	var err error
	if slices.Contains(mappings.Builtins(), s) {
		p.MappingAt = s
		f, err = mappings.Builtin(s)
	} else {
		at := s
		if !filepath.IsAbs(at) {
			at = filepath.Join(l.dir, at)
		}
		p.MappingAt = at
		f, err = mappings.LoadFile(at)
		if errors.Is(err, os.ErrNotExist) {
			l.add(n, path, ErrMapping, "%q is neither a built-in mapping (%s) nor a file (%s not found)", s, strings.Join(mappings.Builtins(), ", "), at)
			return
		}
	}
	if err != nil {
		// A mapping's own errors name their file:line:col; keep them.
		e := l.add(n, path, ErrMapping, "%q: %v", s, strings.ReplaceAll(err.Error(), "\n", "\n\t"))
		e.Cause = err
		return
	}
	p.Map = f
}
