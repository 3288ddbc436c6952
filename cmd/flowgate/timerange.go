package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeRange is ra's -t: a period and how a record's [start, last] must
// relate to it.
type timeRange struct {
	from, to int64 // Unix ns, half-open [from, to)
	mode     byte  // 'i' intersects (default), 'n' includes, 'c' contained
	negate   bool
}

// match applies the range to a record active over [start, last].
func (t *timeRange) match(start, last int64) bool {
	var ok bool
	switch t.mode {
	case 'n':
		ok = start <= t.from && last >= t.to
	case 'c':
		ok = start >= t.from && last < t.to
	default:
		ok = start < t.to && last >= t.from
	}
	return ok != t.negate
}

// parseTimeRange parses ra's -t syntax:
//
//	[x][i|n|c]spec[-spec] or [x][i|n|c]spec+duration
//
// where spec is yyyy, yyyy/mm, [yyyy/]mm/dd, [[[yyyy/]mm/]dd.]HH[:MM[:SS]],
// epoch seconds, or -N{y,M,d,h,m,s}... relative to now. Wildcards are not
// supported. Times are in the local zone (TZ), as ra uses.
func parseTimeRange(s string, now time.Time) (*timeRange, error) {
	orig := s
	t := &timeRange{mode: 'i'}
	if strings.HasPrefix(s, "x") {
		t.negate = true
		s = s[1:]
	}
	if s != "" && strings.IndexByte("inc", s[0]) >= 0 {
		t.mode = s[0]
		s = s[1:]
	}
	bad := func(why string) error { return fmt.Errorf("ra: -t %q: %s", orig, why) }
	if strings.ContainsAny(s, "*") {
		return nil, bad("wildcards are not supported")
	}
	if s == "" {
		return nil, bad("empty time specification")
	}
	// Split start from end or duration. A leading '-' is a relative start.
	startSpec, rest, sep := s, "", byte(0)
	for i := 1; i < len(s); i++ {
		if s[i] == '-' || s[i] == '+' {
			startSpec, rest, sep = s[:i], s[i+1:], s[i]
			break
		}
	}
	from, gran, err := parseTimeSpec(startSpec, now)
	if err != nil {
		return nil, bad(err.Error())
	}
	to := gran(from)
	switch sep {
	case '-':
		// Fields the end leaves out are the start's ("23.11:10-14").
		b, g2, err := parseTimeSpec(rest, from)
		if err != nil {
			return nil, bad(err.Error())
		}
		to = g2(b)
	case '+':
		d, err := addRelative(from, rest, 1)
		if err != nil {
			return nil, bad(err.Error())
		}
		to = d
	}
	if !to.After(from) {
		return nil, bad("empty period")
	}
	t.from, t.to = from.UnixNano(), to.UnixNano()
	return t, nil
}

type granularity func(time.Time) time.Time

func parseTimeSpec(s string, now time.Time) (time.Time, granularity, error) {
	loc := now.Location()
	if strings.HasPrefix(s, "-") {
		t, err := addRelative(now, s[1:], -1)
		return t, func(t time.Time) time.Time { return now }, err
	}
	// Epoch seconds: all digits (at least 9) with an optional fraction.
	if n := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); n < 0 && len(s) >= 9 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, nil, err
		}
		sec := int64(f)
		t := time.Unix(sec, int64((f-float64(sec))*1e9)).In(loc)
		return t, func(t time.Time) time.Time { return t.Add(time.Second) }, nil
	}
	y, mo, d := now.Date()
	date, clock := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		date, clock = s[:i], s[i+1:]
	} else if !strings.Contains(s, "/") && len(s) != 4 {
		date, clock = "", s // "14", "14:10"
	}
	g := granularity(func(t time.Time) time.Time { return t.AddDate(0, 0, 1) })
	if date != "" {
		parts := strings.Split(date, "/")
		nums := make([]int, len(parts))
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil {
				return time.Time{}, nil, fmt.Errorf("bad date %q", date)
			}
			nums[i] = n
		}
		switch {
		case len(nums) == 1 && len(parts[0]) == 4 && clock == "":
			y, mo, d = nums[0], 1, 1
			g = func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
		case len(nums) == 1:
			d = nums[0]
		case len(nums) == 2 && len(parts[0]) == 4:
			y, mo, d = nums[0], time.Month(nums[1]), 1
			g = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
		case len(nums) == 2:
			mo, d = time.Month(nums[0]), nums[1]
		case len(nums) == 3:
			y, mo, d = nums[0], time.Month(nums[1]), nums[2]
		default:
			return time.Time{}, nil, fmt.Errorf("bad date %q", date)
		}
	}
	h, mi, sec := 0, 0, 0
	if clock != "" {
		parts := strings.Split(clock, ":")
		if len(parts) > 3 {
			return time.Time{}, nil, fmt.Errorf("bad time %q", clock)
		}
		vals := []*int{&h, &mi, &sec}
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil {
				return time.Time{}, nil, fmt.Errorf("bad time %q", clock)
			}
			*vals[i] = n
		}
		units := []time.Duration{time.Hour, time.Minute, time.Second}
		u := units[len(parts)-1]
		g = func(t time.Time) time.Time { return t.Add(u) }
	}
	return time.Date(y, mo, d, h, mi, sec, 0, loc), g, nil
}

// addRelative adds sign times a duration like "1d", "2h5m", "10m", "1M".
func addRelative(t time.Time, s string, sign int) (time.Time, error) {
	if s == "" {
		return t, fmt.Errorf("empty duration")
	}
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return t, fmt.Errorf("bad duration %q", s)
		}
		n, _ := strconv.Atoi(s[:i])
		n *= sign
		switch s[i] {
		case 'y':
			t = t.AddDate(n, 0, 0)
		case 'M':
			t = t.AddDate(0, n, 0)
		case 'd':
			t = t.AddDate(0, 0, n)
		case 'h':
			t = t.Add(time.Duration(n) * time.Hour)
		case 'm':
			t = t.Add(time.Duration(n) * time.Minute)
		case 's':
			t = t.Add(time.Duration(n) * time.Second)
		default:
			return t, fmt.Errorf("bad duration unit %q", s[i])
		}
		s = s[i+1:]
	}
	return t, nil
}
