package file

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func ptr[T any](v T) *T { return &v }

func TestParseGood(t *testing.T) {
	onOff := func(pct, rest float64) []flagon.Split {
		return []flagon.Split{{Variant: "on", Percent: pct}, {Variant: "off", Percent: rest}}
	}
	tests := []struct {
		name string
		src  string
		want flagon.Definitions
	}{
		{
			name: "empty flags",
			src:  "flags: {}\n",
			want: flagon.Definitions{},
		},
		{
			name: "simple switches",
			src:  "flags:\n  a: true\n  b: false\n  c:\n  d: {}\n",
			want: flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on"}, {Key: "b", Default: "off"}, {Key: "c"}, {Key: "d"}}},
		},
		{
			name: "bool rollout and rules",
			src: `
audiences:
  staff: is_staff == true
flags:
  a:
    default: false
    rules:
      - audience: staff
        serve: true
      - when: country in NL, BE
        serve: {rollout: 25%, by: org}
    rollout: 12.5
`,
			want: flagon.Definitions{
				Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
				Flags: []flagon.Flag{{
					Key: "a", Default: "off",
					Rules: []flagon.Rule{
						{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}},
						{Clauses: []flagon.Clause{{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}}}, Serve: flagon.Serve{Split: onOff(25, 75), By: "org"}},
					},
					Fallthrough: flagon.Serve{Split: onOff(12.5, 87.5)},
				}},
			},
		},
		{
			name: "explicit bool variants read true and false as their names",
			src: `
flags:
  a:
    variants: {enabled: true, disabled: false}
    default: true
    rollout: 30
`,
			want: flagon.Definitions{Flags: []flagon.Flag{{
				Key: "a", Variants: []flagon.Variant{{Name: "enabled", Value: true}, {Name: "disabled", Value: false}},
				Default: "enabled", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "enabled", Percent: 30}, {Variant: "disabled", Percent: 70}}},
			}}},
		},
		{
			name: "typed variants and a long-form clause",
			src: `
flags:
  limit:
    type: int
    variants: {low: 10, high: 0x20}
    rules:
      - when: {attribute: plan, op: in, values: [pro, 3, 1.5, true]}
        serve: high
  ratio:
    type: float
    variants: {a: 1, b: 0.5}
  obj:
    type: object
    variants:
      x: {n: 1, f: 1.5, s: hi, l: [1, two], m: {k: ~}}
`,
			want: flagon.Definitions{Flags: []flagon.Flag{
				{
					Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "low", Value: int64(10)}, {Name: "high", Value: int64(32)}},
					Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "plan", Op: flagon.OpIn, Values: []any{"pro", int64(3), 1.5, true}}}, Serve: flagon.Serve{Variant: "high"}}},
				},
				{Key: "ratio", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "a", Value: 1.0}, {Name: "b", Value: 0.5}}},
				{Key: "obj", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "x", Value: map[string]any{
					"n": int64(1), "f": 1.5, "s": "hi", "l": []any{int64(1), "two"}, "m": map[string]any{"k": nil},
				}}}},
			}},
		},
		{
			name: "split as a list, override, metadata, expiry",
			src: `
flags:
  c:
    type: string
    variants: {x: x, "y": "y"}
    expires: 2027-03-01T12:00:00+01:00
    fallthrough: {rollout: [{variant: x, percent: 50}, {variant: "y", percent: 50}]}
    override: {who: none, variants: x, max_duration: 1d12h}
    metadata: {jira: 12, empty: }
    tags: solo
`,
			want: flagon.Definitions{Flags: []flagon.Flag{{
				Key: "c", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "x"}, {Name: "y", Value: "y"}},
				Tags:        []string{"solo"},
				Expires:     time.Date(2027, 3, 1, 11, 0, 0, 0, time.UTC),
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "x", Percent: 50}, {Variant: "y", Percent: 50}}},
				Override:    flagon.OverridePolicy{Who: flagon.WhoNone, Variants: []string{"x"}, MaxDuration: 36 * time.Hour},
				Metadata:    map[string]string{"jira": "12", "empty": ""},
			}}},
		},
		{
			name: "environments",
			src: `
flags:
  a:
    rollout: 10
environments:
  production:
    a: {enabled: false, default: true}
  staging:
    a: {rollout: 50, rules: []}
  dev:
    a: {fallthrough: {}}
  empty:
`,
			want: flagon.Definitions{Flags: []flagon.Flag{{
				Key: "a", Fallthrough: flagon.Serve{Split: onOff(10, 90)},
				Environments: map[string]flagon.EnvSettings{
					"production": {Disabled: ptr(true), Default: ptr("on")},
					"staging":    {Fallthrough: &flagon.Serve{Split: onOff(50, 50)}, Rules: &[]flagon.Rule{}},
					"dev":        {Fallthrough: &flagon.Serve{}},
				},
			}}},
		},
		{
			name: "anchors and merge keys",
			src: `
flags:
  a: &base
    description: shared
    owner: team
  b:
    <<: *base
    owner: other
`,
			want: flagon.Definitions{Flags: []flagon.Flag{
				{Key: "a", Description: "shared", Owner: "team"},
				{Key: "b", Description: "shared", Owner: "other"},
			}},
		},
		{
			name: "JSON",
			src: `{
	"audiences": {"staff": "is_staff == true"},
	"flags": {
		"a": {"default": false, "rules": [{"audience": "staff", "serve": true}], "rollout": 5},
		"b": {"type": "string", "variants": {"x": "1", "y": "2"}, "default": "y"}
	}
}`,
			want: flagon.Definitions{
				Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
				Flags: []flagon.Flag{
					{Key: "a", Default: "off", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}, Fallthrough: flagon.Serve{Split: onOff(5, 95)}},
					{Key: "b", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "1"}, {Name: "y", Value: "2"}}, Default: "y"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("flags.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		line  int
		flag  string // the first error's flag, if any
		field string // the first error's field
		msg   string // a substring of the first error's message
	}{
		{"empty file", "", 0, "", "", "the file is empty"},
		{"only comments", "# nothing\n", 0, "", "", "the file is empty"},
		{"not a mapping", "- a\n- b\n", 1, "", "", "want a mapping"},
		{"two documents", "flags: {}\n---\nflags: {}\n", 2, "", "", "more than one YAML document"},
		{"unknown top-level field", "flags: {}\nflgs: {}\n", 2, "", "flgs", `did you mean "flags"`},
		{"unknown flag field", "flags:\n  a:\n    descripton: x\n", 3, "a", "descripton", `did you mean "description"`},
		{"duplicate flag", "flags:\n  a: {}\n  b: {}\n  a: {}\n", 4, "", "flags.a", `duplicate key "a" (first at line 2)`},
		{"duplicate field", "flags:\n  a:\n    owner: x\n    owner: y\n", 4, "a", "owner", "duplicate key"},
		{"duplicate JSON key", "{\"flags\": {\n  \"a\": {},\n  \"a\": {}\n}}\n", 3, "", "flags.a", "duplicate key"},
		{"wrong type for enabled", "flags:\n  a:\n    enabled: yes\n", 3, "a", "enabled", `want true or false, not "yes"`},
		{"flag is a list", "flags:\n  a: [1]\n", 2, "a", "", "want a mapping"},
		{"unquoted number in string flag", "flags:\n  a:\n    type: string\n    variants:\n      x: 1\n", 5, "a", "variants.x", `quote it: "1"`},
		{"string variants without type", "flags:\n  a:\n    variants: {x: big}\n", 3, "a", "variants.x", "set the flag's type"},
		{"unknown type", "flags:\n  a:\n    type: strng\n", 3, "a", "type", `unknown type "strng"`},
		{"int overflow", "flags:\n  a:\n    type: int\n    variants: {x: 99999999999999999999}\n", 4, "a", "variants.x", "whole number"},
		{"unknown default", "flags:\n  a:\n    type: string\n    variants: {x: x}\n    default: y\n", 5, "a", "default", `unknown variant "y"`},
		{"unknown serve variant", "flags:\n  a:\n    rules:\n      - when: x == 1\n        serve: maybe\n", 5, "a", "rules[0].serve", `unknown variant "maybe"`},
		{"unknown audience", "audiences:\n  staff: is_staff == true\nflags:\n  a:\n    rules:\n      - audience: staf\n        serve: true\n", 6, "a", "rules[0].audience", `unknown audience "staf"`},
		{"unknown audience in list", "audiences:\n  s: x == 1\nflags:\n  a:\n    rules:\n      - audiences:\n          - s\n          - t\n        serve: true\n", 8, "a", "rules[0].audiences[1]", `unknown audience "t"`},
		{"rule serves nothing", "flags:\n  a:\n    rules:\n      - when: x == 1\n", 4, "a", "rules[0]", "serves nothing"},
		{"rule with nothing to match", "flags:\n  a:\n    rules:\n      - serve: true\n", 4, "a", "rules[0]", "at least one audience or clause"},
		{"split short of 100", "flags:\n  a:\n    type: string\n    variants: {x: x, y: y}\n    fallthrough:\n      rollout: {x: 50, y: 40}\n", 6, "a", "fallthrough.rollout", "add up to 90"},
		{"split names unknown variant", "flags:\n  a:\n    type: string\n    variants: {x: x, y: y}\n    fallthrough:\n      rollout:\n        x: 50\n        z: 50\n", 8, "a", "fallthrough.rollout.z", `unknown variant "z"`},
		{"bad percent", "flags:\n  a:\n    rollout: lots\n", 3, "a", "rollout", "want a percentage"},
		{"percent over 100", "flags:\n  a:\n    rollout: 120\n", 3, "a", "rollout", "not between 0 and 100"},
		{"rollout shorthand on a string flag", "flags:\n  a:\n    type: string\n    variants: {x: x, y: y}\n    rollout: 10\n", 5, "a", "rollout", "shorthand for a bool flag"},
		{"rollout and fallthrough", "flags:\n  a:\n    fallthrough: true\n    rollout: 10\n", 4, "a", "rollout", "not both"},
		{"bad clause shorthand", "flags:\n  a:\n    rules:\n      - when: country innn NL\n        serve: true\n", 4, "a", "rules[0].when", `unknown operator "innn"`},
		{"bad regular expression", "flags:\n  a:\n    rules:\n      - when:\n          - x == 1\n          - {attribute: email, op: matches, values: [\"(\"]}\n        serve: true\n", 6, "a", "rules[0].when[1]", "regular expression"},
		{"unknown clause field", "flags:\n  a:\n    rules:\n      - when: {attribute: x, operator: ==}\n        serve: true\n", 4, "a", "rules[0].when.operator", `did you mean "op"`},
		{"bad audience clause", "audiences:\n  staff:\n    description: Staff\n    when: [\"is_staff ==\"]\n", 4, "", "when[0]", "needs at least one value"},
		{"invalid flag key", "flags:\n  New_Home: {}\n", 2, "New_Home", "key", "invalid key"},
		{"bad override variant", "flags:\n  a:\n    override: {variants: [on, maybe]}\n", 3, "a", "override.variants[1]", `unknown variant "maybe"`},
		{"bad override policy", "flags:\n  a:\n    override:\n      who: everyone\n", 4, "a", "override.who", `unknown policy "everyone"`},
		{"bad duration", "flags:\n  a:\n    override: {max_duration: forever}\n", 3, "a", "override.max_duration", "bad duration"},
		{"bad date", "flags:\n  a:\n    expires: next year\n", 3, "a", "expires", "want a date"},
		{"environment names unknown flag", "flags:\n  a: {}\nenvironments:\n  production:\n    b: {enabled: false}\n", 5, "", "environments.production.b", `unknown flag "b"`},
		{"environment default unknown", "flags:\n  a:\n    type: string\n    variants: {x: x}\nenvironments:\n  prod:\n    a:\n      default: nope\n", 8, "a", "environments.prod.default", `unknown variant "nope"`},
		{"environment rule unknown audience", "flags:\n  a: {}\nenvironments:\n  staging:\n    a:\n      rules:\n        - audience: nobody\n          serve: true\n", 7, "a", "environments.staging.rules[0].audience", `unknown audience "nobody"`},
		{"environment setting typo", "flags:\n  a: {}\nenvironments:\n  prod:\n    a: {enabld: false}\n", 5, "a", "environments.prod.enabld", `did you mean "enabled"`},
		{"environment setting is a bool", "flags:\n  a: {}\nenvironments:\n  prod:\n    a: false\n", 5, "a", "environments.prod", "{enabled: false}"},
		{"invalid environment name", "flags:\n  a: {}\nenvironments:\n  Prod: {}\n", 4, "", "environments.Prod", "invalid environment name"},
		{"syntax: bad indentation", "flags:\n  a:\n    description: x\n   owner: y\n  b: {}\n", 4, "", "", "did not find expected key"},
		{"syntax: stray bracket", "flags: {}\naudiences: {}]\nenvironments: {}\n", 2, "", "", "did not find expected key"},
		{"syntax: unclosed list", "flags:\n  a:\n    tags: [x, y\n  b: {}\n", 3, "", "", "did not find expected ',' or ']'"},
		{"syntax: tab indentation", "flags:\n\ta: {}\n", 2, "", "", "indented with a tab; YAML indents with spaces"},
		{"syntax: tab after spaces", "flags:\n  a:\n  \towner: x\n", 3, "", "", "indented with a tab; YAML indents with spaces"},
		{"syntax: tab before a list item", "flags:\n  a:\n    rules:\n    \t- when: x == 1\n", 4, "", "", "indented with a tab; YAML indents with spaces"},
		{"syntax: tab on a blank line", "flags:\n  a:\n    owner: x\n\t\n  b: {}\n", 4, "", "", "indented with a tab; YAML indents with spaces"},
		{"syntax: tab in a value", "flags:\n  a:\n    owner:\tx\n  b:\n\t\towner: y\n", 5, "", "", "indented with a tab; YAML indents with spaces"},
		{"syntax: unterminated quote", "flags:\n  a:\n    description: \"x\n  b: {}\n", 3, "", "", "end of stream"},
		{"syntax: first line", "flags: {a: 1]\naudiences: {}\n", 1, "", "", "did not find expected"},
		{"syntax: mapping in a plain value", "flags:\n  a:\n    description: a: b\n", 3, "", "", "mapping values are not allowed"},
		{"syntax: unknown anchor", "flags:\n  a: *nope\n  b: {}\n", 2, "", "", "unknown anchor"},
		{"JSON syntax: missing comma", "{\n  \"flags\": {\n    \"a\": {\n      \"default\": true\n      \"owner\": \"x\"\n    }\n  }\n}\n", 5, "", "", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("flags.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !errors.Is(err, flagon.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			first := firstError(t, err)
			if first.File != "flags.yaml" || first.Line != tt.line || first.Flag != tt.flag || first.Field != tt.field || !strings.Contains(first.Msg, tt.msg) {
				t.Errorf("first error = {File: %q, Line: %d, Flag: %q, Field: %q, Msg: %q}\nwant {File: %q, Line: %d, Flag: %q, Field: %q, Msg: ~%q}\n(all: %v)",
					first.File, first.Line, first.Flag, first.Field, first.Msg, "flags.yaml", tt.line, tt.flag, tt.field, tt.msg, err)
			}
		})
	}
}

// firstError returns the first FieldError in err.
func firstError(t *testing.T, err error) *flagon.FieldError {
	t.Helper()
	var fes flagon.FieldErrors
	if errors.As(err, &fes) {
		return fes[0]
	}
	var fe *flagon.FieldError
	if errors.As(err, &fe) {
		return fe
	}
	t.Fatalf("error %v (%T) is not a FieldError", err, err)
	return nil
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := `flags:
  a:
    owner: [x]
    rules:
      - audience: nobody
        serve: true
  b:
    enabled: maybe
`
	_, err := Parse("f.yaml", []byte(src))
	var fes flagon.FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("err = %v, want FieldErrors", err)
	}
	var got []int
	for _, e := range fes {
		got = append(got, e.Line)
	}
	// The structural problems (lines 3 and 8) stop the parse before the
	// references are checked.
	if want := []int{3, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %v, want %v (%v)", got, want, err)
	}
	if want := `f.yaml:3: flag "a": owner: want text, not a list`; fes[0].Error() != want {
		t.Errorf("first error = %q, want %q", fes[0].Error(), want)
	}
}

func TestParseEnvironmentErrorReportedOnce(t *testing.T) {
	// A problem in the flag's own settings is not repeated for each
	// environment that inherits it.
	src := "flags:\n  a:\n    rules:\n      - audience: nobody\n        serve: true\nenvironments:\n  prod:\n    a: {enabled: false}\n  dev:\n    a: {enabled: true}\n"
	_, err := Parse("f.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	if fes, ok := err.(flagon.FieldErrors); ok {
		t.Errorf("got %d errors, want 1: %v", len(fes), err)
	}
	if got := firstError(t, err); got.Line != 4 || got.Field != "rules[0].audience" {
		t.Errorf("error at line %d, field %q; want line 4, rules[0].audience", got.Line, got.Field)
	}
}

func TestParseAliasBomb(t *testing.T) {
	src := "flags:\n  a:\n    type: object\n    variants:\n      x: &a0 {k: [1, 2, 3, 4, 5, 6, 7, 8, 9]}\n"
	prev := "a0"
	var b strings.Builder
	b.WriteString(src)
	for i := 1; i < 30; i++ {
		name := "a" + strings.Repeat("x", i)
		b.WriteString("      v" + name + ": &" + name + " {")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("k" + string(rune('0'+j)) + ": *" + prev)
		}
		b.WriteString("}\n")
		prev = name
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expand too far") {
		t.Errorf("err = %v, want an alias expansion error", err)
	}
}

func TestParseCompleteExample(t *testing.T) {
	data, err := os.ReadFile("testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := Parse("testdata/complete.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	// Every field of the format is used: check that each reached the
	// definitions.
	f, ok := defs.Flag("new-home-page")
	if !ok {
		t.Fatal("no flag new-home-page")
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"description", f.Description == "Expose the new home page"},
		{"owner", f.Owner == "web-team"},
		{"tags", reflect.DeepEqual(f.Tags, []string{"web", "home"})},
		{"expires", f.Expires.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))},
		{"default", f.Default == "off"},
		{"rule id", f.Rules[0].ID == "staff-first"},
		{"rule description", f.Rules[0].Description == "Staff see it first"},
		{"rule audiences", reflect.DeepEqual(f.Rules[1].Audiences, []string{"beta", "dutch-mobile"})},
		{"rule split by", f.Rules[1].Serve.By == "company_id"},
		{"rollout", reflect.DeepEqual(f.Fallthrough.Split, []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}})},
		{"override", f.Override.Who == flagon.WhoAnyone && f.Override.MaxDuration == 24*time.Hour && len(f.Override.Variants) == 2},
		{"salt", f.Salt == "home-2026"},
		{"metadata", f.Metadata["jira"] == "WEB-12"},
		{"environments", len(f.Environments) == 3 && *f.Environments["production"].Disabled},
		{"audiences", len(defs.Audiences) == 3 && defs.Audiences[2].Description == "Beta testers"},
		{"flags", len(defs.Flags) == 6},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not as in the file", c.what)
		}
	}
	for _, env := range []string{"", "production", "staging", "development", "unknown"} {
		if _, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: env}); err != nil {
			t.Errorf("NewSnapshot(%q): %v", env, err)
		}
	}
}

func TestSplitField(t *testing.T) {
	got := splitField("environments.prod.rules[12].serve.split[0].variant")
	want := []seg{{name: "environments"}, {name: "prod"}, {name: "rules"}, {index: 12}, {name: "serve"}, {name: "split"}, {index: 0}, {name: "variant"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitField = %v, want %v", got, want)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"-2d", -48 * time.Hour, true},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"99999999999d", 0, false},
		{"forever", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err == nil {
			if back, err := parseDuration(formatDuration(got)); err != nil || back != got {
				t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", got, back, err)
			}
		}
	}
}

func TestCompleteJSONMatchesYAML(t *testing.T) {
	read := func(name string) flagon.Definitions {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		defs, err := Parse(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return defs
	}
	y, j := read("testdata/complete.yaml"), read("testdata/complete.json")
	if !reflect.DeepEqual(y, j) {
		t.Errorf("complete.json reads differently from complete.yaml:\n%s", diff(j, y))
	}
}
