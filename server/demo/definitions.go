// Package demo is the demo of `flagon serve -demo`: a small shop whose
// pages depend on flags, demo identities a visitor picks (staff, beta
// tester, customer) and the flags they exercise. Nothing in it is wired
// outside demo mode, which refuses to run in production: its identities
// are cookies anyone can set.
package demo

import (
	"time"

	"github.com/flagon/flagon"
)

// Definitions are the flags demo mode seeds an empty store with: the
// articles' scenario (a new home page, a new e-mail service) and one flag
// of each kind Flagon offers.
func Definitions() flagon.Definitions {
	staffRule := flagon.Rule{ID: "staff", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}
	return flagon.Definitions{
		Audiences: []flagon.Audience{
			{Name: "staff", Description: "Employees", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}},
			{Name: "beta", Description: "Beta testers", Clauses: []flagon.Clause{{Attribute: "email", Op: flagon.OpEndsWith, Values: []any{"@beta.example.com"}}}},
		},
		Flags: []flagon.Flag{
			{
				Key:         "new-home-page",
				Description: "Expose the new home page",
				Owner:       "web-team",
				Tags:        []string{"web", "demo"},
				Expires:     time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC),
				Rules:       []flagon.Rule{staffRule, {ID: "beta", Audiences: []string{"beta"}, Serve: flagon.Serve{Variant: "on"}}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
				Override:    flagon.OverridePolicy{Who: flagon.WhoAnyone, MaxDuration: 30 * 24 * time.Hour},
			},
			{
				Key:         "use-new-email-service",
				Description: "Send sign-up e-mail through the new e-mail service (pilot)",
				Owner:       "mail-team",
				Tags:        []string{"backend", "demo"},
				Rules:       []flagon.Rule{staffRule},
				Override:    flagon.OverridePolicy{Who: flagon.WhoStaff},
			},
			{
				Key:         "checkout",
				Description: "Which checkout flow to show",
				Owner:       "payments",
				Tags:        []string{"web", "experiment"},
				Type:        flagon.TypeString,
				Variants: []flagon.Variant{
					{Name: "classic", Value: "classic"},
					{Name: "express", Value: "express"},
					{Name: "one-click", Value: "one-click"},
				},
				Default:     "classic",
				Rules:       []flagon.Rule{{ID: "staff", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "one-click"}}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "classic", Percent: 50}, {Variant: "express", Percent: 50}}},
				Override:    flagon.OverridePolicy{Who: flagon.WhoAnyone, Variants: []string{"classic", "express", "one-click"}},
			},
			{
				Key:         "search-results-per-page",
				Description: "How many results a search page shows",
				Owner:       "search",
				Type:        flagon.TypeInt,
				Variants:    []flagon.Variant{{Name: "ten", Value: int64(10)}, {Name: "twenty-five", Value: int64(25)}},
				Default:     "ten",
				Override:    flagon.OverridePolicy{Who: flagon.WhoAnyone},
			},
			{
				Key:         "maintenance-mode",
				Description: "Operations kill switch: show the maintenance banner",
				Owner:       "ops",
				Tags:        []string{"ops"},
				Override:    flagon.OverridePolicy{Who: flagon.WhoNone},
			},
		},
	}
}
