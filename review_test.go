package flagon_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flagon/flagon"
)

func TestChangesEnvironment(t *testing.T) {
	base := flagon.Flag{
		Key: "f", Type: flagon.TypeBool, Default: "off",
		Variants:    []flagon.Variant{{Name: "off", Value: false}, {Name: "on", Value: true}},
		Fallthrough: flagon.Serve{Variant: "off"},
	}
	on := flagon.Serve{Variant: "on"}
	yes := true
	stagingOn := base
	stagingOn.Environments = map[string]flagon.EnvSettings{"staging": {Fallthrough: &on}}
	allOn := base
	allOn.Fallthrough = on
	killed := base
	killed.Disabled = true
	killedInProd := base
	killedInProd.Environments = map[string]flagon.EnvSettings{"production": {Disabled: &yes}}
	killedAndOn := killed
	killedAndOn.Fallthrough = on
	for _, tc := range []struct {
		name          string
		old, new      flagon.Flag
		changes, kill bool
	}{
		{"same", base, base, false, false},
		{"another environment only", base, stagingOn, false, false},
		{"the flag's own serve", base, allOn, true, false},
		{"a new flag", flagon.Flag{}, base, true, false},
		{"kill switch on", base, killed, true, true},
		{"kill switch on in production", base, killedInProd, true, true},
		{"kill switch off", killed, base, true, false},
		{"kill and more", base, killedAndOn, true, false},
	} {
		if got := flagon.ChangesEnvironment(tc.old, tc.new, "production"); got != tc.changes {
			t.Errorf("%s: ChangesEnvironment = %v, want %v", tc.name, got, tc.changes)
		}
		if got := flagon.OnlyKills(tc.old, tc.new, "production"); got != tc.kill {
			t.Errorf("%s: OnlyKills = %v, want %v", tc.name, got, tc.kill)
		}
	}
}

// A kill switch turned on in production changes production, and does
// nothing else: the one change a protected environment applies at once.
func ExampleOnlyKills() {
	f := flagon.Flag{Key: "checkout", Type: flagon.TypeBool, Default: "off",
		Variants:    []flagon.Variant{{Name: "off", Value: false}, {Name: "on", Value: true}},
		Fallthrough: flagon.Serve{Variant: "on"}}
	killed := f
	killed.Disabled = true
	halved := f
	halved.Fallthrough = flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 50}, {Variant: "off", Percent: 50}}}
	fmt.Println(flagon.ChangesEnvironment(f, killed, "production"), flagon.OnlyKills(f, killed, "production"))
	fmt.Println(flagon.ChangesEnvironment(f, halved, "production"), flagon.OnlyKills(f, halved, "production"))
	// Output:
	// true true
	// true false
}

func TestMayWithdraw(t *testing.T) {
	tests := []struct {
		cr    flagon.ChangeRequest
		actor string
		want  bool
	}{
		{flagon.ChangeRequest{Author: "ann"}, "ann", true},
		{flagon.ChangeRequest{Author: "ann"}, "bob", false},
		{flagon.ChangeRequest{Author: "ann", Emergency: true}, "ann", false}, // made already: an admin reviews it
	}
	for _, tt := range tests {
		if got := tt.cr.MayWithdraw(tt.actor); got != tt.want {
			t.Errorf("request by %s (emergency %v): MayWithdraw(%q) = %v, want %v", tt.cr.Author, tt.cr.Emergency, tt.actor, got, tt.want)
		}
	}
}

func TestCheckReview(t *testing.T) {
	pending := flagon.ChangeRequest{ID: 1, Author: "ann", State: flagon.RequestPending}
	emergency := flagon.ChangeRequest{ID: 2, Author: "ann", State: flagon.RequestApplied, Emergency: true}
	reviewed := emergency
	reviewed.Reviewer = "bob"
	rejected := pending
	rejected.State = flagon.RequestRejected
	for _, c := range []struct {
		name     string
		cr       flagon.ChangeRequest
		approve  bool
		reviewer string
		want     error
	}{
		{"another approves", pending, true, "bob", nil},
		{"the author approves", pending, true, "ann", flagon.ErrSelfReview},
		{"the author withdraws", pending, false, "ann", nil},
		{"an emergency reviewed", emergency, true, "bob", nil},
		{"an emergency reviewed by its author", emergency, true, "ann", flagon.ErrSelfReview},
		{"an emergency reviewed twice", reviewed, true, "cy", flagon.ErrConflict},
		{"a decided request", rejected, true, "bob", flagon.ErrConflict},
	} {
		err := c.cr.CheckReview(c.approve, c.reviewer)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
