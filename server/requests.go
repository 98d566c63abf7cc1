package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/flagon/flagon"
)

// tokenKey is the context key of the API token a request presents.
type tokenKey struct{}

// tokenOf returns the API token r presented, or nil.
func tokenOf(r *http.Request) *APIToken {
	tok, _ := r.Context().Value(tokenKey{}).(*APIToken)
	return tok
}

// unprivileged returns the first protected environment, by name, where
// r's token is not an admin's, or "".
func (a *api) unprivileged(r *http.Request) string {
	if tok := tokenOf(r); tok != nil && tok.Admin || len(a.protected) == 0 {
		return ""
	}
	return slices.Min(a.protected)
}

// reviewEnv returns the first protected environment, by name, in which
// replacing old by new changes what is evaluated, when r's token is not
// an admin's: there the change needs approval. It returns "" when the
// change may apply at once.
func (a *api) reviewEnv(r *http.Request, old, new flagon.Flag) string {
	if a.unprivileged(r) == "" {
		return ""
	}
	envs := slices.Sorted(slices.Values(a.protected))
	for _, env := range envs {
		if flagon.ChangesEnvironment(old, new, env) {
			return env
		}
	}
	return ""
}

// propose stores cr as a change request in env by actor and answers 202
// Accepted with it, and its address in Location.
func (a *api) propose(w http.ResponseWriter, r *http.Request, actor string, cr flagon.ChangeRequest, env string) error {
	ch := a.change(r, actor)
	ch.Environment = env
	id, err := a.store.AddChangeRequest(r.Context(), cr, ch)
	if err != nil {
		return err
	}
	got, err := a.store.ChangeRequest(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/requests/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusAccepted, got)
	return nil
}

// recordEmergency records a change applied at once in protected
// environment env, for review after the fact; a failure is logged, since
// the change is made.
func (a *api) recordEmergency(r *http.Request, actor string, cr flagon.ChangeRequest, env string) {
	ch := a.change(r, actor)
	ch.Environment = env
	if _, err := a.store.AddChangeRequest(r.Context(), cr, ch); err != nil {
		a.log.Error("flagon: record an emergency change for review", "flag", cr.Flag, "err", err)
	}
}

func (a *api) registerRequests(mux *routeMux) {
	h := func(pattern string, write bool, fn handleFunc) {
		mux.Handle(pattern, a.auth(write, fn))
	}
	h("GET /api/v1/requests", false, a.listRequests)
	h("GET /api/v1/requests/{id}", false, a.getRequest)
	h("POST /api/v1/requests/{id}/approve", true, a.reviewRequest(true))
	h("POST /api/v1/requests/{id}/reject", true, a.reviewRequest(false))
}

// listRequests answers with the change requests that ?flag=,
// ?environment= and ?state= select, newest first.
func (a *api) listRequests(w http.ResponseWriter, r *http.Request, _ string) error {
	v := r.URL.Query()
	q := flagon.ChangeRequestQuery{Flag: v.Get("flag"), Environment: v.Get("environment"), State: flagon.RequestState(v.Get("state"))}
	switch q.State {
	case "", flagon.RequestPending, flagon.RequestApproved, flagon.RequestRejected, flagon.RequestApplied, flagon.RequestConflict:
	default:
		return badField("state", "want pending, approved, rejected, applied or conflict, got %q", q.State)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badField("limit", "want a number from 1 to 1000, got %q", s)
		}
		q.Limit = n
	}
	out, err := a.store.ChangeRequests(r.Context(), q)
	if err != nil {
		return err
	}
	if out == nil {
		out = []flagon.ChangeRequest{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// requestID reads the path's request number.
func requestID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, badField("id", "want a change request's number, got %q", r.PathValue("id"))
	}
	return id, nil
}

func (a *api) getRequest(w http.ResponseWriter, r *http.Request, _ string) error {
	id, err := requestID(r)
	if err != nil {
		return err
	}
	cr, err := a.store.ChangeRequest(r.Context(), id)
	if err != nil {
		return notFoundRequest(id, err)
	}
	writeJSON(w, http.StatusOK, cr)
	return nil
}

// notFoundRequest says which request does not exist, for ErrNotFound.
func notFoundRequest(id int64, err error) error {
	if errors.Is(err, flagon.ErrNotFound) {
		return &apiError{kind: flagon.ErrNotFound, cause: err, msg: fmt.Sprintf("change request %d does not exist", id)}
	}
	return err
}

// reviewBody is the optional body of an approval or rejection.
type reviewBody struct {
	Comment string `json:"comment,omitempty"`
}

// reviewRequest approves or rejects a change request: 200 with the
// request as it now is; 403 unless the token is an admin's (its author may
// reject, that is withdraw, it) or when the author approves; 409 when the
// request was decided already or, on approval, the flag has changed since
// it was made (the request is then in state conflict).
func (a *api) reviewRequest(approve bool) handleFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		id, err := requestID(r)
		if err != nil {
			return err
		}
		var body reviewBody
		if r.ContentLength != 0 {
			if err := decode(r, &body); err != nil {
				return err
			}
		}
		if len(body.Comment) > flagon.MaxRequestCommentLen {
			return badField("comment", "at most %d bytes", flagon.MaxRequestCommentLen)
		}
		cr, err := a.store.ChangeRequest(r.Context(), id)
		if err != nil {
			return notFoundRequest(id, err)
		}
		tok := tokenOf(r)
		mayWithdraw := !approve && cr.MayWithdraw(actor)
		if (tok == nil || !tok.Admin) && !mayWithdraw {
			return newError(errForbidden, "reviewing change requests needs a token with :admin")
		}
		ch := a.change(r, actor)
		ch.Reason = body.Comment
		got, err := a.store.ReviewChangeRequest(r.Context(), id, approve, body.Comment, ch)
		if err != nil {
			if errors.Is(err, flagon.ErrConflict) {
				return &apiError{kind: flagon.ErrConflict, cause: err, msg: conflictText(got)}
			}
			return notFoundRequest(id, err)
		}
		writeJSON(w, http.StatusOK, got)
		return nil
	}
}

// conflictText says why a review was a conflict.
func conflictText(cr flagon.ChangeRequest) string {
	if cr.State == flagon.RequestConflict {
		return fmt.Sprintf("change request %d was not applied: %s", cr.ID, cr.Error)
	}
	return fmt.Sprintf("change request %d was decided already", cr.ID)
}
