package server

import (
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/flagon/flagon"
)

// metrics counts what /metrics reports, in the Prometheus text format.
type metrics struct {
	start   time.Time
	reloads atomic.Int64
	// usage holds the evaluation counters, from the client's usage
	// counts.
	usage *usageCollector
	// auditDropped, if set, counts override-link audit entries not
	// written because an anonymous client went past its rate.
	auditDropped func() int64
}

func newMetrics() *metrics {
	return &metrics{start: time.Now()}
}

func (m *metrics) handler(client *flagon.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		byReason, byFlag := m.usage.snapshot()
		fmt.Fprintln(w, "# HELP flagon_evaluations_total Flag evaluations by reason.")
		fmt.Fprintln(w, "# TYPE flagon_evaluations_total counter")
		for _, r := range []flagon.Reason{flagon.ReasonDefault, flagon.ReasonDisabled, flagon.ReasonError,
			flagon.ReasonOverride, flagon.ReasonSplit, flagon.ReasonStatic, flagon.ReasonTargetingMatch} {
			fmt.Fprintf(w, "flagon_evaluations_total{reason=%q} %d\n", r, byReason[r])
		}
		fmt.Fprintln(w, "# HELP flagon_flag_evaluations_total Evaluations per flag and variant served; flags past the cap (-metrics-flags) are counted as flag=\"(other)\".")
		fmt.Fprintln(w, "# TYPE flagon_flag_evaluations_total counter")
		for _, l := range byFlag {
			fmt.Fprintf(w, "flagon_flag_evaluations_total{flag=%q,variant=%q} %d\n", l.flag, l.variant, l.n)
		}
		fmt.Fprintln(w, "# HELP flagon_unknown_flag_evaluations_total Evaluations of flags that do not exist (misspelt or removed keys).")
		fmt.Fprintln(w, "# TYPE flagon_unknown_flag_evaluations_total counter")
		fmt.Fprintf(w, "flagon_unknown_flag_evaluations_total %d\n", client.UnknownFlagEvaluations())
		fmt.Fprintln(w, "# HELP flagon_reloads_total Snapshots swapped in since start.")
		fmt.Fprintln(w, "# TYPE flagon_reloads_total counter")
		fmt.Fprintf(w, "flagon_reloads_total %d\n", m.reloads.Load())
		snap := client.Snapshot()
		st := client.Status()
		age, flags := 0.0, 0
		if snap != nil {
			age = time.Since(snap.Created()).Seconds()
			flags = snap.Len()
		}
		fmt.Fprintln(w, "# HELP flagon_snapshot_age_seconds Seconds since the serving snapshot's data was read.")
		fmt.Fprintln(w, "# TYPE flagon_snapshot_age_seconds gauge")
		fmt.Fprintf(w, "flagon_snapshot_age_seconds %g\n", age)
		fmt.Fprintln(w, "# HELP flagon_snapshot_stale 1 when the source failed to refresh and serves its last snapshot.")
		fmt.Fprintln(w, "# TYPE flagon_snapshot_stale gauge")
		fmt.Fprintf(w, "flagon_snapshot_stale %d\n", b2i(st.Stale))
		fmt.Fprintln(w, "# HELP flagon_flags Flags in the serving snapshot.")
		fmt.Fprintln(w, "# TYPE flagon_flags gauge")
		fmt.Fprintf(w, "flagon_flags %d\n", flags)
		if m.auditDropped != nil {
			fmt.Fprintln(w, "# HELP flagon_audit_dropped_total Override-link audit entries not written: anonymous clients past their rate.")
			fmt.Fprintln(w, "# TYPE flagon_audit_dropped_total counter")
			fmt.Fprintf(w, "flagon_audit_dropped_total %d\n", m.auditDropped())
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintln(w, "# HELP flagon_heap_bytes Bytes of allocated heap objects.")
		fmt.Fprintln(w, "# TYPE flagon_heap_bytes gauge")
		fmt.Fprintf(w, "flagon_heap_bytes %d\n", ms.HeapAlloc)
		fmt.Fprintln(w, "# HELP flagon_uptime_seconds Seconds since the server started.")
		fmt.Fprintln(w, "# TYPE flagon_uptime_seconds gauge")
		fmt.Fprintf(w, "flagon_uptime_seconds %g\n", time.Since(m.start).Seconds())
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// health answers /healthz: 200 with the snapshot's revision and age when
// fresh, 503 when the source is stale (still serving its last snapshot) or
// has no snapshot yet.
func health(client *flagon.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := client.Snapshot()
		st := client.Status()
		body := struct {
			Status      string  `json:"status"`
			Revision    string  `json:"revision,omitempty"`
			Environment string  `json:"environment,omitempty"`
			Flags       int     `json:"flags"`
			AgeSeconds  float64 `json:"age_seconds"`
			StaleFor    float64 `json:"stale_for_seconds,omitempty"`
			Error       string  `json:"error,omitempty"`
		}{Status: "ok"}
		status := http.StatusOK
		if snap == nil {
			body.Status, status = "starting", http.StatusServiceUnavailable
		} else {
			body.Revision, body.Environment, body.Flags = snap.Revision(), snap.Environment(), snap.Len()
			body.AgeSeconds = time.Since(snap.Created()).Seconds()
		}
		if st.Stale {
			body.Status, status = "stale", http.StatusServiceUnavailable
			if !st.Since.IsZero() {
				body.StaleFor = time.Since(st.Since).Seconds()
			}
			if st.Err != nil {
				body.Error = st.Err.Error()
			}
		}
		writeJSON(w, status, body)
	})
}
