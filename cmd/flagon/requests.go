package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/jsondiff"
	"github.com/flagon/flagon/server"
)

// requestsUsage is the argument part of flagon requests' usage line.
const requestsUsage = "list [-state STATE] [-flag KEY] [-environment ENV] | show ID | approve ID -as NAME [-comment TEXT] | reject ID -as NAME [-comment TEXT]"

// runRequests works on the change requests of protected environments
// (docs/decisions/0173) in the store: list shows them, pending ones by
// default, newest first; show prints one, with what it changes in the
// flag; approve and reject decide one as -as NAME, a user of the store who
// is an admin in the request's environment and did not ask for it (its
// author may reject, that is withdraw, it). An approval applies through
// the store, in one transaction, and is audited with both names.
func runRequests(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("requests", requestsUsage, stderr)
	var sf storeFlags
	sf.registerStore(fs)
	state := fs.String("state", string(flagon.RequestPending), "list: the state of the requests to list: pending, approved, rejected, applied, conflict, or all")
	flagKey := fs.String("flag", "", "list: only the requests of this flag")
	environment := fs.String("environment", "", "list: only the requests made in this environment")
	limit := fs.Int("limit", 100, "list: at most this many requests, newest first")
	as := fs.String("as", "", "approve, reject: the user of the store who reviews: an admin in the request's environment, or (reject) its author withdrawing it")
	comment := fs.String("comment", "", "approve, reject: what the reviewer says; it goes in the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want list, show, approve or reject", errUsage)
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	want := map[string]int{"list": 0, "show": 1, "approve": 1, "reject": 1}
	n, known := want[verb]
	switch {
	case !known:
		return fmt.Errorf("%w: unknown requests command %q (want list, show, approve or reject)", errUsage, verb)
	case len(rest) != n:
		return fmt.Errorf("%w: %s takes %d argument(s)", errUsage, verb, n)
	}
	var id int64
	if n == 1 {
		var err error
		if id, err = strconv.ParseInt(strings.TrimPrefix(rest[0], "#"), 10, 64); err != nil || id < 1 {
			return fmt.Errorf("%w: want a change request's number, got %q", errUsage, rest[0])
		}
	}
	q := flagon.ChangeRequestQuery{Flag: *flagKey, Environment: *environment, State: flagon.RequestState(*state), Limit: *limit}
	switch verb {
	case "list":
		if err := checkListQuery(&q); err != nil {
			return err
		}
	case "approve", "reject":
		if *as == "" {
			return fmt.Errorf("%w: %s needs -as NAME, the user of the store who reviews", errUsage, verb)
		}
		if err := flagon.CheckReviewComment(*comment); err != nil {
			return fmt.Errorf("%w: -comment: %v", errUsage, err)
		}
	}
	st, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "list":
		return listRequests(ctx, st, q, stdout)
	case "show":
		return showRequest(ctx, st, id, stdout)
	}
	return reviewRequest(ctx, st, id, verb == "approve", *as, *comment, stdout)
}

// checkListQuery checks list's -state and -limit, and makes -state all
// select every state.
func checkListQuery(q *flagon.ChangeRequestQuery) error {
	switch q.State {
	case "all":
		q.State = ""
	case flagon.RequestPending, flagon.RequestApproved, flagon.RequestRejected, flagon.RequestApplied, flagon.RequestConflict:
	default:
		return fmt.Errorf("%w: -state %q: want pending, approved, rejected, applied, conflict or all", errUsage, q.State)
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return fmt.Errorf("%w: -limit %d: want a number from 1 to 1000", errUsage, q.Limit)
	}
	return nil
}

// listRequests prints the requests q selects as a table, newest first.
func listRequests(ctx context.Context, st server.Store, q flagon.ChangeRequestQuery, stdout io.Writer) error {
	all, err := st.ChangeRequests(ctx, q)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		what := "change requests"
		if q.State != "" {
			what = string(q.State) + " " + what
		}
		fmt.Fprintf(stdout, "no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tENVIRONMENT\tFLAG\tAUTHOR\tCREATED\tREASON")
	for _, cr := range all {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.ID, requestState(cr), cr.Environment, cr.Flag, cr.Author,
			cr.CreatedAt.UTC().Format(time.RFC3339), orDash(shorten(cr.Reason, 60)))
	}
	return tw.Flush()
}

// requestState says where cr is, marking an emergency change.
func requestState(cr flagon.ChangeRequest) string {
	if cr.Emergency {
		return string(cr.State) + " (emergency)"
	}
	return string(cr.State)
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// showRequest prints request id and what it changes: for a flag change,
// the proposed flag against the current one, field by field, as the
// console shows it.
func showRequest(ctx context.Context, st server.Store, id int64, stdout io.Writer) error {
	cr, err := readRequest(ctx, st, id)
	if err != nil {
		return err
	}
	var cur *flagon.StoredFlag
	switch f, err := st.Flag(ctx, cr.Flag); {
	case err == nil:
		cur = &f
	case !errors.Is(err, flagon.ErrNotFound):
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Change request:\t#%d, %s\n", cr.ID, requestState(cr))
	fmt.Fprintf(tw, "Flag:\t%s\n", cr.Flag)
	fmt.Fprintf(tw, "Environment:\t%s\n", cr.Environment)
	fmt.Fprintf(tw, "Author:\t%s, %s\n", cr.Author, cr.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "Reason:\t%s\n", orDash(cr.Reason))
	fmt.Fprintf(tw, "Base version:\t%s\n", baseVersion(cr, cur))
	if cr.Reviewer != "" {
		fmt.Fprintf(tw, "Reviewer:\t%s, %s\n", cr.Reviewer, cr.ReviewedAt.UTC().Format(time.RFC3339))
		fmt.Fprintf(tw, "Comment:\t%s\n", orDash(cr.Comment))
	}
	if cr.Error != "" {
		fmt.Fprintf(tw, "Not applied:\t%s\n", cr.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	switch {
	case cr.Emergency:
		fmt.Fprintln(stdout, "An emergency change: it applied at once, and waits for an admin's review after the fact.")
	case len(cr.Schedule) > 0:
		fmt.Fprintln(stdout, "Scheduled changes, added when approved:")
		for _, sc := range cr.Schedule {
			fmt.Fprintf(stdout, "  %s  %s\n", sc.At.UTC().Format(time.RFC3339), served(sc.Definition.In(cr.Environment).Fallthrough))
		}
	default:
		var base flagon.Flag
		if cur != nil {
			base = cur.Flag
		}
		printChanges(stdout, jsondiff.Flags(base, cr.Proposed))
	}
	return nil
}

// baseVersion describes the version cr was made against, and whether the
// flag has moved past it, as approving would then find.
func baseVersion(cr flagon.ChangeRequest, cur *flagon.StoredFlag) string {
	s := strconv.FormatInt(cr.BaseVersion, 10)
	if cr.BaseVersion == 0 {
		s = "none (a new flag)"
	}
	if cr.Emergency || cr.State != flagon.RequestPending {
		return s
	}
	switch {
	case cur == nil && cr.BaseVersion != 0:
		s += "; the flag no longer exists, so approving it is a conflict"
	case cur != nil && cur.Version != cr.BaseVersion:
		s += fmt.Sprintf("; the flag is now at version %d, so approving it is a conflict", cur.Version)
	}
	return s
}

// served says what a scheduled step serves.
func served(s flagon.Serve) string {
	if len(s.Split) == 0 {
		return "all " + s.Variant
	}
	parts := make([]string, len(s.Split))
	for i, sp := range s.Split {
		parts[i] = fmt.Sprintf("%v%% %s", sp.Percent, sp.Variant)
	}
	return strings.Join(parts, ", ")
}

// printChanges prints a flag's changes, one a line.
func printChanges(w io.Writer, changes []jsondiff.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "No change to the flag as it is now.")
		return
	}
	fmt.Fprintln(w, "What changes:")
	for _, c := range changes {
		where := c.Path
		if c.Context != "" {
			where += " (" + c.Context + ")"
		}
		switch c.Kind {
		case "added":
			fmt.Fprintf(w, "  + %s: %s\n", where, c.New)
		case "removed":
			fmt.Fprintf(w, "  - %s: %s\n", where, c.Old)
		default:
			fmt.Fprintf(w, "  ~ %s: %s → %s\n", where, c.Old, c.New)
		}
	}
}

// readRequest reads request id, saying which one does not exist.
func readRequest(ctx context.Context, st flagon.ChangeRequestStore, id int64) (flagon.ChangeRequest, error) {
	cr, err := st.ChangeRequest(ctx, id)
	if errors.Is(err, flagon.ErrNotFound) {
		return cr, fmt.Errorf("no change request #%d", id)
	}
	return cr, err
}

// reviewRequest approves or rejects request id as the user as, and says
// what became of it. An approval the flag has moved past is a conflict:
// the request is left in that state and the error says so.
func reviewRequest(ctx context.Context, st server.Store, id int64, approve bool, as, comment string, stdout io.Writer) error {
	cr, err := readRequest(ctx, st, id)
	if err != nil {
		return err
	}
	if err := mayReview(ctx, st, cr, as, approve); err != nil {
		return err
	}
	got, err := st.ReviewChangeRequest(ctx, id, approve, comment, flagon.Change{Actor: as, Reason: comment})
	switch {
	case got.State == flagon.RequestConflict:
		return fmt.Errorf("change request #%d was not applied, and is now in conflict: %s; ask again against the flag as it is now", id, got.Error)
	case errors.Is(err, flagon.ErrSelfReview):
		return selfReview(cr, as)
	case errors.Is(err, flagon.ErrConflict):
		return fmt.Errorf("change request #%d was not reviewed: %v", id, err)
	case err != nil:
		return err
	}
	switch got.State {
	case flagon.RequestApplied:
		if got.Emergency {
			fmt.Fprintf(stdout, "reviewed #%d: the emergency change of %s in %s (by %s)\n", id, got.Flag, got.Environment, got.Author)
		} else {
			fmt.Fprintf(stdout, "approved #%d: %s applied in %s (asked by %s, approved by %s)\n", id, got.Flag, got.Environment, got.Author, got.Reviewer)
		}
	case flagon.RequestApproved:
		fmt.Fprintf(stdout, "approved #%d: %d scheduled change(s) of %s in %s added (asked by %s, approved by %s)\n", id, len(got.Schedule), got.Flag, got.Environment, got.Author, got.Reviewer)
	default:
		fmt.Fprintf(stdout, "%s #%d: %s in %s\n", got.State, id, got.Flag, got.Environment)
	}
	return nil
}

// mayReview says why the user as may not approve (or reject) cr, or nil:
// as must be an enabled user of the store and an admin in cr's
// environment, except that cr's author may reject (withdraw) it. That the
// author may not approve it is the store's rule too.
func mayReview(ctx context.Context, st flagon.UserStore, cr flagon.ChangeRequest, as string, approve bool) error {
	u, err := st.User(ctx, as)
	switch {
	case errors.Is(err, flagon.ErrNotFound):
		return fmt.Errorf("-as %s: no such user in the store (see flagon users list)", as)
	case err != nil:
		return err
	case u.Disabled:
		return fmt.Errorf("-as %s: the user is disabled", as)
	case !approve && cr.MayWithdraw(as):
		return nil
	}
	if role := u.RoleIn(cr.Environment); role != "admin" {
		if approve && cr.Author == as {
			return selfReview(cr, as)
		}
		return fmt.Errorf("%s is %s in %s, not admin: only an admin there may review change request #%d", as, role, cr.Environment, cr.ID)
	}
	return nil
}

// selfReview is the error of cr's author approving it.
func selfReview(cr flagon.ChangeRequest, as string) error {
	return fmt.Errorf("%w: %s asked for change request #%d, so another admin must approve it (the author may reject it, to withdraw it)", flagon.ErrSelfReview, as, cr.ID)
}
