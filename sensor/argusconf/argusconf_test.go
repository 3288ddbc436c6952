package argusconf

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	conf := `# a comment
ARGUS_MONITOR_ID=192.168.7.9
ARGUS_MONITOR_ID_INCLUDE_INF=yes
ARGUS_FLOW_STATUS_INTERVAL=2.5 // seconds
ARGUS_GENERATE_MAC_DATA=yes
ARGUS_GENERATE_APPBYTE_METRIC="yes"
ARGUS_CAPTURE_DATA_LEN=32
ARGUS_OUTPUT_FILE="/var/log/argus/argus.out tcp"
ARGUS_TCP_TIMEOUT=120
ARGUS_PCAP_BUF_SIZE=8388608
`
	c := Default()
	if err := c.Read(strings.NewReader(conf), "argus.conf"); err != nil {
		t.Fatal(err)
	}
	if c.MonitorID != "192.168.7.9" || !c.MonitorIDIncInf || c.FlowStatus != 2500*time.Millisecond ||
		!c.MAC || !c.AppBytes || c.CaptureDataLen != 32 || c.TCPTimeout != 120*time.Second ||
		c.ICMPTimeout != 5*time.Second || len(c.OutputFiles) != 1 || c.OutputFiles[0] != "/var/log/argus/argus.out tcp" ||
		len(c.Ignored) != 1 {
		t.Errorf("got %+v", c)
	}
}

func TestReadErrors(t *testing.T) {
	for _, bad := range []string{"ARGUS_TCP_TIMEOUT=soon", "ARGUS_TCP_TIMEOUT =60", "JUNK", "NOT_ARGUS=1", "ARGUS_GENERATE_MAC_DATA=maybe"} {
		c := Default()
		err := c.Read(strings.NewReader("# x\n"+bad+"\n"), "f.conf")
		var e *Error
		if !errors.As(err, &e) || e.Line != 2 || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want a syntax error at f.conf:2", bad, err)
		}
	}
}

// TestDebianArgusConf reads the argus.conf Debian's argus-server package
// installs, when present: every line must parse.
func TestDebianArgusConf(t *testing.T) {
	const p = "/etc/argus.conf"
	if _, err := os.Stat(p); err != nil {
		t.Skip("no /etc/argus.conf (Debian package argus-server)")
	}
	c := Default()
	if err := c.ReadFile(p); err != nil {
		t.Fatal(err)
	}
}
