package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/gateway/config"
	"github.com/flowgate/flowgate/gateway/daemon"
	"github.com/spf13/cobra"
)

// newGatewayCmd is `flowgate gateway`: the long-running service.
func newGatewayCmd() *cobra.Command {
	var file, metrics string
	var check bool
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "gateway [-c FILE] [--check]",
		Short: "Run the flow gateway from a config file",
		Long: `gateway runs pipelines of sources, an optional ra filter, an optional
mapping, and sinks, as a config file says (see the gateway/config package
doc for the format). Without -c it uses the embedded default: NetFlow/IPFIX
on UDP 2055 and 4739, Argus served on TCP 561, rotated Argus v5 files under
./data, JSON lines on stdout, metrics on :9800.

It prints what it listens on, serves Prometheus /metrics, /healthz and
/readyz on the config's metrics: address, and runs until SIGTERM or SIGINT,
when it stops its sources, drains every queue, and flushes and closes every
sink. SIGHUP reloads the config file and its mappings: unchanged sources and
sinks keep running, new ones open before old ones close, and a config that
does not load or open changes nothing. A config of files only ends when
every file is read.

--check loads and validates the config and prints its pipelines; a bad file
exits 1 with every error as file:line:col: path: what.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadGatewayConfig(file, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if check {
				fmt.Fprint(cmd.OutOrStdout(), c.Summary())
				return nil
			}
			if cmd.Flags().Changed("metrics") {
				c.Metrics = metrics
			}
			if os.Getenv("GOGC") == "" {
				// Records go through the heap in batches of thousands:
				// at GOGC=100 the collector took a tenth of a Kafka →
				// Argus gateway's CPU. 200 gave 1.12–1.19M records/s
				// against 0.96–1.0M (5M records), for twice the heap's headroom
				// (GOGC and GOMEMLIMIT still rule when set).
				debug.SetGCPercent(gatewayGOGC)
			}
			return runGateway(cmd.Context(), c, file, duration, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config `FILE` (default: the embedded default config)")
	cmd.Flags().BoolVar(&check, "check", false, "validate the config, print its pipelines and exit")
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve /metrics, /healthz and /readyz on `ADDR` instead of the config's metrics: (\"\" none)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after `D` (0: run until SIGTERM)")
	return cmd
}

// gatewayGOGC is the gateway's GC percentage when GOGC is not set.
const gatewayGOGC = 200

// loadGatewayConfig loads file (the embedded default for "") and prints
// a bad file's errors one a line, file:line:col first, as compilers print
// them (editors jump to them).
func loadGatewayConfig(file string, stderr io.Writer) (*config.Config, error) {
	var c *config.Config
	var err error
	if file == "" {
		c, err = config.LoadDefault()
	} else {
		c, err = config.LoadFile(file)
	}
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintln(stderr, es)
			return nil, exitStatus{1, fmt.Errorf("gateway: %d error(s) in %s", len(es), es[0].File)}
		}
		return nil, exitStatus{1, fmt.Errorf("gateway: %w", err)}
	}
	return c, nil
}

func runGateway(ctx context.Context, c *config.Config, file string, duration time.Duration, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	d, err := daemon.New(c, daemon.Options{Stdout: stdout, Log: log})
	if err != nil {
		return exitStatus{1, fmt.Errorf("gateway: %w", err)}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	name := c.Name
	for _, l := range d.Listening() {
		fmt.Fprintf(stderr, "flowgate gateway: %s\n", l)
	}
	var srv *http.Server
	if c.Metrics != "" {
		ln, err := net.Listen("tcp", c.Metrics)
		if err != nil {
			return exitStatus{1, fmt.Errorf("gateway: metrics: %w", err)}
		}
		srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		fmt.Fprintf(stderr, "flowgate gateway: metrics on http://%s/metrics (also /healthz, /readyz)\n", ln.Addr())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			nc, err := loadGatewayConfig(file, stderr)
			if err == nil {
				err = d.Reload(nc)
			}
			if err != nil {
				log.Error("reload failed; the running config stays", "config", name, "err", err)
				continue
			}
			log.Info("reloaded", "config", name)
		}
	}()
	fmt.Fprintf(stderr, "flowgate gateway: running %s (%d pipelines); SIGHUP reloads, SIGTERM stops\n", name, len(c.Pipelines))
	err = d.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	if err != nil {
		return exitStatus{1, fmt.Errorf("gateway: %w", err)}
	}
	return nil
}
