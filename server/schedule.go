package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/flagon/flagon"
)

// DefaultScheduleInterval is how often a server applies the scheduled
// changes that have fallen due, when Options.ScheduleInterval is zero.
const DefaultScheduleInterval = 5 * time.Second

// maxScheduleSteps bounds the steps of one schedule request.
const maxScheduleSteps = 20

// ApplyScheduled applies the store's scheduled changes that are due at
// the server's clock (Options.Now), as the server does every
// ScheduleInterval and at start. Several servers on one database may call
// it at once: each change is applied by one of them, once
// (flagon.ScheduleStore.ApplyDue).
func (s *Server) ApplyScheduled(ctx context.Context) ([]flagon.ScheduledChange, error) {
	done, err := s.store.ApplyDue(ctx, s.now())
	for _, sc := range done {
		if sc.Status == flagon.ScheduleFailed {
			s.log.Warn("flagon: scheduled change failed", "id", sc.ID, "flag", sc.Flag, "author", sc.Author, "err", sc.Error)
		} else {
			s.log.Info("flagon: applied scheduled change", "id", sc.ID, "flag", sc.Flag, "author", sc.Author, "at", sc.At)
		}
	}
	return done, err
}

// schedule applies due changes at once, so that those that fell due
// while no server ran apply late, and then every interval until ctx ends.
func (s *Server) schedule(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := s.ApplyScheduled(actx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("flagon: apply scheduled changes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduleRequest is the body of POST /api/v1/flags/{key}/schedule.
type scheduleRequest struct {
	// Reason is quoted in the audit entry of each step's put.
	Reason string `json:"reason,omitempty"`
	// Variant is the variant percent steps roll out.
	Variant string `json:"variant,omitempty"`
	// Environment, if set, makes percent steps change that environment's
	// fallthrough only.
	Environment string         `json:"environment,omitempty"`
	Steps       []scheduleStep `json:"steps"`
}

// A scheduleStep is a whole flag definition or a rollout percentage, at
// a time.
type scheduleStep struct {
	At      time.Time    `json:"at"`
	Flag    *flagon.Flag `json:"flag,omitempty"`
	Percent *float64     `json:"percent,omitempty"`
}

func (a *api) registerSchedule(mux *routeMux) {
	h := func(pattern string, write bool, fn handleFunc) {
		mux.Handle(pattern, a.auth(write, fn))
	}
	h("POST /api/v1/flags/{key}/schedule", true, a.scheduleFlag)
	h("GET /api/v1/schedules", false, a.listSchedules)
	h("DELETE /api/v1/schedules/{id}", true, a.cancelSchedule)
}

// scheduleFlag adds a scheduled change per step, all or none of them
// valid, and answers 201 with them.
func (a *api) scheduleFlag(w http.ResponseWriter, r *http.Request, actor string) error {
	var body scheduleRequest
	if err := decode(r, &body); err != nil {
		return err
	}
	key := r.PathValue("key")
	res := resource{"flag", key}
	if len(body.Steps) == 0 || len(body.Steps) > maxScheduleSteps {
		return badField("steps", "want 1 to %d steps, got %d", maxScheduleSteps, len(body.Steps))
	}
	cur, err := a.store.Flag(r.Context(), key)
	if err != nil && !errors.Is(err, flagon.ErrNotFound) {
		return a.explain(r.Context(), err, res, precondition{})
	}
	exists := err == nil
	var scs []flagon.ScheduledChange
	for i, st := range body.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		switch {
		case st.At.IsZero():
			return badField(field+".at", "want a time, such as 2026-12-01T09:00:00Z")
		case (st.Flag == nil) == (st.Percent == nil):
			return badField(field, "give either a flag or a percent")
		case i > 0 && !st.At.After(body.Steps[i-1].At):
			return badField(field+".at", "steps must be in order of time")
		case st.Flag != nil:
			f := *st.Flag
			if f.Key == "" {
				f.Key = key
			}
			if f.Key != key {
				return badField(field+".flag.key", "the step names flag %q but the path names %q", f.Key, key)
			}
			scs = append(scs, flagon.ScheduledChange{Flag: key, At: st.At, Definition: f, BaseVersion: cur.Version})
		default:
			if !exists {
				return a.explain(r.Context(), err, res, precondition{})
			}
			if body.Variant == "" {
				return badField("variant", "percent steps need the variant to roll out")
			}
			steps, err := flagon.RolloutSteps(cur, body.Environment, body.Variant, []float64{*st.Percent}, []time.Time{st.At})
			if err != nil {
				return badField(field+".percent", "%v", err)
			}
			scs = append(scs, steps...)
		}
	}
	for i := range scs {
		scs[i].Reason = body.Reason
		if err := scs[i].Validate(); err != nil {
			return invalid(err)
		}
	}
	for _, sc := range scs {
		if env := a.reviewEnv(r, cur.Flag, sc.Definition); env != "" {
			// The schedule itself is what gets approved: none of its
			// steps exists until then.
			return a.propose(w, r, actor, flagon.ChangeRequest{Flag: key, BaseVersion: cur.Version, Schedule: scs}, env)
		}
	}
	var ids []int64
	for _, sc := range scs {
		id, err := a.store.AddScheduled(r.Context(), sc, a.change(r, actor))
		if err != nil {
			return a.explain(r.Context(), err, res, precondition{})
		}
		ids = append(ids, id)
	}
	all, err := a.store.Scheduled(r.Context(), flagon.ScheduleQuery{Flag: key})
	if err != nil {
		return err
	}
	out := []flagon.ScheduledChange{}
	for _, sc := range all {
		if slices.Contains(ids, sc.ID) {
			out = append(out, sc)
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// listSchedules answers with the scheduled changes of ?flag= (or all),
// optionally of one ?status=, in order of time.
func (a *api) listSchedules(w http.ResponseWriter, r *http.Request, _ string) error {
	q := flagon.ScheduleQuery{Flag: r.URL.Query().Get("flag"), Status: flagon.ScheduleStatus(r.URL.Query().Get("status"))}
	switch q.Status {
	case "", flagon.SchedulePending, flagon.ScheduleApplied, flagon.ScheduleCancelled, flagon.ScheduleFailed:
	default:
		return badField("status", "want pending, applied, cancelled or failed, got %q", q.Status)
	}
	out, err := a.store.Scheduled(r.Context(), q)
	if err != nil {
		return err
	}
	if out == nil {
		out = []flagon.ScheduledChange{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelSchedule cancels a pending change: 204, 404 for an unknown one,
// 409 for one no longer pending.
func (a *api) cancelSchedule(w http.ResponseWriter, r *http.Request, actor string) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return badField("id", "want a scheduled change's number, got %q", r.PathValue("id"))
	}
	if err := a.store.CancelScheduled(r.Context(), id, a.change(r, actor)); err != nil {
		switch {
		case errors.Is(err, flagon.ErrNotFound):
			return &apiError{kind: flagon.ErrNotFound, cause: err, msg: fmt.Sprintf("scheduled change %d does not exist", id)}
		case errors.Is(err, flagon.ErrConflict):
			return &apiError{kind: flagon.ErrConflict, cause: err, msg: fmt.Sprintf("scheduled change %d is no longer pending", id)}
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
