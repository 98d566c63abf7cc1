package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/flagon/flagon"
)

// Limits of what one usage report may make the server keep.
const (
	// DefaultUsageRetention is how long usage rows are kept when
	// Options.UsageRetention is zero; a negative retention keeps them
	// forever.
	DefaultUsageRetention = 90 * 24 * time.Hour
	// maxUsageAge is how old an hour a report may still add to: a client
	// that was cut off for longer loses those counts rather than rewriting
	// history.
	maxUsageAge = 7 * 24 * time.Hour
	// maxUsageAhead is how far ahead of the server's clock a reported hour
	// may start (clock skew).
	maxUsageAhead = time.Hour
)

// usageReport is the body of POST /api/v1/usage: what one application
// evaluated in one environment, as hourly counts.
type usageReport struct {
	App         string         `json:"app"`
	Environment string         `json:"environment"`
	Counts      []usageReport1 `json:"counts"`
}

type usageReport1 struct {
	Hour    time.Time `json:"hour"`
	Flag    string    `json:"flag"`
	Variant string    `json:"variant"`
	Count   int64     `json:"count"`
}

// registerReads adds the endpoints that read usage. Reports (POST) are
// per environment: see usageReport.
func (a *api) registerReads(mux *routeMux, usage flagon.UsageStore, now func() time.Time) {
	u := &usageAPI{api: a, usage: usage, now: now}
	mux.Handle("GET /api/v1/usage", a.auth(false, u.read))
	mux.Handle("GET /api/v1/usage/flags", a.auth(false, u.flags))
	mux.Handle("GET /api/v1/usage/removable", a.auth(false, u.removable))
}

// usageReport returns the handler of POST /api/v1/usage, which stores the
// counts of a.env (any token for it, as clients that follow a server hold
// read tokens); serve it behind authEnv.
func (a *api) usageReport(usage flagon.UsageStore, now func() time.Time) handleFunc {
	u := &usageAPI{api: a, usage: usage, now: now}
	return u.report
}

// authEnv is auth for the endpoints of one environment: any token for
// a.env, or for every environment, read-only or not.
func (a *api) authEnv(fn handleFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := authenticate(a.tokens, r, "the REST API")
		if err == nil {
			err = tokenReaches(tok, a.env)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
		if err := fn(w, r, "api:"+tok.Name); err != nil {
			a.fail(w, r, err)
		}
	})
}

type usageAPI struct {
	*api
	usage flagon.UsageStore
	now   func() time.Time
}

// report stores a usage report. Counts of flags the store does not know
// (deleted, or keys misspelled in code) and of hours too old are dropped
// and counted as such, so one bad count does not lose the rest; a count
// that is malformed refuses the report.
func (u *usageAPI) report(w http.ResponseWriter, r *http.Request, _ string) error {
	var rep usageReport
	if err := decode(r, &rep); err != nil {
		return err
	}
	if len(rep.Counts) > flagon.MaxUsageBatch {
		return badField("counts", "%d counts in one report; at most %d", len(rep.Counts), flagon.MaxUsageBatch)
	}
	if rep.Environment == "" {
		rep.Environment = u.env
	}
	if tok := tokenOf(r); u.multi && tok != nil && tok.Environment != AllEnvironments && rep.Environment != tok.Environment {
		return newError(errForbidden, "environment: token %q reports usage for %q only, not %q", tok.Name, tok.Environment, rep.Environment)
	}
	flags, err := u.store.Flags(r.Context())
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(flags))
	for _, f := range flags {
		known[f.Key] = true
	}
	now := u.now()
	counts := make([]flagon.UsageCount, 0, len(rep.Counts))
	dropped := int64(0)
	for _, c := range rep.Counts {
		uc := flagon.UsageCount{Hour: c.Hour.UTC(), Flag: c.Flag, Variant: c.Variant, Environment: rep.Environment, App: rep.App, Count: c.Count}
		if !known[c.Flag] || uc.Hour.Before(now.Add(-maxUsageAge)) || uc.Hour.After(now.Add(maxUsageAhead)) {
			dropped += max(c.Count, 0)
			continue
		}
		counts = append(counts, uc)
	}
	if err := u.usage.AddUsage(r.Context(), counts); err != nil {
		return err
	}
	accepted := int64(0)
	for _, c := range counts {
		accepted += c.Count
	}
	writeJSON(w, http.StatusAccepted, struct {
		Accepted int64 `json:"accepted"`
		Dropped  int64 `json:"dropped"`
	}{accepted, dropped})
	return nil
}

// read returns the usage rows the query selects: flag, environment, app,
// since and until (RFC 3339 times or durations before now, as for the
// audit log; since defaults to 7 days ago).
func (u *usageAPI) read(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	uq := flagon.UsageQuery{Flag: q.Get("flag"), Environment: q.Get("environment"), App: q.Get("app"),
		Since: u.now().Add(-maxUsageAge).Truncate(time.Hour)}
	if err := timeRange(q, u.now(), &uq.Since, &uq.Until); err != nil {
		return err
	}
	rows, err := u.usage.Usage(r.Context(), uq)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []flagon.UsageCount{}
	}
	writeJSON(w, http.StatusOK, rows)
	return nil
}

// windowParam reads the days query parameter: the window in days, 1 to
// 365, def when absent.
func windowParam(r *http.Request, def int) (time.Duration, error) {
	s := r.URL.Query().Get("days")
	if s == "" {
		return time.Duration(def) * 24 * time.Hour, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 365 {
		return 0, badField("days", "want a whole number of days from 1 to 365, got %q", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// flagUsage is one flag's line in GET /api/v1/usage/flags.
type flagUsage struct {
	Flag          string           `json:"flag"`
	LastEvaluated *time.Time       `json:"last_evaluated"` // the last hour with counts; null if none kept
	Count         int64            `json:"count"`          // in the window
	Variants      map[string]int64 `json:"variants"`       // in the window
	Apps          []string         `json:"apps"`           // in the window
}

// summary reads every live flag and the usage counts of the window that
// starts at since, summed (flagon.UsageAround): the inputs of the
// per-flag views.
func (u *usageAPI) summary(r *http.Request, since time.Time) ([]flagon.Flag, []flagon.UsageCount, error) {
	stored, err := u.store.Flags(r.Context())
	if err != nil {
		return nil, nil, err
	}
	flags := make([]flagon.Flag, 0, len(stored))
	for _, f := range stored {
		if !f.Archived {
			flags = append(flags, f.Flag)
		}
	}
	counts, err := flagon.UsageAround(r.Context(), u.usage, flagon.UsageQuery{Environment: r.URL.Query().Get("environment")}, since)
	return flags, counts, err
}

// flags returns, for every live flag, when it was last evaluated and how
// often in the window (days, default 7), per variant and app.
func (u *usageAPI) flags(w http.ResponseWriter, r *http.Request, _ string) error {
	window, err := windowParam(r, 7)
	if err != nil {
		return err
	}
	since := u.now().Add(-window)
	flags, counts, err := u.summary(r, since)
	if err != nil {
		return err
	}
	all, inWindow := flagon.SummarizeUsage(counts), flagon.SummarizeUsage(flagon.UsageSince(counts, since))
	out := make([]flagUsage, 0, len(flags))
	for _, f := range flags {
		fu := flagUsage{Flag: f.Key, Variants: map[string]int64{}, Apps: []string{}}
		if a := all[f.Key]; a != nil {
			fu.LastEvaluated = &a.Last
		}
		if w := inWindow[f.Key]; w != nil {
			fu.Count, fu.Variants, fu.Apps = w.Total, w.Variants, w.Apps
		}
		out = append(out, fu)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// removable returns the flags that look ready to be removed: not
// evaluated in the window (days, default 14), serving one variant to all
// of it, or past their expiry.
func (u *usageAPI) removable(w http.ResponseWriter, r *http.Request, _ string) error {
	window, err := windowParam(r, 14)
	if err != nil {
		return err
	}
	now := u.now()
	flags, counts, err := u.summary(r, now.Add(-window))
	if err != nil {
		return err
	}
	out := flagon.ReadyToRemove(flags, counts, now, window)
	if out == nil {
		out = []flagon.RemovalCandidate{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
