package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/flowgate/flowgate/flow"
	"github.com/flowgate/flowgate/gateway"
	"github.com/flowgate/flowgate/gateway/config"
)

// netflowSource is a NetFlow v5/v9 or IPFIX listener: nf+udp://,
// ipfix+udp://, ipfix+tcp://, ipfix+tls://.
type netflowSource struct {
	ep    gateway.Endpoint
	codec *gateway.CodecSet
	udp   *gateway.UDPListener
	tcp   *gateway.TCPListener
}

func newNetFlowSource(s config.Source, env Env) (Source, error) {
	ep := s.Net
	var cc gateway.CodecConfig
	if m := env.Mapping; m != nil && (m.Schema == "ipfix" || m.Schema == "netflow9") {
		if err := cc.SetMapping(m); err != nil {
			return nil, fmt.Errorf("%s: mapping: %w", s.Text, err)
		}
	}
	src := &netflowSource{ep: ep, codec: gateway.NewCodecSetConfig(cc)}
	newDec := func() gateway.Decoders { return src.codec.New().Only(ep.Format) }
	var err error
	switch ep.Transport {
	case gateway.TransportUDP:
		src.udp, err = gateway.ListenUDP(ep.Addr, ep.Opts, newDec)
		if err == nil {
			if asked, got := src.udp.Granted(); got < asked && env.Log != nil {
				env.Log.Warn("receive buffer smaller than asked (raise net.core.rmem_max, or run with CAP_NET_ADMIN)",
					"source", s.Text, "asked", asked, "granted", got)
			}
		}
	case gateway.TransportTCP, gateway.TransportTLS:
		if ep.Transport == gateway.TransportTLS && ep.Opts.Cert == "" {
			return nil, fmt.Errorf("%s: a TLS listener needs ?cert=FILE&key=FILE", s.Text)
		}
		src.tcp, err = gateway.ListenTCP(ep.Addr, ep.Opts, src.codec.New)
		if err == nil {
			src.tcp.SessionEnd = src.codec.Release
		}
	default:
		return nil, fmt.Errorf("%s: cannot listen on %s", s.Text, ep.Transport)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Text, err)
	}
	return src, nil
}

func (s *netflowSource) Run(ctx context.Context, emit Emitter) error {
	h := func(recs []flow.Record) error { return emit.Emit(ctx, recs) }
	if oe, ok := emit.(OwnedEmitter); ok {
		// Hand the workers' batches over rather than copy each record.
		owned := func(recs []flow.Record, arena []byte) ([]flow.Record, []byte, error) {
			return oe.EmitOwned(ctx, recs, arena)
		}
		if s.udp != nil {
			s.udp.SetOwned(owned)
		} else {
			s.tcp.SetOwned(owned)
		}
	}
	var err error
	if s.udp != nil {
		err = s.udp.Serve(ctx, h)
	} else {
		err = s.tcp.Serve(ctx, h)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *netflowSource) stats() gateway.Stats {
	if s.udp != nil {
		return s.udp.Stats()
	}
	return s.tcp.Stats()
}

// Stats maps the listener's per-exporter error rows onto the daemon's
// reasons. NetFlow losses are messages (or flowsets): a datagram that
// does not decode has no countable records.
func (s *netflowSource) Stats() SourceStats {
	st := s.stats()
	out := SourceStats{Records: st.Records}
	for _, row := range st.ErrorRows {
		class, detail, _ := strings.Cut(row.Reason, ": ")
		r := ReasonMalformed
		switch class {
		case "template":
			r = ReasonNoTemplate
			if strings.Contains(detail, "expired") {
				r = ReasonTemplateExpired
			}
		}
		exp := ""
		if row.Exporter.IsValid() {
			exp = row.Exporter.Addr().String()
		}
		out.Lost = append(out.Lost, Loss{Reason: r, Exporter: exp, Unit: "messages", Detail: row.Reason, N: row.N})
	}
	if st.KernelDrops > 0 {
		// The kernel's drops: datagrams, unknown exporter.
		out.Lost = append(out.Lost, Loss{Reason: ReasonQueueFull, Unit: "messages", Detail: "socket buffer full (kernel)", N: st.KernelDrops})
	}
	return out
}

func (s *netflowSource) Listening() []string {
	if s.udp != nil {
		return []string{fmt.Sprintf("%s udp %s", s.ep.Scheme, s.udp.Addr())}
	}
	return []string{fmt.Sprintf("%s tcp %s", s.ep.Scheme, s.tcp.Addr())}
}

func (s *netflowSource) Close() error {
	if s.udp != nil {
		return s.udp.Close()
	}
	return s.tcp.Close()
}

func (s *netflowSource) String() string { return s.ep.String() }

// SetRaw hands the listener's messages to h as received (RawSource).
func (s *netflowSource) SetRaw(h gateway.RawHandler, decode bool) error {
	if s.udp != nil {
		return s.udp.SetRaw(h, decode)
	}
	return s.tcp.SetRaw(h, decode)
}
