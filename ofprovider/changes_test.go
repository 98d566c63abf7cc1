package ofprovider

import (
	"slices"
	"testing"

	"github.com/flagon/flagon"
)

func TestChangedFlags(t *testing.T) {
	base := func() flagon.Definitions {
		return flagon.Definitions{
			Audiences: []flagon.Audience{
				{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}},
				{Name: "beta", Clauses: []flagon.Clause{{Attribute: "beta", Op: flagon.OpEquals, Values: []any{true}}}},
			},
			Flags: []flagon.Flag{
				{Key: "a", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}},
				{Key: "b", Override: flagon.OverridePolicy{Who: flagon.WhoStaff, Audience: "beta"}},
				{Key: "c", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}, {Name: "twenty", Value: 20}}},
				{Key: "d", Default: "on", Environments: map[string]flagon.EnvSettings{"prod": {Disabled: ptr(true)}}},
			},
		}
	}
	snap := func(t *testing.T, defs flagon.Definitions, env string) *flagon.Snapshot {
		t.Helper()
		s, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		edit   func(*flagon.Definitions)
		oldEnv string
		newEnv string
		want   []string
	}{
		{"nothing", func(*flagon.Definitions) {}, "", "", nil},
		{"a variant's value", func(d *flagon.Definitions) { d.Flags[2].Variants[0].Value = 11 }, "", "", []string{"c"}},
		{"kill switch", func(d *flagon.Definitions) { d.Flags[2].Disabled = true }, "", "", []string{"c"}},
		{"metadata", func(d *flagon.Definitions) { d.Flags[2].Metadata = map[string]string{"team": "x"} }, "", "", []string{"c"}},
		{"a rule's audience", func(d *flagon.Definitions) { d.Audiences[0].Clauses[0].Values = []any{false} }, "", "", []string{"a"}},
		{"an override policy's audience", func(d *flagon.Definitions) { d.Audiences[1].Clauses[0].Attribute = "beta2" }, "", "", []string{"b"}},
		{"added", func(d *flagon.Definitions) { d.Flags = append(d.Flags, flagon.Flag{Key: "e"}) }, "", "", []string{"e"}},
		{"removed", func(d *flagon.Definitions) { d.Flags = d.Flags[:3] }, "", "", []string{"d"}},
		{"another environment's settings", func(d *flagon.Definitions) {
			d.Flags[3].Environments = map[string]flagon.EnvSettings{"prod": {Disabled: ptr(true)}, "staging": {Disabled: ptr(true)}}
		}, "prod", "prod", nil},
		{"this environment's settings", func(d *flagon.Definitions) {
			d.Flags[3].Environments = map[string]flagon.EnvSettings{"prod": {Disabled: ptr(false)}}
		}, "prod", "prod", []string{"d"}},
		{"the environment", func(*flagon.Definitions) {}, "", "prod", []string{"a", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := snap(t, base(), tt.oldEnv)
			defs := base()
			tt.edit(&defs)
			got := changedFlags(old, snap(t, defs, tt.newEnv))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("changed flags = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("no old snapshot", func(t *testing.T) {
		if got := changedFlags(nil, snap(t, base(), "")); len(got) != 4 {
			t.Errorf("changed flags = %v, want all 4", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }
