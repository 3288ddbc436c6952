package conformance

// Our decoders, registered for the NetFlow/IPFIX conformance tests.

import (
	"github.com/flowgate/flowgate/codecs"
	"github.com/flowgate/flowgate/codecs/ipfix"
	"github.com/flowgate/flowgate/codecs/netflow5"
	"github.com/flowgate/flowgate/codecs/netflow9"
)

func init() {
	ourDecoders[5] = func() codecs.PacketDecoder { return netflow5.NewDecoder(0) }
	ourDecoders[9] = func() codecs.PacketDecoder { return netflow9.NewDecoder() }
	ourDecoders[10] = func() codecs.PacketDecoder { return ipfix.NewDecoder() }
}
