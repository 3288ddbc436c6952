package daemon

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Ready is nil when the daemon runs and every component is up: what
// /readyz answers. The error lists what is not.
func (d *Daemon) Ready() error {
	if !d.running.Load() {
		return errors.New("not started")
	}
	if d.stopping.Load() {
		return errors.New("shutting down")
	}
	var errs []error
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.sources {
		if err := s.err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: source %s: %w", s.pipeline, s.name, err))
		} else if r, ok := s.src.(Readier); ok {
			if err := r.Ready(); err != nil {
				errs = append(errs, fmt.Errorf("%s: source %s: %w", s.pipeline, s.name, err))
			}
		}
	}
	for _, s := range d.sinks {
		if err := s.err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: sink %s: %w", s.pipeline, s.name, err))
		} else if r, ok := s.sink.(Readier); ok {
			if err := r.Ready(); err != nil {
				errs = append(errs, fmt.Errorf("%s: sink %s: %w", s.pipeline, s.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Handler serves /metrics (Prometheus), /healthz (the process answers)
// and /readyz (Ready: 200, or 503 with the reasons, one a line).
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
