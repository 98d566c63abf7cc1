package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

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
