package zeek

import (
	"math/rand"
	"net/netip"
	"strconv"
	"testing"
)

// TestFastPaths: the reader's one-pass parsers take exactly what the
// general ones (net/netip, parseTime with canonicalFixed6) take, with the
// same value, and leave everything else to them.
func TestFastPaths(t *testing.T) {
	addrs := []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "10.0.0.255", "192.168.1.10",
		"256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "1.2.3.4 ",
		"1234.1.1.1", "1.2.3.04", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "", "-", "1.2.3.a", "00.1.1.1"}
	times := []string{"1601998366.785668", "0.000001", "0.123456", "9223372036.854775", "9223372036.854776",
		"9999999999.999999", "10000000000.000000", "00.000000", "01.000000", "1.00000", "1.0000000",
		"1e3", "1.5", "-1.000000", "1.00000a", "123456789.123456", "", ".000000", "1601998366.78566X"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		addrs = append(addrs, strconv.Itoa(rng.Intn(300))+"."+strconv.Itoa(rng.Intn(12))+"."+
			strconv.Itoa(rng.Intn(1000))+"."+strconv.Itoa(rng.Intn(256)))
		times = append(times, strconv.FormatFloat(rng.Float64()*float64(uint64(1)<<uint(rng.Intn(36))), 'f', 6, 64))
	}
	for _, a := range addrs {
		want, err := netip.ParseAddr(a)
		got, ok := parseIPv4([]byte(a))
		if ok && (err != nil || got != want) {
			t.Errorf("parseIPv4(%q) = %v; netip.ParseAddr: %v, %v", a, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Errorf("parseIPv4(%q) refuses what netip.ParseAddr takes", a)
		}
	}
	for _, s := range times {
		want, wok := parseTime([]byte(s))
		got, ok := fixed6([]byte(s))
		if ok && (!wok || got != want || !canonicalFixed6([]byte(s))) {
			t.Errorf("fixed6(%q) = %d; parseTime: %d, %v", s, got, want, wok)
		}
		if !ok && wok && canonicalFixed6([]byte(s)) && len(s) <= 16 {
			t.Errorf("fixed6(%q) refuses a canonical time", s)
		}
	}
}

// TestScanTSV: the word-at-a-time scan finds the separators and the
// bytes that need the slow checks as a byte loop does.
func TestScanTSV(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	alphabet := []byte("\t\t,.0123456789abc\\\x7e\x7f\x80\xff\x00 ")
	for i := 0; i < 20000; i++ {
		line := make([]byte, rng.Intn(70))
		for j := range line {
			line[j] = alphabet[rng.Intn(len(alphabet))]
		}
		for _, sep := range []byte{'\t', ',', 0, 0xff} {
			var want []int
			wspec := false
			for j, c := range line {
				if c == sep {
					want = append(want, j)
				}
				wspec = wspec || c == '\\' || c >= 0x7f
			}
			got, spec := scanTSV(nil, line, sep)
			if spec != wspec || len(got) != len(want) {
				t.Fatalf("scanTSV(%q, %q) = %v, %v; want %v, %v", line, sep, got, spec, want, wspec)
			}
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("scanTSV(%q, %q) = %v; want %v", line, sep, got, want)
				}
			}
		}
	}
}

// TestParseUint: parseUint agrees with strconv.ParseUint on plain
// decimal digits, overflow included.
func TestParseUint(t *testing.T) {
	in := []string{"0", "7", "00", "0123", "65535", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "9999999999999999999", "100000000000000000000", "", "-1", "+1", "1a", " 1"}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 5000; i++ {
		in = append(in, strconv.FormatUint(rng.Uint64()>>uint(rng.Intn(64)), 10))
	}
	for _, s := range in {
		got, ok := parseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		if s != "" && (s[0] == '+' || s[0] == '-') {
			err = strconv.ErrSyntax // ParseUint's sign: not a Zeek count
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseUint(%q) = %d, %v; strconv: %d, %v", s, got, ok, want, err)
		}
	}
}

// TestHasSpecial: the word-at-a-time test of a JSON line agrees with a
// byte loop, on every byte value in every position of a word.
func TestHasSpecial(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 19; pos++ {
			b := []byte("0123456789abcdefghi")
			b[pos] = byte(c)
			want := c == '\\' || c >= 0x7f
			if got := hasSpecial(b); got != want {
				t.Fatalf("hasSpecial(%q) = %v", b, got)
			}
			if _, got := scanTSV(nil, b, '\t'); got != want {
				t.Fatalf("scanTSV(%q) special = %v", b, got)
			}
		}
	}
}

// TestJSONFloatFast: the decimal fast path of appendJSONFloat prints what
// the general one (from strconv's shortest 'e' digits) does.
func TestJSONFloatFast(t *testing.T) {
	in := []float64{1e-5, 1e-5 * (1 - 1e-16), 9.999999999999999e-6, 1, 1.5, 3, 12.5, 1e19, 9.999999999999999e19,
		1e20 * (1 - 1e-16), 123456789012345678, 0.1, 0.123456, 1601998366.785668, 1601998366.785668 - 1601998366.5}
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 100000; i++ {
		e := rng.Intn(28) - 6
		f := rng.Float64()
		for ; e > 0; e-- {
			f *= 10
		}
		for ; e < 0; e++ {
			f /= 10
		}
		in = append(in, f, float64(rng.Int63n(1<<53)), zeekTime(1601998366785668000+rng.Int63n(1e15))-zeekTime(1601998366785668000))
	}
	for _, f := range in {
		got, want := appendJSONFloat(nil, f), appendJSONFloatE(nil, f)
		if string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", f, got, want)
		}
	}
}
