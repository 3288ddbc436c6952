package ipfix

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestGeneratedExportsTshark: the flows' start and end times, to the
// microsecond, are those tshark 4.0.17 decoded from the same export
// packets (cflow.abstimestart/abstimeend): milliseconds, NTP micro- and
// nanoseconds, biflows and pmacct. tshark prints NTP fractions as
// .000000999 where the exporter wrote whole microseconds, so a 1 µs
// tolerance. (tshark does not place uptime-relative IPFIX times.)
func TestGeneratedExportsTshark(t *testing.T) {
	corpus := nftest.Corpus(t)
	n := 0
	for _, v := range []string{"ipfix", "ipfix_bi", "ipfix_micro", "ipfix_nano", "pmacct_ipfix"} {
		pcaps, _ := filepath.Glob(filepath.Join(corpus, "generated/exports", v, "pcap/*.pcap"))
		for _, pc := range pcaps {
			name := strings.TrimSuffix(filepath.Base(pc), ".pcap")
			want, err := nftest.TsharkFlowTimes(filepath.Join(corpus, "generated/exports", v, "tshark", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			recs := nftest.DecodeCapture(t, NewDecoder(), pc)
			if len(recs) != len(want) {
				t.Errorf("%s/%s: %d records, tshark %d flows", v, name, len(recs), len(want))
				continue
			}
			for i := range recs {
				for j, got := range []int64{recs[i].Start, recs[i].Last} {
					if d := got - want[i][j].UnixNano(); d < -1000 || d > 1000 {
						t.Errorf("%s/%s record %d time %d: ours %s, tshark %s", v, name, i, j,
							time.Unix(0, got).UTC().Format(time.RFC3339Nano), want[i][j].Format(time.RFC3339Nano))
					}
				}
				n++
			}
		}
	}
	t.Logf("%d flows' times compared", n)
}
