package mappings

import (
	"embed"
	"fmt"
	"os"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtins lists the embedded mappings by name (file name without .yaml):
// zeek-conn, ipfix, netflow9, json-argus, json-ecs, json-goflow2, json-nfdump,
// csv-argus (ra -c , labels), csv-nfdump (nfdump -o csv columns). The CSV
// ecs, goflow2 and ipfix dialects use the json-ecs, json-goflow2 and ipfix
// rules (their flat column names are the JSON keys; see codecs/csv).
func Builtins() []string {
	ents, _ := builtinFS.ReadDir("builtin")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Builtin loads an embedded mapping by name.
func Builtin(name string) (*File, error) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("mappings: no built-in mapping %q (have %s)", name, strings.Join(Builtins(), ", "))
	}
	return Load("builtin/"+name+".yaml", b)
}

// Merge lays a user file over a base (built-in) one of the same schema.
// The rule: a user rule replaces the base rules for the same external field
// in the directions it covers (so `direction: out` replaces only the
// writing half); `drop: true` removes them without replacement; any other
// user rule is added after the base rules. The result keeps the base's
// dialect unless the user file names one.
func Merge(base, user *File) (*File, error) {
	if base.Schema != user.Schema {
		return nil, &Error{Pos: Pos{File: user.Name, Line: 1, Col: 1, Path: "schema"}, Err: ErrSchemaMismatch,
			Msg: fmt.Sprintf("%s is %s, %s is %s", user.Name, user.Schema, base.Name, base.Schema)}
	}
	out := *base
	out.Name = user.Name + " over " + base.Name
	if user.Dialect != "" {
		out.Dialect = user.Dialect
	}
	if user.oneWaySet {
		out.OneWay, out.oneWaySet = user.OneWay, true
	}
	out.Rules = nil
	covers := func(r Rule, d Direction) bool { return r.Dir == Both || r.Dir == d }
	for _, b := range base.Rules {
		keepIn, keepOut := covers(b, In), covers(b, Out)
		for _, u := range user.Rules {
			if u.External != b.External {
				continue
			}
			if covers(u, In) {
				keepIn = false
			}
			if covers(u, Out) {
				keepOut = false
			}
		}
		switch {
		case keepIn && keepOut:
			out.Rules = append(out.Rules, b)
		case keepIn:
			b.Dir = In
			out.Rules = append(out.Rules, b)
		case keepOut:
			b.Dir = Out
			out.Rules = append(out.Rules, b)
		}
	}
	for _, u := range user.Rules {
		if !u.Drop {
			out.Rules = append(out.Rules, u)
		}
	}
	return &out, nil
}

// LoadFile loads a mapping file from disk.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, b)
}

// Open returns the built-in mapping name, with the user's file at
// userPath (if not "") merged over it: what --mapping FILE does.
func Open(name, userPath string) (*File, error) {
	base, err := Builtin(name)
	if err != nil {
		return nil, err
	}
	if userPath == "" {
		return base, nil
	}
	user, err := LoadFile(userPath)
	if err != nil {
		return nil, err
	}
	return Merge(base, user)
}
