package csv_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/flowgate/flowgate/codecs/csv"
	"github.com/flowgate/flowgate/flow"
)

// Read ra's CSV (ra -r FILE -c , -L0 -n -u -s stime ltime saddr sport
// daddr dport proto spkts dpkts sbytes dbytes state) and write it as
// nfdump's columns.
func Example() {
	in := `StartTime,LastTime,SrcAddr,Sport,DstAddr,Dport,Proto,SrcPkts,DstPkts,SrcBytes,DstBytes,State
1700000000.000000,1700000000.007170,10.1.100.1,40020,10.1.100.2,8080,tcp,6,4,366,731,FIN
1700000000.500000,1700000001.501000,10.1.200.1,5000,10.1.200.2,5001,udp,1,1,146,246,CON
`
	rd, _ := csv.NewReader(strings.NewReader(in), "argus")
	w, _ := csv.NewWriter(os.Stdout, "nfdump")
	var r flow.Record
	for rd.Decode(&r) == nil {
		w.Encode(&r)
	}
	w.Close()
	fmt.Println("not mapped:", rd.Unmapped())
	// Output:
	// ts,te,td,sa,da,sp,dp,pr,flg,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,dtos,nh,nhb,svln,dvln,ismc,idmc,ra
	// 2023-11-14T22:13:20,2023-11-14T22:13:20,0.007,10.1.100.1,10.1.100.2,40020,8080,TCP,,,6,366,4,731,,,,,,,,,,,,
	// 2023-11-14T22:13:20,2023-11-14T22:13:21,1.001,10.1.200.1,10.1.200.2,5000,5001,UDP,,,1,146,1,246,,,,,,,,,,,,
	// not mapped: [State]
}
