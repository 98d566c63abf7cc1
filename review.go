package flagon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A RequestState is where a ChangeRequest is in its review.
type RequestState string

// The states of a ChangeRequest. A pending request moves once: to
// rejected, to applied (a flag change, put when approved), to approved (a
// schedule, whose steps then wait for their time), or to conflict (the
// flag changed after the request was made, so approving it would undo
// someone's work).
const (
	RequestPending  RequestState = "pending"
	RequestApproved RequestState = "approved"
	RequestRejected RequestState = "rejected"
	RequestApplied  RequestState = "applied"
	RequestConflict RequestState = "conflict"
)

// A ChangeRequest is a flag change proposed in a protected environment,
// waiting for a second person to approve it (docs/decisions/0173). It
// proposes either a whole flag (Proposed) or scheduled changes of one
// flag (Schedule), planned against the flag's version BaseVersion.
type ChangeRequest struct {
	// ID is set by the store.
	ID int64 `json:"id"`
	// Flag is the key of the flag the request changes.
	Flag string `json:"flag"`
	// Environment is the protected environment the request was made in:
	// the Change.Environment of AddChangeRequest.
	Environment string `json:"environment"`
	// Author is who asked: the Change.Actor of AddChangeRequest.
	Author string `json:"author"`
	// Reason is the author's, as the Change.Reason of AddChangeRequest.
	Reason string `json:"reason,omitempty"`
	// BaseVersion is the version of the flag the request was made
	// against; zero proposes a new flag. Approval applies the request only
	// while the flag is still at this version.
	BaseVersion int64 `json:"base_version"`
	// Proposed is the whole flag as it is to be, when Schedule is empty.
	Proposed Flag `json:"proposed"`
	// Schedule, if set, are the scheduled changes the request adds when
	// approved; until then none of them exists, so none can apply.
	Schedule []ScheduledChange `json:"schedule,omitempty"`
	// Emergency marks the record of a change that applied at once, such
	// as a kill switch turned on, with State applied: it waits for a
	// review after the fact, which sets Reviewer and Comment.
	Emergency bool `json:"emergency,omitempty"`
	// State, CreatedAt and the review fields are set by the store.
	State     RequestState `json:"state"`
	CreatedAt time.Time    `json:"created_at"`
	// Reviewer is who approved, rejected or (for an emergency change)
	// reviewed the request; Comment is what they said.
	Reviewer   string    `json:"reviewer,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	// Error says why a request ended in conflict.
	Error string `json:"error,omitempty"`
}

// Validate reports what makes cr unfit for ChangeRequestStore.AddChangeRequest,
// as FieldErrors: a valid flag key, an environment, and either a proposed
// flag of that key that is valid on its own, or valid scheduled changes
// of that flag.
func (cr *ChangeRequest) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Flag: cr.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case !ValidKey(cr.Flag):
		add("flag", "invalid flag key %q", cr.Flag)
	case !ValidKey(cr.Environment):
		add("environment", "a change request needs the environment it is made in, not %q", cr.Environment)
	case len(cr.Reason) > MaxAuditReasonLen/2 || !printable(cr.Reason):
		add("reason", "reason must be at most %d printable characters", MaxAuditReasonLen/2)
	case cr.BaseVersion < 0:
		add("base_version", "want a version of 0 or more, got %d", cr.BaseVersion)
	case len(cr.Schedule) > 0:
		if cr.Emergency {
			add("emergency", "an emergency change applies at once; it cannot be a schedule")
		}
		for i := range cr.Schedule {
			sc := cr.Schedule[i]
			sc.Environment = cr.Environment
			if sc.Flag != cr.Flag {
				add(fmt.Sprintf("schedule[%d].flag", i), "step of flag %q in a request for %q", sc.Flag, cr.Flag)
			} else if err := sc.Validate(); err != nil {
				add(fmt.Sprintf("schedule[%d]", i), "%v", err)
			}
		}
	case cr.Proposed.Key != cr.Flag:
		add("proposed.key", "proposed flag %q in a request for %q", cr.Proposed.Key, cr.Flag)
	default:
		f := cr.Proposed.Normalize()
		if err := f.Validate(namedAudiences(f)); err != nil {
			add("proposed", "%v", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// CheckReviewComment reports a reviewer's comment too long for a
// ChangeRequestStore to keep, as FieldErrors naming "comment".
func CheckReviewComment(comment string) error {
	if len(comment) > MaxRequestCommentLen {
		return FieldErrors{{Field: "comment", Msg: fmt.Sprintf("at most %d bytes", MaxRequestCommentLen)}}
	}
	return nil
}

// Review returns cr as reviewed by c.Actor with comment, and the change
// under which a ChangeRequestStore records the review: in cr's
// environment, with the reason of an approval (RequestReason) or else the
// comment. Every store does this the same way, so that the audit log
// reads alike whatever keeps it.
func Review(cr ChangeRequest, approve bool, comment string, c Change) (ChangeRequest, Change) {
	cr.Reviewer, cr.Comment = c.Actor, comment
	c.Environment = cr.Environment
	switch {
	case approve && !cr.Emergency:
		c.Reason = RequestReason(cr)
	case comment != "":
		c.Reason = comment
	}
	return cr, c
}

// MayWithdraw reports whether actor may reject cr without being one of
// its reviewers: actor asked for it, so rejecting it withdraws it. An
// emergency record is not withdrawn: the change is made, and a reviewer
// reviews it. Approving is never the author's (ErrSelfReview).
func (cr *ChangeRequest) MayWithdraw(actor string) bool {
	return cr.Author == actor && !cr.Emergency
}

// CheckReview reports why reviewer may not decide cr as it stands: the
// author approving their own request (ErrSelfReview), or a request
// already decided (ErrConflict). A pending request is decided once; an
// emergency record, which applied at once, is reviewed once. Every
// ChangeRequestStore checks this in the transaction that records the
// decision, on the request as stored there.
func (cr *ChangeRequest) CheckReview(approve bool, reviewer string) error {
	if approve && cr.Author == reviewer {
		return fmt.Errorf("%w (%s asked for #%d)", ErrSelfReview, cr.Author, cr.ID)
	}
	switch {
	case cr.Emergency && cr.Reviewer != "":
		return fmt.Errorf("%w: change request %d was already reviewed by %s", ErrConflict, cr.ID, cr.Reviewer)
	case cr.Emergency && cr.State == RequestApplied, !cr.Emergency && cr.State == RequestPending && cr.Reviewer == "":
		return nil
	}
	return fmt.Errorf("%w: change request %d is %s", ErrConflict, cr.ID, cr.State)
}

// RequestReason returns the audit reason of the write that applies cr on
// its reviewer's approval: it names the author, so that the entry, whose
// actor is the approver, names both.
func RequestReason(cr ChangeRequest) string {
	r := fmt.Sprintf("change request #%d by %s, approved by %s", cr.ID, cr.Author, cr.Reviewer)
	if cr.Reason != "" {
		r += ": " + cr.Reason
	}
	if cr.Comment != "" {
		r += " (" + cr.Comment + ")"
	}
	if len(r) > MaxAuditReasonLen {
		r = r[:MaxAuditReasonLen]
	}
	return r
}

// MaxRequestCommentLen bounds a reviewer's comment.
const MaxRequestCommentLen = 500

// ChangeRequestQuery selects change requests; zero fields select all.
type ChangeRequestQuery struct {
	Flag        string
	Environment string
	State       RequestState
	// Limit bounds how many come back, newest first; zero means
	// DefaultAuditLimit.
	Limit int
}

// ErrSelfReview means a change request's author tried to approve it: the
// point of a review is a second person.
var ErrSelfReview = errors.New("the author of a change request cannot approve it")

// A ChangeRequestStore keeps change requests and applies the approved
// ones. Who may review is the caller's decision (a role); that the author
// may not approve their own request is the store's, so that no caller can
// forget it. flagontest.TestChangeRequestStore checks any implementation.
type ChangeRequestStore interface {
	// AddChangeRequest stores cr, after cr.Validate, as a pending request
	// (or, if cr.Emergency, an applied one awaiting review) whose Author,
	// Reason and Environment are c's, and returns its ID. It is audited
	// as request.add.
	AddChangeRequest(ctx context.Context, cr ChangeRequest, c Change) (int64, error)
	// ChangeRequests returns the requests q selects, newest first.
	ChangeRequests(ctx context.Context, q ChangeRequestQuery) ([]ChangeRequest, error)
	// ChangeRequest returns one request, or ErrNotFound.
	ChangeRequest(ctx context.Context, id int64) (ChangeRequest, error)
	// ReviewChangeRequest records c.Actor's decision on request id, with
	// comment, and returns the request as it now is. Approving a pending
	// request applies it in the same transaction, if the flag is still at
	// BaseVersion: a flag change is put (audited with the reviewer as
	// actor and RequestReason as reason) and the request becomes applied;
	// a schedule's changes are added, authored by the request's author,
	// and it becomes approved. If the flag has moved on, the request
	// becomes conflict and the error wraps ErrConflict. Rejecting makes
	// it rejected; reviewing an emergency record sets its reviewer. The
	// author approving is ErrSelfReview; an unknown ID is ErrNotFound; a
	// request already decided is ErrConflict. Each decision is audited:
	// an applied flag change as its put (flag.update or flag.create), the
	// others as request.approve, request.reject, request.conflict and
	// request.review.
	ReviewChangeRequest(ctx context.Context, id int64, approve bool, comment string, c Change) (ChangeRequest, error)
}

// ChangesEnvironment reports whether replacing old by new changes what
// env evaluates: the flag as Flag.In(env) sees it. A change to another
// environment's settings alone does not; one to the flag's own fields
// (not overridden in env) does. A new flag is old's zero Flag.
func ChangesEnvironment(old, new Flag, env string) bool {
	a, errA := json.Marshal(old.In(env).Normalize())
	b, errB := json.Marshal(new.In(env).Normalize())
	return errA != nil || errB != nil || !bytes.Equal(a, b)
}

// OnlyKills reports whether replacing old by new does nothing in env but
// turn the flag's kill switch on there: the one change a protected
// environment applies at once, to be reviewed after the fact
// (docs/decisions/0173).
func OnlyKills(old, new Flag, env string) bool {
	a, b := old.In(env), new.In(env)
	if a.Disabled || !b.Disabled {
		return false
	}
	a.Disabled = true
	return !ChangesEnvironment(a, b, env)
}
