package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/server"
)

// TestRequests works on change requests made in production through
// flagon requests: listed and shown, approved by an admin there (applied,
// audited with both names), refused to their author, to a non-admin, to a
// disabled and to an unknown user, a conflict reported, and rejected by an
// admin or withdrawn by their author.
func TestRequests(t *testing.T) {
	ctx := t.Context()
	db := "sqlite://" + filepath.Join(t.TempDir(), "flagon.db")
	st, err := server.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	setup := flagon.Change{Actor: "setup"}
	for _, u := range []flagon.User{
		{Name: "ann", Role: "admin"},
		{Name: "bob", Role: "viewer", EnvRoles: map[string]string{"production": "admin"}},
		{Name: "cy", Role: "admin", EnvRoles: map[string]string{"production": "editor"}},
		{Name: "dee", Role: "admin", Disabled: true},
	} {
		u.PasswordHash = "not a real hash"
		if err := st.PutUser(ctx, u, setup); err != nil {
			t.Fatal(err)
		}
	}
	boolFlag := func(key string) flagon.Flag {
		return flagon.Flag{Key: key, Type: flagon.TypeBool, Default: "off",
			Variants: []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}}
	}
	for _, key := range []string{"new-home-page", "checkout"} {
		if _, err := st.PutFlag(ctx, boolFlag(key), 0, setup); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(author, reason string, f flagon.Flag) {
		t.Helper()
		cr := flagon.ChangeRequest{Flag: f.Key, BaseVersion: 1, Proposed: f}
		if _, err := st.AddChangeRequest(ctx, cr, flagon.Change{Actor: author, Reason: reason, Environment: "production"}); err != nil {
			t.Fatal(err)
		}
	}
	on := boolFlag("new-home-page")
	on.Default, on.Tags = "on", []string{"beta"}
	ask("ann", "launch the new home page", on)                                                                                  // #1
	ask("ann", "turn checkout on", func() flagon.Flag { f := boolFlag("checkout"); f.Default = "on"; return f }())              // #2
	ask("ann", "describe it", func() flagon.Flag { f := boolFlag("checkout"); f.Description = "the new checkout"; return f }()) // #3
	ask("cy", "own it", func() flagon.Flag { f := boolFlag("checkout"); f.Owner = "shop"; return f }())                         // #4

	requests := func(want int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := cli(t, append([]string{"requests", "-store", db}, args...)...)
		if code != want {
			t.Fatalf("flagon requests %q: exit %d, want %d: %s%s", args, code, want, stdout, stderr)
		}
		return stdout, stderr
	}

	// list: pending ones, newest first.
	out, _ := requests(0, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID STATE ENVIRONMENT FLAG AUTHOR CREATED REASON" {
		t.Fatalf("list:\n%s", out)
	}
	for i, id := range []string{"4", "3", "2", "1"} {
		if f := strings.Fields(lines[i+1]); f[0] != id || f[1] != "pending" || f[2] != "production" {
			t.Errorf("line %d = %q, want request %s, pending, in production", i+1, lines[i+1], id)
		}
	}
	if f := strings.Fields(lines[4]); f[3] != "new-home-page" || f[4] != "ann" || !strings.HasSuffix(lines[4], "launch the new home page") {
		t.Errorf("request 1 lists as %q", lines[4])
	}
	if out, _ := requests(0, "list", "-flag", "new-home-page"); strings.Count(out, "\n") != 2 {
		t.Errorf("list -flag new-home-page:\n%s", out)
	}
	if out, _ := requests(0, "list", "-environment", "staging"); out != "no pending change requests\n" {
		t.Errorf("list -environment staging: %q", out)
	}
	requests(2, "list", "-state", "done")

	// show: the request, and what it changes in the flag as it is.
	out, _ = requests(0, "show", "1")
	for _, want := range []string{"#1, pending", "new-home-page", "ann, ", "launch the new home page",
		"What changes:", `~ default: "off" → "on"`, `+ tags: ["beta"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("show 1 lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n  ") != 2 {
		t.Errorf("show 1 lists other changes than default and tags:\n%s", out)
	}
	if _, stderr := requests(1, "show", "99"); !strings.Contains(stderr, "no change request #99") {
		t.Errorf("show 99: %q", stderr)
	}
	requests(2, "show", "one")

	// Refused: the author (by the store), a non-admin in production, a
	// disabled user, a user not in the store; and -as is needed.
	if _, stderr := requests(1, "approve", "1", "-as", "ann"); !strings.Contains(stderr, "cannot approve") || !strings.Contains(stderr, "ann asked for change request #1") {
		t.Errorf("the author approving: %q", stderr)
	}
	if _, stderr := requests(1, "approve", "1", "-as", "cy"); !strings.Contains(stderr, "cy is editor in production, not admin") {
		t.Errorf("an editor approving: %q", stderr)
	}
	if _, stderr := requests(1, "approve", "1", "-as", "dee"); !strings.Contains(stderr, "disabled") {
		t.Errorf("a disabled admin approving: %q", stderr)
	}
	if _, stderr := requests(1, "approve", "1", "-as", "zed"); !strings.Contains(stderr, "zed: no such user") {
		t.Errorf("an unknown user approving: %q", stderr)
	}
	requests(2, "approve", "1")
	if cr, _ := st.ChangeRequest(ctx, 1); cr.State != flagon.RequestPending {
		t.Fatalf("after the refusals request 1 is %s", cr.State)
	}

	// Approved by an admin in production: applied, audited with both names.
	if out, _ := requests(0, "approve", "1", "-as", "bob", "-comment", "go"); out != "approved #1: new-home-page applied in production (asked by ann, approved by bob)\n" {
		t.Errorf("approve 1: %q", out)
	}
	f, err := st.Flag(ctx, "new-home-page")
	if err != nil || f.Default != "on" || f.Version != 2 || f.UpdatedBy != "bob" {
		t.Errorf("new-home-page after approval: %+v %v", f, err)
	}
	es, err := st.Audit(ctx, flagon.AuditQuery{Target: "new-home-page", Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %v %v", es, err)
	}
	if e := es[0]; e.Action != "flag.update" || e.Actor != "bob" || e.Environment != "production" ||
		!strings.Contains(e.Reason, "change request #1 by ann, approved by bob") {
		t.Errorf("audit of the approval: %+v", e)
	}
	if _, stderr := requests(1, "approve", "1", "-as", "bob"); !strings.Contains(stderr, "not reviewed") || !strings.Contains(stderr, "applied") {
		t.Errorf("approving again: %q", stderr)
	}

	// A conflict: checkout moved on after request 2 was made.
	moved := boolFlag("checkout")
	moved.Description = "changed meanwhile"
	if _, err := st.PutFlag(ctx, moved, 1, flagon.Change{Actor: "eve"}); err != nil {
		t.Fatal(err)
	}
	if out, _ := requests(0, "show", "2"); !strings.Contains(out, "now at version 2, so approving it is a conflict") {
		t.Errorf("show 2 does not warn of the conflict:\n%s", out)
	}
	_, stderr := requests(1, "approve", "2", "-as", "bob")
	if !strings.Contains(stderr, "#2 was not applied, and is now in conflict") || !strings.Contains(stderr, "at version 2") || !strings.Contains(stderr, "eve") {
		t.Errorf("approving a request the flag moved past: %q", stderr)
	}
	if f, _ := st.Flag(ctx, "checkout"); f.Default != "off" || f.Version != 2 {
		t.Errorf("checkout after the conflict: %+v", f)
	}
	if out, _ := requests(0, "list", "-state", "conflict"); !strings.Contains(out, "\n2 ") {
		t.Errorf("list -state conflict:\n%s", out)
	}

	// Rejected by an admin; withdrawn by its author, who is no admin; a
	// non-admin who did not ask may not reject.
	if _, stderr := requests(1, "reject", "3", "-as", "cy"); !strings.Contains(stderr, "not admin") {
		t.Errorf("an editor rejecting another's request: %q", stderr)
	}
	if out, _ := requests(0, "reject", "3", "-as", "bob", "-comment", "not now"); out != "rejected #3: checkout in production\n" {
		t.Errorf("reject 3: %q", out)
	}
	if out, _ := requests(0, "reject", "#4", "-as", "cy"); out != "rejected #4: checkout in production\n" {
		t.Errorf("cy withdrawing 4: %q", out)
	}
	for id, want := range map[int64]string{3: "bob not now", 4: "cy "} {
		cr, err := st.ChangeRequest(ctx, id)
		if err != nil || cr.State != flagon.RequestRejected || cr.Reviewer+" "+cr.Comment != want {
			t.Errorf("request %d: %s by %q (%q), %v; want rejected, %q", id, cr.State, cr.Reviewer, cr.Comment, err, want)
		}
	}
	if out, _ := requests(0, "list"); out != "no pending change requests\n" {
		t.Errorf("list at the end: %q", out)
	}
	out, _ = requests(0, "list", "-state", "all")
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("list -state all: %d lines:\n%s", n, out)
	}
}
