package main

import (
	"reflect"
	"testing"
	"time"
)

func TestParseRaArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want raArgs
	}{
		{
			args: []string{"-r", "a", "b", "-nn", "-u", "-c", ",", "-s", "stime", "-dur", "+saddr", "-", "tcp", "and", "port", "80"},
			want: raArgs{files: []string{"a", "b"}, nflag: 2, unix: true, delim: ",", fields: []string{"stime", "-dur", "+saddr"}, prec: -1, filter: "tcp and port 80"},
		},
		{
			args: []string{"-X", "-r", "-", "-p3", "-c,", "-L", "-1", "-N", "5-10", "-M", "json", "man"},
			want: raArgs{noConf: true, files: []string{"-"}, prec: 3, delim: ",", labels: -1, hasLabels: true, count: recRange{5, 10, true}, modes: []string{"json", "man"}},
		},
		{
			args: []string{"-r", "x", "-w", "out", "-3", "host", "1.2.3.4"},
			want: raArgs{files: []string{"x"}, write: "out", v3: true, prec: -1, filter: "host 1.2.3.4"},
		},
		{
			args: []string{"-c", `\t`, "-N", "3+2", "-t", "2023/11/14"},
			want: raArgs{delim: "\t", count: recRange{3, 5, true}, timeRange: "2023/11/14", prec: -1},
		},
	} {
		got, err := parseRaArgs(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.args, *got, tc.want)
		}
	}
	for _, bad := range [][]string{{"-r"}, {"-p", "x"}, {"-N", "5-2"}, {"-Q"}} {
		if _, err := parseRaArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestRecRange(t *testing.T) {
	r := recRange{first: 2, last: 3, set: true}
	var got []int64
	for n := int64(1); n <= 5; n++ {
		ok, more := r.in(n)
		if ok {
			got = append(got, n)
		}
		if !more {
			break
		}
	}
	if !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Errorf("got %v", got)
	}
}

func TestTimeRange(t *testing.T) {
	loc := time.UTC
	now := time.Date(2023, 11, 14, 22, 30, 0, 0, loc)
	ts := func(s string) int64 {
		x, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return x.UnixNano()
	}
	for _, tc := range []struct {
		spec     string
		from, to string
	}{
		{"2011", "2011-01-01 00:00:00", "2012-01-01 00:00:00"},
		{"2011/08-2011/10", "2011-08-01 00:00:00", "2011-11-01 00:00:00"},
		{"14", "2023-11-14 14:00:00", "2023-11-14 15:00:00"},
		{"15-23", "2023-11-14 15:00:00", "2023-11-15 00:00:00"},
		{"2023/11/14.22:13:20+5s", "2023-11-14 22:13:20", "2023-11-14 22:13:25"},
		{"1700000000+2s", "2023-11-14 22:13:20", "2023-11-14 22:13:22"},
		{"-10m", "2023-11-14 22:20:00", "2023-11-14 22:30:00"},
		{"23.11:10-14", "2023-11-23 11:10:00", "2023-11-23 15:00:00"},
	} {
		tr, err := parseTimeRange(tc.spec, now)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if tr.from != ts(tc.from) || tr.to != ts(tc.to) {
			t.Errorf("%s: got [%s, %s), want [%s, %s)", tc.spec,
				time.Unix(0, tr.from).In(loc), time.Unix(0, tr.to).In(loc), tc.from, tc.to)
		}
	}
	tr, _ := parseTimeRange("c2023/11/14.22:13:20+10s", now)
	if !tr.match(ts("2023-11-14 22:13:21"), ts("2023-11-14 22:13:22")) || tr.match(ts("2023-11-14 22:13:19"), ts("2023-11-14 22:13:22")) {
		t.Error("contained mode wrong")
	}
	if _, err := parseTimeRange("**.14", now); err == nil {
		t.Error("wildcard accepted")
	}
}
