package remote_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/remote"
)

// TestReportUsage sends counts through a server that is down for the
// first reports: nothing is lost, nothing is counted twice, each report
// carries the app and the token, and Close sends what is left.
func TestReportUsage(t *testing.T) {
	const token = "usage-token"
	src0, _ := flagon.NewMemorySource(defs(1), "")
	h := remote.Handler(src0)
	var (
		mu       sync.Mutex
		received = map[string]int64{}
		failing  atomic.Int32
		reports  atomic.Int32
	)
	failing.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/api/v1/usage" {
			h.ServeHTTP(w, r)
			return
		}
		if failing.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var rep struct {
			App, Environment string
			Counts           []flagon.UsageCount
		}
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil || rep.App != "checkout" || rep.Environment != "prod" {
			t.Errorf("report %+v (%v), want app checkout in prod", rep, err)
		}
		mu.Lock()
		for _, c := range rep.Counts {
			received[c.Flag+"/"+c.Variant] += c.Count
		}
		mu.Unlock()
		reports.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	o := fastOptions(nil)
	o.Token, o.App, o.UsageInterval = token, "checkout", 10*time.Millisecond
	// A report whose answer is lost to the timeout is sent again (counts
	// are sent at least once); a loaded machine must not make it so here.
	o.Timeout = 10 * time.Second
	src, err := remote.New(t.Context(), srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	var taken atomic.Int64
	src.ReportUsage(func(now time.Time) []flagon.UsageCount {
		taken.Add(1)
		return []flagon.UsageCount{
			{Hour: hour, Flag: "limit", Variant: "v", Environment: "prod", Count: 2},
			{Hour: hour, Flag: "new-home-page", Variant: "on", Environment: "prod", Count: 1},
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for reports.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the reporter did not recover from the outage")
		}
		time.Sleep(5 * time.Millisecond)
	}
	src.Close()
	n := taken.Load()
	mu.Lock()
	defer mu.Unlock()
	if received["limit/v"] != 2*n || received["new-home-page/on"] != n {
		t.Errorf("received %v after %d takes; want every count exactly once", received, n)
	}
	if before := taken.Load(); func() int64 { time.Sleep(50 * time.Millisecond); return taken.Load() }() != before {
		t.Error("the reporter still runs after Close")
	}
}
