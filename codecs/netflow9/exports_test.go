package netflow9

import (
	"testing"

	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/internal/nfcore/nftest"
)

// TestGeneratedExports: softflowd's and pmacct's NetFlow v9 exports of
// the generated captures decode to the flows nfcapd 1.7.1 stored (nfdump
// -o csv): keys, counters, flags, and times from FIRST/LAST_SWITCHED
// with the header's sysUpTime and unix secs (to the second, as nfdump
// prints them, and the duration to the millisecond).
func TestGeneratedExports(t *testing.T) {
	dec := func() codecs.PacketDecoder { return NewDecoder() }
	n := nftest.CheckExports(t, "v9", "v9", dec)
	n += nftest.CheckExports(t, "pmacct_v9", "pmacct_v9", dec)
	t.Logf("%d flows compared", n)
}
