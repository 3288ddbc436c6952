package main

import (
	"fmt"
	"strconv"
	"strings"
)

// raArgs is an ra command line, parsed with ra's own option syntax
// (getopt letters, several words after -r/-R/-s/-M, the filter after "-").
type raArgs struct {
	files     []string // -r
	dirs      []string // -R
	fields    []string // -s words, in order
	nflag     int      // -n count
	unix      bool     // -u
	prec      int      // -p, -1 when not given
	delim     string   // -c
	labels    int      // -L
	hasLabels bool
	count     recRange // -N
	timeRange string   // -t
	modes     []string // -M
	write     string   // -w
	v3        bool     // -3
	noConf    bool     // -X
	filter    string
}

// recRange is ra's -N: records first..last (1-based, inclusive; last 0 = no end).
type recRange struct {
	first, last int64
	set         bool
}

// raOptArg lists ra options that take an argument.
const raOptArg = "rRscpLNtMwFSTmeEDo"

// raMultiWord lists options after which several words may follow.
const raMultiWord = "rRsM"

func parseRaArgs(args []string) (*raArgs, error) {
	a := &raArgs{prec: -1}
	i := 0
	for i < len(args) {
		arg := args[i]
		if arg == "-" || arg == "--" {
			a.filter = strings.Join(args[i+1:], " ")
			return a, nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			// The first word that is not an option starts the filter.
			a.filter = strings.Join(args[i:], " ")
			return a, nil
		}
		i++
		// getopt-style cluster: -nnu, -p3, -c,
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			if !strings.ContainsRune(raOptArg, rune(c)) {
				if err := a.flag(c); err != nil {
					return nil, err
				}
				continue
			}
			var words []string
			if j+1 < len(arg) {
				words = append(words, arg[j+1:])
			} else {
				if i >= len(args) {
					return nil, fmt.Errorf("ra: option -%c needs an argument", c)
				}
				words = append(words, args[i])
				i++
			}
			if strings.IndexByte(raMultiWord, c) >= 0 {
				for i < len(args) && moreWord(c, args[i]) {
					words = append(words, args[i])
					i++
				}
			}
			if err := a.option(c, words); err != nil {
				return nil, err
			}
			break
		}
	}
	return a, nil
}

// moreWord reports whether w continues the word list of option c.
func moreWord(c byte, w string) bool {
	if w == "-" || w == "--" {
		return false
	}
	if !strings.HasPrefix(w, "-") {
		return true
	}
	// "-dur" after -s removes a field; a single letter is the next option.
	return c == 's' && len(w) > 2 && isFieldWord(w[1:])
}

func isFieldWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ':') {
			return false
		}
	}
	return true
}

func (a *raArgs) flag(c byte) error {
	switch c {
	case 'n':
		a.nflag++
	case 'u':
		a.unix = true
	case '3':
		a.v3 = true
	case 'X':
		a.noConf = true
	case 'q', 'A', 'H', 'z', 'Z', 'b', 'd', 'l', 'x', 'P':
		return fmt.Errorf("ra: option -%c is not supported by flowgate ra", c)
	default:
		return fmt.Errorf("ra: unknown option -%c", c)
	}
	return nil
}

func (a *raArgs) option(c byte, words []string) error {
	w := words[0]
	switch c {
	case 'r':
		a.files = append(a.files, words...)
	case 'R':
		a.dirs = append(a.dirs, words...)
	case 's':
		a.fields = append(a.fields, words...)
	case 'c':
		switch w {
		case `\t`, "tab":
			a.delim = "\t"
		default:
			a.delim = w
		}
	case 'p':
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 9 {
			return fmt.Errorf("ra: -p %q: want digits 0..9", w)
		}
		a.prec = n
	case 'L':
		n, err := strconv.Atoi(w)
		if err != nil || n < -1 {
			return fmt.Errorf("ra: -L %q: want -1, 0 or a line count", w)
		}
		a.labels, a.hasLabels = n, true
	case 'N':
		r, err := parseRecRange(w)
		if err != nil {
			return err
		}
		a.count = r
	case 't':
		a.timeRange = w
	case 'M':
		a.modes = append(a.modes, words...)
	case 'w':
		a.write = w
	default:
		return fmt.Errorf("ra: option -%c is not supported by flowgate ra", c)
	}
	return nil
}

// parseRecRange parses ra's -N: "n" (first n), "n-m", "n+k"; an "i" or "o"
// prefix (input/output counting) is accepted, input is what we count.
func parseRecRange(s string) (recRange, error) {
	bad := fmt.Errorf("ra: -N %q: want n, n-m or n+k", s)
	s = strings.TrimLeft(s, "io")
	num := func(x string) (int64, error) {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		return n, nil
	}
	if i := strings.IndexAny(s, "-+"); i > 0 {
		a, err := num(s[:i])
		if err != nil {
			return recRange{}, err
		}
		b, err := num(s[i+1:])
		if err != nil {
			return recRange{}, err
		}
		if s[i] == '+' {
			b = a + b
		}
		if b < a {
			return recRange{}, bad
		}
		return recRange{first: a, last: b, set: true}, nil
	}
	n, err := num(s)
	if err != nil {
		return recRange{}, err
	}
	return recRange{first: 1, last: n, set: true}, nil
}

// in reports whether the n-th record (1-based) is selected, and whether any
// later record can be.
func (r recRange) in(n int64) (ok, more bool) {
	if !r.set {
		return true, true
	}
	if n < r.first {
		return false, true
	}
	if r.last != 0 && n > r.last {
		return false, false
	}
	return true, r.last == 0 || n < r.last
}
