package flagon_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flagon/flagon"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"new-home-page", true},
		{"a", true},
		{"team.checkout_v2", true},
		{"0-9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"New", false},
		{"with space", false},
		{"slash/key", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		if got := flagon.ValidKey(tt.key); got != tt.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestValidation checks that NewSnapshot refuses invalid definitions whole
// and names the flag and field at fault.
func TestValidation(t *testing.T) {
	staff := flagon.Audience{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: "==", Values: []any{true}}}}
	str := func(f flagon.Flag) flagon.Flag {
		f.Type = flagon.TypeString
		f.Variants = []flagon.Variant{{Name: "a", Value: "a"}, {Name: "b", Value: "b"}}
		return f
	}
	tests := []struct {
		name  string
		defs  flagon.Definitions
		field string // want a FieldError with this Field
		msg   string // and this text in its message
	}{
		{"bad key", flagon.Definitions{Flags: []flagon.Flag{{Key: "Bad Key"}}}, "key", "invalid key"},
		{"duplicate flag", flagon.Definitions{Flags: []flagon.Flag{{Key: "a"}, {Key: "a"}}}, "key", "duplicate flag"},
		{"unknown type", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Type: "date"}}}, "type", "unknown type"},
		{"no variants", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Type: flagon.TypeString}}}, "variants", "at least one variant"},
		{"wrong variant type", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "x", Value: "ten"}}}}}, "variants[0].value", "not a int value"},
		{"duplicate variant", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "1"}, {Name: "x", Value: "2"}}}}}, "variants[1].name", "duplicate variant"},
		{"unknown default", flagon.Definitions{Flags: []flagon.Flag{str(flagon.Flag{Key: "a", Default: "c"})}}, "default", "unknown variant \"c\""},
		{"unknown audience", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].audiences[0]", "unknown audience \"staff\""},
		{"rule serves unknown variant", flagon.Definitions{Audiences: []flagon.Audience{staff}, Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "maybe"}}}}}}, "rules[0].serve.variant", "unknown variant \"maybe\""},
		{"rule serves nothing", flagon.Definitions{Audiences: []flagon.Audience{staff}, Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Audiences: []string{"staff"}}}}}}, "rules[0].serve", "serves nothing"},
		{"empty rule", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0]", "at least one audience or clause"},
		{"bad operator", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "x", Op: "approx", Values: []any{1}}}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].clauses[0]", "unknown operator"},
		{"bad regexp", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "x", Op: flagon.OpMatches, Values: []any{"(["}}}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].clauses[0]", "bad regular expression"},
		{"bad semver", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "v", Op: flagon.OpSemverGT, Values: []any{"one.two"}}}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].clauses[0]", "semantic version"},
		{"numeric op on text", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "n", Op: flagon.OpLT, Values: []any{"ten"}}}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].clauses[0]", "needs a number"},
		{"exists with values", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "n", Op: flagon.OpExists, Values: []any{"x"}}}, Serve: flagon.Serve{Variant: "on"}}}}}}, "rules[0].clauses[0]", "takes no values"},
		{"split not 100", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 80}}}}}}, "fallthrough.split", "add up to 90"},
		{"split too fine", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10.0001}, {Variant: "off", Percent: 89.9999}}}}}}, "fallthrough.split[0].percent", "finer than 0.001"},
		{"split negative", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: -10}, {Variant: "off", Percent: 110}}}}}}, "fallthrough.split[0].percent", "not between 0 and 100"},
		{"variant and split", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Fallthrough: flagon.Serve{Variant: "on", Split: []flagon.Split{{Variant: "on", Percent: 100}}}}}}, "fallthrough", "choose one"},
		{"bad policy", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Override: flagon.OverridePolicy{Who: "everyone"}}}}, "override.who", "unknown policy"},
		{"policy audience", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Override: flagon.OverridePolicy{Audience: "qa"}}}}, "override.audience", "unknown audience"},
		{"policy variant", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Override: flagon.OverridePolicy{Variants: []string{"maybe"}}}}}, "override.variants[0]", "unknown variant"},
		{"environment rule", flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Environments: map[string]flagon.EnvSettings{"production": {Rules: &[]flagon.Rule{{Audiences: []string{"ghost"}, Serve: flagon.Serve{Variant: "on"}}}}}}}}, "environments.production.rules[0].audiences[0]", "unknown audience"},
		{"audience without clauses", flagon.Definitions{Audiences: []flagon.Audience{{Name: "empty"}}}, "clauses", "at least one clause"},
		{"duplicate audience", flagon.Definitions{Audiences: []flagon.Audience{staff, staff}}, "name", "duplicate audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := flagon.NewSnapshot(tt.defs, flagon.SnapshotOptions{})
			if err == nil {
				t.Fatal("NewSnapshot accepted invalid definitions")
			}
			if !errors.Is(err, flagon.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			var fes flagon.FieldErrors
			if !errors.As(err, &fes) {
				t.Fatalf("error %T is not FieldErrors", err)
			}
			for _, fe := range fes {
				if fe.Field == tt.field && strings.Contains(fe.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("error %q has no field %q with %q", err, tt.field, tt.msg)
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	e := &flagon.FieldError{File: "flags.yaml", Line: 12, Flag: "new-home-page", Field: "rules[0].serve.variant", Msg: `unknown variant "maybe"`}
	want := `flags.yaml:12: flag "new-home-page": rules[0].serve.variant: unknown variant "maybe"`
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	f := flagon.Flag{Key: "a"}.Normalize()
	if f.Type != flagon.TypeBool || len(f.Variants) != 2 || f.Default != "off" {
		t.Errorf("Normalize() = %+v; want a bool flag with on/off, default off", f)
	}
	g := flagon.Flag{Key: "n", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "x", Value: 3.0}}}.Normalize()
	if g.Variants[0].Value != int64(3) || g.Default != "x" {
		t.Errorf("Normalize() = %+v; want value int64(3), default x", g)
	}
}

func TestParseClause(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"is_staff == true", "is_staff == true", false},
		{"is_staff equals true", "is_staff == true", false},
		{"country in NL, BE", "country in NL, BE", false},
		{`email ends_with "@example.com"`, "email ends_with @example.com", false},
		{"age >= 18", "age >= 18", false},
		{"score < 1.0", "score < 1.0", false},
		{"org exists", "org exists", false},
		{"domain in a.com, b.com", "domain in a.com, b.com", false},
		{"xin in in", "xin in in", false},
		{"begins starts_with starts_with", "begins starts_with starts_with", false},
		{"app semver_gte 2.1.0", "app semver_gte 2.1.0", false},
		// Strings that would read as something else stay quoted.
		{`answer == "true"`, `answer == "true"`, false},
		{`code in "007", 7`, `code in "007", 7`, false},
		{`name == "a, b"`, `name == "a, b"`, false},
		{`name in "a, b", c`, `name in "a, b", c`, false},
		{`name == ""`, `name == ""`, false},
		{`name == " padded "`, `name == " padded "`, false},
		{`name == "\"quoted\""`, `name == "\"quoted\""`, false},
		{`name == 'single'`, `name == 'single'`, false},
		{`name == a"b`, `name == a"b`, false},
		{"is_staff", "", true},
		{"x ~ 1", "", true},
		{"v semver_gt banana", "", true},
	}
	for _, tt := range tests {
		c, err := flagon.ParseClause(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseClause(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && c.String() != tt.want {
			t.Errorf("ParseClause(%q) = %q, want %q", tt.in, c.String(), tt.want)
		}
		if err == nil && tt.want != "" {
			if back, err := flagon.ParseClause(c.String()); err != nil || !reflect.DeepEqual(back, c) {
				t.Errorf("ParseClause(%q).String() reads back as %#v, %v; want %#v", tt.in, back, err, c)
			}
		}
	}
}
