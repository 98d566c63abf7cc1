package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/jsondiff"
)

// roleIn returns q's principal's role in environment env. The principal's
// role is the one in the console's environment; elsewhere the console
// grants no more than an editor's, so that a change reaching another
// protected environment is reviewed there.
func (c *Console) roleIn(q *request, env string) Role {
	if env == c.opts.Environment {
		return q.principal.Role
	}
	return min(q.principal.Role, RoleEditor)
}

// reviewEnv returns the first protected environment in which replacing
// old by new changes what is evaluated and q's principal is not an admin:
// there the change needs a second person. It returns "" when the change
// may apply at once.
func (c *Console) reviewEnv(q *request, old, new flagon.Flag) string {
	for _, env := range c.protectedEnvs() {
		if c.roleIn(q, env) < RoleAdmin && flagon.ChangesEnvironment(old, new, env) {
			return env
		}
	}
	return ""
}

// unprivileged returns the first protected environment in which q's
// principal is not an admin, or "".
func (c *Console) unprivileged(q *request) string {
	for _, env := range c.protectedEnvs() {
		if c.roleIn(q, env) < RoleAdmin {
			return env
		}
	}
	return ""
}

// protectedEnvs returns the protected environments, the console's own
// first (where the principal's role is known), then by name.
func (c *Console) protectedEnvs() []string {
	envs := slices.Clone(c.opts.ProtectedEnvironments)
	slices.Sort(envs)
	if i := slices.Index(envs, c.opts.Environment); i > 0 {
		envs[0], envs[i] = envs[i], envs[0]
	}
	return envs
}

// propose stores cr as a change request in env by q's principal and
// sends the browser to it.
func (c *Console) propose(w http.ResponseWriter, r *http.Request, q *request, cr flagon.ChangeRequest, env, reason string) {
	if c.opts.ChangeRequests == nil {
		c.fail(w, r, ErrForbidden, flagSubject(cr.Flag)+" in the protected environment "+env, "change the flag")
		return
	}
	ch := c.change(q, reason)
	ch.Environment = env
	id, err := c.opts.ChangeRequests.AddChangeRequest(r.Context(), cr, ch)
	if err != nil {
		c.fail(w, r, err, flagSubject(cr.Flag), "ask for the change")
		return
	}
	c.log.Info("admin: change requested", "flag", cr.Flag, "id", id, "environment", env, "by", q.principal.Name)
	c.redirect(w, r, q, "requests/"+strconv.FormatInt(id, 10), "request-created")
}

// requestsData is the Requests page: those waiting, then the latest
// decided.
type requestsData struct {
	Pending []flagon.ChangeRequest
	Recent  []flagon.ChangeRequest
}

// maxRecentRequests bounds the decided requests the Requests page lists.
const maxRecentRequests = 20

func (c *Console) requestsPage(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.ChangeRequests == nil {
		c.readOnly(w, r, "Change requests")
		return
	}
	all, err := c.opts.ChangeRequests.ChangeRequests(r.Context(), flagon.ChangeRequestQuery{Limit: 200})
	if err != nil {
		c.serverError(w, r, "read the change requests", err)
		return
	}
	d := &requestsData{}
	for _, cr := range all {
		switch {
		case awaiting(cr):
			d.Pending = append(d.Pending, cr)
		case len(d.Recent) < maxRecentRequests:
			d.Recent = append(d.Recent, cr)
		}
	}
	c.render(w, http.StatusOK, "requests", c.newPage(r, "Change requests", "requests", d))
}

// awaiting reports whether cr waits for a review: pending, or an
// emergency change nobody has reviewed yet.
func awaiting(cr flagon.ChangeRequest) bool {
	return cr.State == flagon.RequestPending || cr.Emergency && cr.Reviewer == ""
}

// requestData is one request's page.
type requestData struct {
	Request flagon.ChangeRequest
	// Current is the flag as it is now, nil if it does not exist; Stale
	// says it has moved past the request's base version.
	Current *flagon.StoredFlag
	Stale   bool
	// Changes compare the current flag with the proposed one, field by
	// field, as the audit log shows changes; Proposed is the proposal as
	// JSON.
	Changes  []jsondiff.Change
	Proposed string
	// CanApprove and CanReject say which buttons q's principal gets; the
	// handlers check again.
	CanApprove, CanReject bool
	Awaiting              bool
}

func (c *Console) requestPage(w http.ResponseWriter, r *http.Request, q *request) {
	cr, ok := c.readRequest(w, r)
	if !ok {
		return
	}
	d := &requestData{Request: cr, Awaiting: awaiting(cr)}
	cur, err := c.opts.Store.Flag(r.Context(), cr.Flag)
	switch {
	case err == nil:
		d.Current = &cur
	case !errors.Is(err, flagon.ErrNotFound):
		c.serverError(w, r, "read the flag", err)
		return
	}
	var base flagon.Flag
	if d.Current != nil {
		base = d.Current.Flag
		d.Stale = d.Current.Version != cr.BaseVersion && !cr.Emergency
	} else {
		d.Stale = cr.BaseVersion != 0
	}
	if len(cr.Schedule) == 0 && !cr.Emergency {
		d.Changes = jsondiff.Flags(base, cr.Proposed)
		pj, _ := json.MarshalIndent(cr.Proposed, "", "  ")
		d.Proposed = string(pj)
	}
	d.CanApprove = d.Awaiting && c.mayApprove(q, cr) == nil
	d.CanReject = d.Awaiting && !cr.Emergency && (d.CanApprove || cr.MayWithdraw(q.principal.Name))
	c.render(w, http.StatusOK, "request", c.newPage(r, fmt.Sprintf("Change request #%d", cr.ID), "requests", d))
}

// readRequest reads the request the path names, or answers the failure.
func (c *Console) readRequest(w http.ResponseWriter, r *http.Request) (flagon.ChangeRequest, bool) {
	if c.opts.ChangeRequests == nil || c.opts.Store == nil {
		c.readOnly(w, r, "Change requests")
		return flagon.ChangeRequest{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		c.fail(w, r, flagon.ErrNotFound, "change request "+strconv.Quote(r.PathValue("id")), "read the change request")
		return flagon.ChangeRequest{}, false
	}
	cr, err := c.opts.ChangeRequests.ChangeRequest(r.Context(), id)
	if err != nil {
		c.fail(w, r, err, fmt.Sprintf("change request #%d", id), "read the change request")
		return cr, false
	}
	return cr, true
}

// mayApprove says why q's principal may not approve cr, or nil: an
// approver is an admin in the request's environment who did not ask for
// it (the store checks the latter too).
func (c *Console) mayApprove(q *request, cr flagon.ChangeRequest) error {
	if cr.Author == q.principal.Name {
		return flagon.ErrSelfReview
	}
	if c.roleIn(q, cr.Environment) < RoleAdmin {
		return ErrForbidden
	}
	return nil
}

// reviewRequest approves or rejects the request the path names. Only an
// approver may approve; its author may also reject (withdraw) it.
func (c *Console) reviewRequest(approve bool) func(http.ResponseWriter, *http.Request, *request) {
	return func(w http.ResponseWriter, r *http.Request, q *request) {
		cr, ok := c.readRequest(w, r)
		if !ok {
			return
		}
		subject := fmt.Sprintf("change request #%d", cr.ID)
		err := c.mayApprove(q, cr)
		if !approve && cr.MayWithdraw(q.principal.Name) {
			err = nil
		}
		if err != nil {
			c.fail(w, r, err, subject, "review the change request")
			return
		}
		comment := strings.TrimSpace(r.PostForm.Get("comment"))
		if len(comment) > flagon.MaxRequestCommentLen {
			c.fail(w, r, flagon.FieldErrors{{Field: "comment", Msg: fmt.Sprintf("keep it under %d characters", flagon.MaxRequestCommentLen)}}, subject, "review the change request")
			return
		}
		got, err := c.opts.ChangeRequests.ReviewChangeRequest(r.Context(), cr.ID, approve, comment, c.change(q, comment))
		done := "request-rejected"
		switch {
		case got.State == flagon.RequestConflict:
			done = "request-conflict"
		case err != nil:
			c.fail(w, r, err, subject, "review the change request")
			return
		case cr.Emergency:
			done = "request-reviewed"
		case approve:
			done = "request-approved"
		}
		c.log.Info("admin: change request reviewed", "id", cr.ID, "flag", cr.Flag, "state", got.State, "by", q.principal.Name)
		c.redirect(w, r, q, "requests/"+strconv.FormatInt(cr.ID, 10), done)
	}
}

// recordEmergency records a change that applied at once in protected
// environment env, for an admin to review after the fact. The change is
// made; a failure to record it is logged, not undone.
func (c *Console) recordEmergency(ctx context.Context, q *request, cr flagon.ChangeRequest, env, reason string) {
	if c.opts.ChangeRequests == nil {
		return
	}
	ch := c.change(q, reason)
	ch.Environment = env
	if _, err := c.opts.ChangeRequests.AddChangeRequest(ctx, cr, ch); err != nil {
		c.log.Error("admin: record an emergency change for review", "flag", cr.Flag, "err", err)
	}
}

// flagRequests returns the flag's change requests that wait for review.
// An error is logged and shows none.
func (c *Console) flagRequests(ctx context.Context, key string) []flagon.ChangeRequest {
	all, err := c.opts.ChangeRequests.ChangeRequests(ctx, flagon.ChangeRequestQuery{Flag: key, Limit: 50})
	if err != nil {
		c.log.Warn("admin: read change requests", "flag", key, "err", err)
		return nil
	}
	return slices.DeleteFunc(all, func(cr flagon.ChangeRequest) bool { return !awaiting(cr) })
}
