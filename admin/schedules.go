package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// maxShownSchedules bounds the settled scheduled changes a flag's page
// lists, beside every pending one.
const maxShownSchedules = 10

// flagSchedules returns what a flag's page lists of its scheduled
// changes: the pending ones in order of time, then the latest settled
// ones, newest first. An error is logged and shows none.
func (c *Console) flagSchedules(ctx context.Context, key string) []flagon.ScheduledChange {
	all, err := c.opts.Schedules.Scheduled(ctx, flagon.ScheduleQuery{Flag: key})
	if err != nil {
		c.log.Warn("admin: read scheduled changes", "flag", key, "err", err)
		return nil
	}
	var pending, settled []flagon.ScheduledChange
	for _, sc := range all {
		if sc.Status == flagon.SchedulePending {
			pending = append(pending, sc)
		} else {
			settled = append(settled, sc)
		}
	}
	slices.Reverse(settled)
	if len(settled) > maxShownSchedules {
		settled = settled[:maxShownSchedules]
	}
	return append(pending, settled...)
}

// cancelScheduled cancels a pending scheduled change of the flag, after
// a confirmation in production.
func (c *Console) cancelScheduled(w http.ResponseWriter, r *http.Request, q *request) {
	key := r.PathValue("key")
	if c.opts.Schedules == nil || c.opts.Store == nil {
		c.readOnly(w, r, "Scheduled changes")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		c.fail(w, r, fmt.Errorf("scheduled change %q: %w", r.PathValue("id"), flagon.ErrNotFound), flagSubject(key), "cancel the scheduled change")
		return
	}
	what := fmt.Sprintf("Cancel scheduled change #%d of %s: it will not apply.", id, key)
	if c.needsConfirmation(w, r, "", fmt.Sprintf("flags/%s/schedules/%d/cancel", key, id), what, map[string]string{}) {
		return
	}
	// The change must be the flag's: the path names both.
	all, err := c.opts.Schedules.Scheduled(r.Context(), flagon.ScheduleQuery{Flag: key})
	if err != nil {
		c.fail(w, r, err, flagSubject(key), "read the scheduled changes")
		return
	}
	if !slices.ContainsFunc(all, func(sc flagon.ScheduledChange) bool { return sc.ID == id }) {
		c.fail(w, r, fmt.Errorf("scheduled change %d of %q: %w", id, key, flagon.ErrNotFound), flagSubject(key), "cancel the scheduled change")
		return
	}
	err = c.opts.Schedules.CancelScheduled(r.Context(), id, c.change(q, strings.TrimSpace(r.PostForm.Get("reason"))))
	if errors.Is(err, flagon.ErrConflict) {
		err = fmt.Errorf("scheduled change %d has already been applied or cancelled: %w", id, err)
	}
	if c.writeFailed(w, r, key, err) {
		return
	}
	c.log.Info("admin: scheduled change cancelled", "flag", key, "id", id, "by", q.principal.Name)
	c.redirect(w, r, q, "flags/"+key, "schedule-cancelled")
}

// maxFormSteps is how many steps the flag page's scheduling form offers.
const maxFormSteps = 3

// scheduleFormTime is the layout of the scheduling form's times: what a
// datetime-local input sends, read as UTC.
const scheduleFormTime = "2006-01-02T15:04"

// scheduleFlag schedules a rollout from the flag page's form: a variant
// served to a percentage of the fallthrough at each of up to
// maxFormSteps times (100 serves it to all). In a protected environment
// an editor's schedule becomes a change request, and its steps exist
// only once an admin approves it.
func (c *Console) scheduleFlag(w http.ResponseWriter, r *http.Request, q *request) {
	key := r.PathValue("key")
	if c.opts.Schedules == nil || c.opts.Store == nil {
		c.readOnly(w, r, "Scheduled changes")
		return
	}
	sf, err := c.opts.Store.Flag(r.Context(), key)
	if err != nil {
		c.fail(w, r, err, flagSubject(key), "read the flag")
		return
	}
	steps, env, reason, err := parseScheduleForm(r.PostForm, sf)
	if err != nil {
		c.fail(w, r, err, "the schedule of "+flagSubject(key), "schedule the change")
		return
	}
	for _, sc := range steps {
		if review := c.reviewEnv(q, sf.Flag, sc.Definition); review != "" {
			c.propose(w, r, q, flagon.ChangeRequest{Flag: key, BaseVersion: sf.Version, Schedule: steps}, review, reason)
			return
		}
	}
	ch := c.change(q, reason)
	for _, sc := range steps {
		if _, err := c.opts.Schedules.AddScheduled(r.Context(), sc, ch); err != nil {
			c.fail(w, r, err, flagSubject(key), "schedule the change")
			return
		}
	}
	c.log.Info("admin: change scheduled", "flag", key, "steps", len(steps), "by", q.principal.Name)
	c.redirect(w, r, q, flagPath(key, env), "scheduled")
}

// parseScheduleForm reads the scheduling form: its steps, planned
// against sf, the environment whose fallthrough they change ("" for the
// flag's own) and the reason. Its errors are FieldErrors naming the form
// field.
func parseScheduleForm(v url.Values, sf flagon.StoredFlag) ([]flagon.ScheduledChange, string, string, error) {
	bad := func(field, format string, args ...any) error {
		return flagon.FieldErrors{{Flag: sf.Key, Field: field, Msg: fmt.Sprintf(format, args...)}}
	}
	env := strings.TrimSpace(v.Get("env"))
	if env != "" && !flagon.ValidKey(env) {
		return nil, "", "", bad("env", "invalid environment name %q", env)
	}
	reason := strings.TrimSpace(v.Get("reason"))
	variant := v.Get("variant")
	if !slices.ContainsFunc(sf.Variants, func(x flagon.Variant) bool { return x.Name == variant }) {
		return nil, "", "", bad("variant", "choose one of the flag's variants, not %q", variant)
	}
	var (
		pcts []float64
		ats  []time.Time
	)
	for i := range maxFormSteps {
		at, pct := strings.TrimSpace(v.Get(fmt.Sprintf("at.%d", i))), strings.TrimSpace(v.Get(fmt.Sprintf("pct.%d", i)))
		if at == "" && pct == "" {
			continue
		}
		t, err := time.Parse(scheduleFormTime, at)
		if err != nil {
			return nil, "", "", bad(fmt.Sprintf("step %d time", i+1), "want a date and time such as 2026-12-01T09:00 (UTC), not %q", at)
		}
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil {
			return nil, "", "", bad(fmt.Sprintf("step %d percent", i+1), "want a number from 1 to 100, not %q", pct)
		}
		ats, pcts = append(ats, t), append(pcts, p)
	}
	if len(ats) == 0 {
		return nil, "", "", bad("steps", "give at least one step: a time and a percentage")
	}
	steps, err := flagon.RolloutSteps(sf, env, variant, pcts, ats)
	if err != nil {
		return nil, "", "", bad("steps", "%v", err)
	}
	for i := range steps {
		steps[i].Reason = reason
		if err := steps[i].Validate(); err != nil {
			return nil, "", "", err
		}
	}
	return steps, env, reason, nil
}
