package ipfix

import (
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
)

// TestGeneratedExports: softflowd's and pmacct's IPFIX exports of the
// generated captures decode to the flows nfcapd 1.7.1 stored (nfdump -o
// csv), every time encoding included: milliseconds, microseconds and
// nanoseconds (NTP), sysUpTime with systemInitTimeMilliseconds from
// options data, and RFC 5103 biflows. nfdump misprints the NTP and uptime
// times, so those variants' times are checked against the millisecond
// variant's (the same flows).
func TestGeneratedExports(t *testing.T) {
	dec := func() codecs.PacketDecoder { return NewDecoder() }
	n := 0
	for _, v := range [][2]string{
		{"ipfix", "ipfix"}, {"ipfix_bi", "ipfix_bi"}, {"ipfix_micro", "ipfix"},
		{"ipfix_nano", "ipfix"}, {"ipfix_uptime", "ipfix"}, {"pmacct_ipfix", "pmacct_ipfix"},
	} {
		n += nftest.CheckExports(t, v[0], v[1], dec)
	}
	t.Logf("%d flows compared", n)
}
