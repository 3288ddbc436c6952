package zeek_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowgate/flowgate/codecs/zeek"
	"github.com/flowgate/flowgate/flow"
)

// Read a TSV conn.log and write it again as JSON lines.
func Example() {
	const log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n" +
		"1601998366.785668\tCNgrt04tHika5Pgpfi\t10.0.0.1\t54170\t10.0.0.53\t53\tudp\tdns\t0.007707\t37\t77\tSF\t-\t-\t0\tDd\t1\t85\t1\t125\t-\n"
	rd := zeek.NewReader(strings.NewReader(log))
	w := zeek.NewWriter(os.Stdout, zeek.WithFormat(zeek.FormatJSON))
	var rec flow.Record
	for {
		err := rd.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rec.Key.Src, rec.Key.Proto, rec.Pkts, rec.Bytes, rec.AppBytes, rec.Last-rec.Start)
		w.Encode(&rec)
	}
	w.Close()
	// Output:
	// 10.0.0.1 17 [1 1] [85 125] [37 77] 7707000
	// {"ts":1601998366.785668,"uid":"CNgrt04tHika5Pgpfi","id.orig_h":"10.0.0.1","id.orig_p":54170,"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","service":"dns","duration":0.007707118988037109,"orig_bytes":37,"resp_bytes":77,"conn_state":"SF","missed_bytes":0,"history":"Dd","orig_pkts":1,"orig_ip_bytes":85,"resp_pkts":1,"resp_ip_bytes":125}
}
