package sensor

import (
	"time"

	"github.com/flowgate/flowgate/sensor/argusconf"
	"github.com/flowgate/flowgate/sensor/track"
)

// ConfOptions maps argus.conf variables to the sensor's options: the
// tracker's timeouts and per-flow data, tunnel parsing, the MAR and
// status report intervals. Callers add what argus.conf does not say
// (the Argus version written, shards, monitor id).
func ConfOptions(c argusconf.Config) Options {
	return Options{
		Track: track.Options{
			StatusInterval: c.FlowStatus,
			IPTimeout:      c.IPTimeout,
			TCPTimeout:     c.TCPTimeout,
			ICMPTimeout:    c.ICMPTimeout,
			IGMPTimeout:    c.IGMPTimeout,
			FragTimeout:    c.FragTimeout,
			ARPTimeout:     c.ARPTimeout,
			OtherTimeout:   c.OtherTimeout,
			MAC:            c.MAC,
			AppBytes:       c.AppBytes,
			Jitter:         c.Jitter,
			Response:       c.ResponseTime,
			PktSize:        c.PacketSize,
			UserData:       c.CaptureDataLen,
		},
		NoTunnels:      !c.TunnelParsing,
		MarInterval:    uint16(c.MarStatus / time.Second),
		ReportInterval: uint16(max(c.FlowStatus/time.Second, 1)),
	}
}
