package flagontest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/flagon/flagon"
)

var _ flagon.ChangeRequestStore = (*MemoryStore)(nil)

// copyRequest returns cr with a proposal and steps of its own, copied
// through their JSON form as the SQL stores copy them.
func copyRequest(cr flagon.ChangeRequest) flagon.ChangeRequest {
	data, err := json.Marshal(cr.Proposed)
	if err != nil {
		panic(err) // validated flags encode
	}
	cr.Proposed = flagon.Flag{}
	if err := flagon.UnmarshalFlag(data, &cr.Proposed); err != nil {
		panic(err)
	}
	steps := cr.Schedule
	cr.Schedule = nil
	for _, sc := range steps {
		cr.Schedule = append(cr.Schedule, copySchedule(sc))
	}
	return cr
}

// AddChangeRequest implements flagon.ChangeRequestStore.
func (m *MemoryStore) AddChangeRequest(ctx context.Context, cr flagon.ChangeRequest, c flagon.Change) (int64, error) {
	cr.Author, cr.Reason, cr.Environment = c.Actor, c.Reason, c.Environment
	if len(cr.Schedule) > 0 {
		cr.Proposed = flagon.Flag{Key: cr.Flag}
	}
	if err := cr.Validate(); err != nil {
		return 0, fmt.Errorf("memory store: add change request for %q: %w", cr.Flag, err)
	}
	err := m.write(fmt.Sprintf("add change request for %q", cr.Flag), c, func(rev int64, now time.Time) (memRecord, error) {
		cr = copyRequest(cr)
		cr.ID = int64(len(m.requests) + 1)
		cr.State, cr.CreatedAt = flagon.RequestPending, now
		cr.Reviewer, cr.Comment, cr.ReviewedAt, cr.Error = "", "", time.Time{}, ""
		if cr.Emergency {
			cr.State = flagon.RequestApplied
		}
		for i := range cr.Schedule {
			sc := &cr.Schedule[i]
			sc.At, sc.Author, sc.Environment, sc.BaseVersion = storeTime(sc.At), cr.Author, cr.Environment, cr.BaseVersion
		}
		m.requests = append(m.requests, cr)
		return memRecord{action: "request.add", target: cr.Flag, after: cr}, nil
	})
	return cr.ID, err
}

// ChangeRequests implements flagon.ChangeRequestStore.
func (m *MemoryStore) ChangeRequests(ctx context.Context, q flagon.ChangeRequestQuery) ([]flagon.ChangeRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("change requests"); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = flagon.DefaultAuditLimit
	}
	var out []flagon.ChangeRequest
	for _, cr := range slices.Backward(m.requests) {
		if (q.Flag == "" || cr.Flag == q.Flag) && (q.Environment == "" || cr.Environment == q.Environment) && (q.State == "" || cr.State == q.State) && len(out) < limit {
			out = append(out, copyRequest(cr))
		}
	}
	return out, nil
}

// ChangeRequest implements flagon.ChangeRequestStore.
func (m *MemoryStore) ChangeRequest(ctx context.Context, id int64) (flagon.ChangeRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("change request"); err != nil {
		return flagon.ChangeRequest{}, err
	}
	if id < 1 || id > int64(len(m.requests)) {
		return flagon.ChangeRequest{}, fmt.Errorf("memory store: change request %d: %w", id, flagon.ErrNotFound)
	}
	return copyRequest(m.requests[id-1]), nil
}

// ReviewChangeRequest implements flagon.ChangeRequestStore.
func (m *MemoryStore) ReviewChangeRequest(ctx context.Context, id int64, approve bool, comment string, c flagon.Change) (flagon.ChangeRequest, error) {
	if err := flagon.CheckReviewComment(comment); err != nil {
		return flagon.ChangeRequest{}, fmt.Errorf("memory store: review change request %d: %w", id, err)
	}
	pre, err := m.ChangeRequest(ctx, id)
	if err != nil {
		return pre, err
	}
	pre, c = flagon.Review(pre, approve, comment, c)
	var out flagon.ChangeRequest
	err = m.write(fmt.Sprintf("review change request %d", id), c, func(rev int64, now time.Time) (memRecord, error) {
		cr := copyRequest(m.requests[id-1])
		old := cr
		if err := cr.CheckReview(approve, c.Actor); err != nil {
			return memRecord{}, err
		}
		cr.Reviewer, cr.Comment, cr.ReviewedAt = c.Actor, comment, now
		r, err := m.decide(&cr, approve, rev, now)
		if err != nil {
			return memRecord{}, err
		}
		m.requests[id-1] = cr
		out = copyRequest(cr)
		if r.action == "" {
			r = memRecord{action: "request.reject", target: cr.Flag, before: old, after: cr}
			if approve {
				r.action = "request.approve"
			}
		}
		return r, nil
	})
	if err == nil && out.State == flagon.RequestConflict {
		err = fmt.Errorf("memory store: review change request %d: %w: %s", id, flagon.ErrConflict, out.Error)
	}
	return out, err
}

// decide sets cr's new state and applies an approval. m.mu is held.
func (m *MemoryStore) decide(cr *flagon.ChangeRequest, approve bool, rev int64, now time.Time) (memRecord, error) {
	switch {
	case cr.Emergency:
		return memRecord{action: "request.review", target: cr.Flag, after: *cr}, nil
	case !approve:
		cr.State = flagon.RequestRejected
		return memRecord{}, nil
	}
	cur, _ := m.flag(cr.Flag)
	if cur.Version != cr.BaseVersion {
		cr.State = flagon.RequestConflict
		cr.Error = fmt.Sprintf("flag %q is at version %d, not the version %d the request was made against", cr.Flag, cur.Version, cr.BaseVersion)
		return memRecord{action: "request.conflict", target: cr.Flag, after: *cr}, nil
	}
	if len(cr.Schedule) > 0 {
		for i := range cr.Schedule {
			sc := copySchedule(cr.Schedule[i])
			sc.ID = int64(len(m.schedules) + 1)
			sc.Status, sc.CreatedAt = flagon.SchedulePending, now
			m.schedules = append(m.schedules, sc)
			cr.Schedule[i].ID = sc.ID
		}
		cr.State = flagon.RequestApproved
		return memRecord{}, nil
	}
	r, _, err := m.putFlag(cr.Proposed, cr.BaseVersion, now, cr.Reviewer)
	cr.State = flagon.RequestApplied
	return r, err
}
