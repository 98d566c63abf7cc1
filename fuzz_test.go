package flagon_test

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// FuzzEvaluate evaluates every golden flag with arbitrary contexts and
// overrides: evaluation must never panic, and must serve one of the flag's
// variants or report an error.
func FuzzEvaluate(f *testing.F) {
	data, err := os.ReadFile("testdata/eval.json")
	if err != nil {
		f.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		f.Fatal(err)
	}
	snap, err := flagon.NewSnapshot(g.Definitions, flagon.SnapshotOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("user-1", "is_staff", "true", int64(3), 2.5, true, []byte(`{"x":1}`))
	f.Add("", "app_version", "2.4.0-rc.1+b", int64(-1), math.Inf(1), false, []byte(`[1,"a",null]`))
	f.Add("k", "now", "2026-11-28T12:00:00Z", int64(1795867200), math.NaN(), true, []byte(`"1.0.0-"`))
	f.Fuzz(func(t *testing.T, key, attr, str string, n int64, x float64, b bool, raw []byte) {
		var j any
		_ = json.Unmarshal(raw, &j)
		attrs := map[string]any{
			attr:          str,
			"is_staff":    b,
			"app_version": str,
			"age_days":    x,
			"account_id":  n,
			"now":         x,
			"email":       j,
			"groups":      []any{str, n, j},
			"country":     []string{str},
			"org":         nil,
			"t":           time.Unix(n, 0),
		}
		ec := flagon.EvalContext{Key: key, Attrs: attrs}
		ov := flagon.OverrideMap{"checkout": {Value: j}, "max-items": {Value: n}, "new-home-page": {Value: str}}
		for _, k := range append(snap.Keys(), "", key) {
			for _, o := range []flagon.Overrides{nil, ov} {
				r := snap.Evaluate(k, ec, o)
				if r.ErrorCode == flagon.ErrorFlagNotFound {
					if snap.Has(k) {
						t.Fatalf("%q: FLAG_NOT_FOUND for an existing flag", k)
					}
					continue
				}
				if r.Reason == flagon.ReasonOverride {
					continue
				}
				if _, ok := snap.VariantValue(k, r.Variant); !ok {
					t.Fatalf("%q served %q, which is not one of its variants (%+v)", k, r.Variant, r)
				}
			}
		}
	})
}

// FuzzParseClause reads arbitrary shorthand clauses: never a panic, and a
// clause it accepts compiles into a valid flag.
func FuzzParseClause(f *testing.F) {
	for _, s := range []string{"is_staff == true", "country in NL, BE", `email ends_with "@x"`, "v semver_gt 1.2.3-rc.1", "x matches (", "t before 2026-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := flagon.ParseClause(s)
		if err != nil {
			return
		}
		_ = c.String()
		defs := flagon.Definitions{Flags: []flagon.Flag{{Key: "f", Rules: []flagon.Rule{{Clauses: []flagon.Clause{c}, Serve: flagon.Serve{Variant: "on"}}}}}}
		snap, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{})
		if err != nil {
			t.Fatalf("ParseClause(%q) accepted a clause NewSnapshot refuses: %v", s, err)
		}
		snap.Evaluate("f", flagon.EvalContext{Key: s, Attrs: map[string]any{c.Attribute: s}}, nil)
	})
}

// FuzzClauseRoundTrip checks that Clause.String writes what ParseClause
// reads: for every clause ParseClause accepts, ParseClause(c.String())
// returns c again, values and their types included.
func FuzzClauseRoundTrip(f *testing.F) {
	for _, s := range []string{
		"is_staff == true", `answer == "true"`, `code in "007", 7, 7.0, 1e3`, `name == "a, b"`,
		`name in "a, b", c`, `x == ""`, "x in a,,b", `x == " pad "`, `x == "\x00"`, "n == -0.0",
		"x in inf, NaN, 0x10", `x == "unterminated`, `x == a"b`, "t before 2026-01-01",
		"x == 'r'", "x == `raw, two`", `x == "\u00e9"`, "n < 1e400",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := flagon.ParseClause(s)
		if err != nil {
			return
		}
		out := c.String()
		back, err := flagon.ParseClause(out)
		if err != nil {
			t.Fatalf("ParseClause(%q) = %#v, whose String %q does not parse: %v", s, c, out, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("ParseClause(%q) = %#v; its String %q reads back as %#v", s, c, out, back)
		}
	})
}
