package server_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/server"
)

// TestUsageAPI reports counts as a client following the server would,
// with a read token: counts of known flags are stored per hour, flag,
// variant, environment and app; unknown flags and hours too old are
// dropped and said so; a malformed count refuses the report naming the
// field; and GET returns the rows.
func TestUsageAPI(t *testing.T) {
	eachStore(t, usageAPI)
}

func usageAPI(t *testing.T, st server.Store) {
	seed(t, st)
	_, ts := newServer(t, st, false)
	const reader = "reader-token-0123456789"
	hour := time.Now().UTC().Truncate(time.Hour)
	report := func(counts ...string) string {
		return fmt.Sprintf(`{"app": "web", "environment": "production", "counts": [%s]}`, strings.Join(counts, ","))
	}
	count := func(h time.Time, flag, variant string, n int) string {
		return fmt.Sprintf(`{"hour": %q, "flag": %q, "variant": %q, "count": %d}`, h.Format(time.RFC3339), flag, variant, n)
	}

	if code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", "", report(count(hour, "staff-only", "on", 1))); code != 401 {
		t.Errorf("report without a token = %d %s, want 401", code, body)
	}
	code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", reader, report(
		count(hour, "staff-only", "on", 3),
		count(hour, "staff-only", "off", 2),
		count(hour.Add(-time.Hour), "anyone", "on", 5),
		count(hour, "no-such-flag", "on", 7),
		count(hour.Add(-8*24*time.Hour), "anyone", "on", 11),
	))
	if code != 202 {
		t.Fatalf("report = %d %s, want 202", code, body)
	}
	var res struct{ Accepted, Dropped int64 }
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Accepted != 10 || res.Dropped != 18 {
		t.Errorf("report = %s, want 10 accepted, 18 dropped", body)
	}
	// The same counts again add up.
	if code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", token, report(count(hour, "staff-only", "on", 1))); code != 202 {
		t.Fatalf("second report = %d %s", code, body)
	}

	for _, bad := range []struct{ body, field string }{
		{report(count(hour, "staff-only", "bad variant!", 1)), "variant"},
		{report(count(hour.Add(time.Minute), "staff-only", "on", 1)), "hour"},
		{report(count(hour, "staff-only", "on", -1)), "count"},
		{`{"app": "web", "counts": [{"flag": "staff-only", "count": "many"}]}`, "count"},
		{`{"app": "web", "counts": [], "extra": 1}`, "extra"},
	} {
		code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", reader, bad.body)
		if code != 400 || !strings.Contains(body, `"field": "`) || !strings.Contains(body, bad.field) {
			t.Errorf("report %s = %d %s, want 400 naming %s", bad.body, code, body, bad.field)
		}
	}
	many := make([]string, flagon.MaxUsageBatch+1)
	for i := range many {
		many[i] = count(hour, "anyone", "on", 1)
	}
	if code, _, body := do(t, "POST", ts.URL+"/api/v1/usage", reader, report(many...)); code != 400 || !strings.Contains(body, "counts") {
		t.Errorf("report of %d counts = %d %.200s, want 400 naming counts", len(many), code, body)
	}

	code, _, body = do(t, "GET", ts.URL+"/api/v1/usage?flag=staff-only", reader, "")
	if code != 200 {
		t.Fatalf("GET usage = %d %s", code, body)
	}
	var rows []flagon.UsageCount
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	want := []flagon.UsageCount{
		{Hour: hour, Flag: "staff-only", Variant: "off", Environment: "production", App: "web", Count: 2},
		{Hour: hour, Flag: "staff-only", Variant: "on", Environment: "production", App: "web", Count: 4},
	}
	if len(rows) != len(want) {
		t.Fatalf("GET usage = %v, want %v", rows, want)
	}
	for i := range want {
		if !rows[i].Hour.Equal(want[i].Hour) || rows[i].Variant != want[i].Variant || rows[i].Count != want[i].Count || rows[i].App != "web" || rows[i].Environment != "production" {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}

	// since and until take durations before now, as the audit log does.
	for q, n := range map[string]int{"since=2h": 2, "until=2h": 0, "since=2h&until=1s": 2} {
		code, _, body = do(t, "GET", ts.URL+"/api/v1/usage?flag=staff-only&"+q, reader, "")
		if code != 200 || strings.Count(body, `"flag": "staff-only"`) != n {
			t.Errorf("GET usage?%s = %d %.300s, want %d rows", q, code, body, n)
		}
	}

	code, _, body = do(t, "GET", ts.URL+"/api/v1/usage/flags?days=7", reader, "")
	if code != 200 || !strings.Contains(body, `"flag": "staff-only"`) {
		t.Fatalf("GET usage/flags = %d %s", code, body)
	}
	var flags []struct {
		Flag          string
		LastEvaluated *time.Time `json:"last_evaluated"`
		Count         int64
		Variants      map[string]int64
		Apps          []string
	}
	if err := json.Unmarshal([]byte(body), &flags); err != nil || len(flags) != 2 {
		t.Fatalf("usage/flags = %s (%v)", body, err)
	}
	for _, f := range flags {
		want := map[string]int64{"staff-only": 6, "anyone": 5}[f.Flag]
		if f.Count != want || f.LastEvaluated == nil || len(f.Apps) != 1 || f.Apps[0] != "web" {
			t.Errorf("usage of %s = %+v, want %d evaluations by web", f.Flag, f, want)
		}
	}
	if code, _, body := do(t, "GET", ts.URL+"/api/v1/usage/flags?days=0", reader, ""); code != 400 || !strings.Contains(body, "days") {
		t.Errorf("days=0 = %d %s, want 400 naming days", code, body)
	}
	// Both flags were evaluated within the last day, and "anyone" only
	// for an hour: nothing is ready to remove yet.
	if code, _, body := do(t, "GET", ts.URL+"/api/v1/usage/removable?days=1", reader, ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("usage/removable = %d %s, want []", code, body)
	}
}

// TestOwnUsage: the server counts its own OFREP and /features.json
// evaluations in /metrics, per flag and variant up to the cap (the rest
// under flag="(other)"), and writes them to the store as the app
// "flagon serve" by the time it closes.
func TestOwnUsage(t *testing.T) {
	st := openSQLite(t)
	seed(t, st)
	srv, err := server.New(t.Context(), st, &server.Options{Logger: quiet, MetricsFlags: 1,
		APITokens: []server.APIToken{{Name: "test", Secret: token}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for range 3 {
		do(t, "POST", ts.URL+"/ofrep/v1/evaluate/flags/anyone", "", `{"context":{"targetingKey":"a"}}`)
	}
	do(t, "POST", ts.URL+"/ofrep/v1/evaluate/flags/staff-only", "", `{"context":{"targetingKey":"a"}}`)
	do(t, "POST", ts.URL+"/ofrep/v1/evaluate/flags/no-such-flag", "", `{"context":{"targetingKey":"a"}}`)
	_, _, metrics := do(t, "GET", ts.URL+"/metrics", "", "")
	for _, want := range []string{
		`flagon_flag_evaluations_total{flag="anyone",variant="off"} 3`,
		`flagon_flag_evaluations_total{flag="(other)",variant=""} 1`,
		`flagon_unknown_flag_evaluations_total 1`,
		`flagon_evaluations_total{reason="STATIC"} 4`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	if strings.Contains(metrics, `flag="staff-only"`) {
		t.Errorf("/metrics names a flag past the cap of 1:\n%s", metrics)
	}
	// /features.json evaluates every flag for the visitor.
	do(t, "GET", ts.URL+"/features.json", "", "")

	srv.Close()
	rows, err := st.Usage(t.Context(), flagon.UsageQuery{App: "flagon serve"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.Flag+"/"+r.Variant] += r.Count
	}
	if got["anyone/off"] != 4 || got["staff-only/off"] != 2 || len(got) != 2 {
		t.Errorf("stored own usage = %v, want anyone/off 4 and staff-only/off 2", got)
	}
}
