//go:build !linux

package capture

import (
	"fmt"

	"github.com/flowgate/flowgate/codecs"
)

// OpenLive captures frames on a network interface. Live capture needs
// Linux's AF_PACKET; elsewhere it reports codecs.ErrUnsupported.
func OpenLive(iface string, opts LiveOptions) (LiveSource, error) {
	return nil, fmt.Errorf("capture: live capture on %s: %w (AF_PACKET is Linux only)", iface, codecs.ErrUnsupported)
}
