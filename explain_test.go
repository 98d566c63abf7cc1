package flagon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flagon/flagon"
)

// randomFlag returns a flag of a random type with random variants,
// rules, clauses, audiences, splits and override policy.
func randomFlag(rng *rand.Rand, key string) flagon.Flag {
	f := flagon.Flag{Key: key, Disabled: rng.IntN(8) == 0}
	n := 2 + rng.IntN(2)
	switch rng.IntN(3) {
	case 0:
		f.Type = flagon.TypeBool
		f.Variants = []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}
	case 1:
		f.Type = flagon.TypeString
		for i := range n {
			f.Variants = append(f.Variants, flagon.Variant{Name: fmt.Sprintf("v%d", i), Value: fmt.Sprintf("s%d", i)})
		}
	default:
		f.Type = flagon.TypeInt
		for i := range n {
			f.Variants = append(f.Variants, flagon.Variant{Name: fmt.Sprintf("n%d", i), Value: int64(i * 10)})
		}
	}
	if rng.IntN(3) == 0 {
		f.Salt = "salt-" + key
	}
	f.Default = f.Variants[rng.IntN(len(f.Variants))].Name
	if rng.IntN(3) == 0 {
		f.Override.Variants = []string{f.Variants[rng.IntN(len(f.Variants))].Name}
	}
	for i := range rng.IntN(4) {
		r := flagon.Rule{Serve: randomServe(rng, f)}
		if rng.IntN(2) == 0 {
			r.ID = fmt.Sprintf("r%d", i)
		}
		if rng.IntN(4) == 0 {
			r.Audiences = []string{"staff"}
		}
		for j := range rng.IntN(3) + 1 {
			if j == 0 && len(r.Audiences) > 0 {
				continue
			}
			r.Clauses = append(r.Clauses, randomClause(rng))
		}
		f.Rules = append(f.Rules, r)
	}
	f.Fallthrough = randomServe(rng, f)
	return f
}

func randomServe(rng *rand.Rand, f flagon.Flag) flagon.Serve {
	if rng.IntN(2) == 0 {
		return flagon.Serve{Variant: f.Variants[rng.IntN(len(f.Variants))].Name}
	}
	var s flagon.Serve
	if rng.IntN(3) == 0 {
		s.By = "org"
	}
	left := flagon.Buckets
	for i, v := range f.Variants {
		share := rng.IntN(left + 1)
		if i == len(f.Variants)-1 {
			share = left
		}
		left -= share
		s.Split = append(s.Split, flagon.Split{Variant: v.Name, Percent: float64(share) / 1000})
	}
	return s
}

func randomClause(rng *rand.Rand) flagon.Clause {
	switch rng.IntN(6) {
	case 0:
		return flagon.Clause{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}}
	case 1:
		return flagon.Clause{Attribute: "country", Op: flagon.OpNotIn, Values: []any{"DE"}}
	case 2:
		return flagon.Clause{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{rng.IntN(2) == 0}}
	case 3:
		return flagon.Clause{Attribute: "age", Op: flagon.OpGTE, Values: []any{int64(rng.IntN(60))}}
	case 4:
		return flagon.Clause{Attribute: "org", Op: flagon.OpExists}
	}
	return flagon.Clause{Attribute: "key", Op: flagon.OpStartsWith, Values: []any{"user-1"}}
}

func randomContext(rng *rand.Rand) flagon.EvalContext {
	ec := flagon.EvalContext{Attrs: map[string]any{}}
	if rng.IntN(6) != 0 {
		ec.Key = fmt.Sprintf("user-%d", rng.IntN(1000))
	}
	if rng.IntN(2) == 0 {
		ec.Attrs["country"] = []string{"NL", "BE", "DE"}[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		ec.Attrs["is_staff"] = rng.IntN(2) == 0
	}
	if rng.IntN(2) == 0 {
		ec.Attrs["age"] = rng.IntN(80)
	}
	switch rng.IntN(4) {
	case 0:
		ec.Attrs["org"] = fmt.Sprintf("org-%d", rng.IntN(50))
	case 1:
		ec.Attrs["org"] = int64(rng.IntN(50))
	}
	return ec
}

// randomValue returns a value to override flag f with: one of its
// variants' values, or a value of another type or no variant's.
func randomValue(rng *rand.Rand, f flagon.Flag) any {
	switch rng.IntN(6) {
	case 0:
		return "stranger"
	case 1:
		return int64(99)
	case 2:
		return rng.IntN(2) == 0
	}
	return f.Variants[rng.IntN(len(f.Variants))].Value
}

// takes reports whether f can take override value v: of its type and, if
// its policy names variants, one of theirs. It is written from the
// documented rule, not from the evaluator.
func takes(f flagon.Flag, v any) bool {
	switch v.(type) {
	case bool:
		if f.Type != flagon.TypeBool {
			return false
		}
	case string:
		if f.Type != flagon.TypeString {
			return false
		}
	case int64:
		if f.Type != flagon.TypeInt {
			return false
		}
	default:
		return false
	}
	if len(f.Override.Variants) == 0 {
		return true
	}
	for _, vr := range f.Variants {
		if vr.Value == v && slices.Contains(f.Override.Variants, vr.Name) {
			return true
		}
	}
	return false
}

// TestExplainMatchesEvaluation is a property test: for random flags,
// contexts and override layers, Explain's Result is what the client
// serves with the layers merged (for each flag, the first override it can
// take), and the explanation's steps agree with the result.
func TestExplainMatchesEvaluation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"header", "cookie", "legacy-cookie", "user"}
	for round := range 300 {
		defs := flagon.Definitions{Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{
			{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}}}
		for i := range 8 {
			defs.Flags = append(defs.Flags, randomFlag(rng, fmt.Sprintf("f%d", i)))
		}
		src, err := flagon.NewMemorySource(defs, "")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		client := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
		snap := client.Snapshot()
		for range 20 {
			ec := randomContext(rng)
			var layers []flagon.OverrideLayer
			for _, name := range names {
				if rng.IntN(2) == 0 {
					continue
				}
				m := flagon.OverrideMap{}
				for _, f := range defs.Flags {
					if rng.IntN(3) == 0 {
						m[f.Key] = flagon.Override{Value: randomValue(rng, f), Source: name}
					}
				}
				layers = append(layers, flagon.OverrideLayer{Name: name, Overrides: m})
			}
			merged := flagon.OverrideMap{}
			decider := map[string]string{}
			for _, f := range defs.Flags {
				for _, l := range layers {
					if o, ok := l.Overrides.Override(f.Key); ok && takes(f, o.Value) {
						merged[f.Key], decider[f.Key] = o, l.Name
						break
					}
				}
			}
			ctx := flagon.WithScope(context.Background(), ec, merged)
			for _, f := range defs.Flags {
				want := client.Evaluate(ctx, f.Key)
				x := snap.Explain(f.Key, ec, layers...)
				if !reflect.DeepEqual(x.Result, want) {
					t.Fatalf("round %d, flag %+v, context %+v, layers %+v:\nExplain  %+v\nEvaluate %+v", round, f, ec, layers, x.Result, want)
				}
				checkSteps(t, f, ec, x, decider[f.Key])
			}
		}
	}
}

// checkSteps checks that an explanation's steps agree with its result.
func checkSteps(t *testing.T, f flagon.Flag, ec flagon.EvalContext, x flagon.Explanation, decider string) {
	t.Helper()
	r := x.Result
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("flag %+v, context %+v: %s\nexplanation %+v", f, ec, fmt.Sprintf(format, args...), x)
	}
	if x.Layer != decider {
		fail("layer %q decided, want %q", x.Layer, decider)
	}
	if (r.Reason == flagon.ReasonOverride) != (x.Layer != "") {
		fail("reason %s with layer %q", r.Reason, x.Layer)
	}
	for i, l := range x.Layers {
		if last := i == len(x.Layers)-1 && x.Layer != ""; (l.Refused == "") != last || takes(f, l.Value) != last {
			fail("layer step %d %+v", i, l)
		}
	}
	if r.Reason == flagon.ReasonOverride || r.Reason == flagon.ReasonDisabled {
		if len(x.Rules) != 0 || x.Split != nil {
			fail("rules or split recorded after %s", r.Reason)
		}
		return
	}
	for i, st := range x.Rules {
		if st.Rule != i+1 || st.Matched != (st.Rule == r.Rule) {
			fail("rule step %d %+v with result rule %d", i, st, r.Rule)
		}
		if !st.Matched {
			v, ok := ec.Attrs[st.Clause.Attribute]
			if st.Clause.Attribute == "key" {
				v, ok = ec.Key, ec.Key != ""
			}
			if ok == st.Missing || ok && !reflect.DeepEqual(v, st.Value) {
				fail("rule step %d reports %s = %v (missing %v)", i, st.Clause.Attribute, st.Value, st.Missing)
			}
		}
	}
	if r.Rule == 0 && len(x.Rules) != len(f.Rules) {
		fail("%d rules tried of %d, none matched", len(x.Rules), len(f.Rules))
	}
	split := (r.Reason == flagon.ReasonSplit) || r.ErrorCode == flagon.ErrorTargetingKeyMissing
	if split != (x.Split != nil) {
		fail("split %+v with reason %s", x.Split, r.Reason)
	}
	if sp := x.Split; sp != nil && sp.Bucket >= 0 {
		salt := f.Salt
		if salt == "" {
			salt = f.Key
		}
		if s, ok := sp.Value.(string); ok && sp.Bucket != flagon.Bucket(salt, s) {
			fail("bucket %d, want %d", sp.Bucket, flagon.Bucket(salt, s))
		}
		if sp.Bucket < sp.Lo || sp.Bucket >= sp.Hi || sp.Variant != r.Variant {
			fail("bucket %d outside its share [%d, %d) of %s", sp.Bucket, sp.Lo, sp.Hi, sp.Variant)
		}
	}
	if steps := x.Steps(); len(steps) == 0 || !strings.HasPrefix(steps[len(steps)-1], "result: ") {
		fail("steps %q", steps)
	}
}

func TestExplainSteps(t *testing.T) {
	snap := flagon.MustSnapshot(flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{{
			Key: "checkout", Type: flagon.TypeString,
			Variants: []flagon.Variant{{Name: "old", Value: "old"}, {Name: "new", Value: "new"}},
			Default:  "old",
			Override: flagon.OverridePolicy{Variants: []string{"new"}},
			Rules: []flagon.Rule{
				{ID: "staff-first", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "new"}},
				{Clauses: []flagon.Clause{{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}}}, Serve: flagon.Serve{Variant: "new"}},
			},
			Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "new", Percent: 25}, {Variant: "old", Percent: 75}}},
		}},
	}, flagon.SnapshotOptions{})
	ec := flagon.EvalContext{Key: "user-42", Attrs: map[string]any{"is_staff": false}}
	x := snap.Explain("checkout", ec,
		flagon.OverrideLayer{Name: "header", Overrides: flagon.OverrideMap{"checkout": {Value: "old", Source: "header"}}},
		flagon.OverrideLayer{Name: "cookie"})
	b := flagon.Bucket("checkout", "user-42")
	variant, lo, hi := "new", 0, 24999
	if b >= 25000 {
		variant, lo, hi = "old", 25000, 99999
	}
	want := []string{
		`override from header: old ignored: not a variant the flag's override policy allows`,
		`rule 1 (staff-first) skipped: not in audience staff: is_staff == true does not hold: is_staff is false`,
		`rule 2 skipped: country in NL, BE does not hold: the context has no country`,
		`no rule matched: the fallthrough serves`,
		fmt.Sprintf(`the fallthrough's percentage split by key: user-42 is in bucket %d of 100000; buckets %d to %d (%d%%) get %s`, b, lo, hi, (hi+1-lo)/1000, variant),
		fmt.Sprintf(`result: %s (variant %s, reason SPLIT)`, variant, variant),
	}
	if got := x.Steps(); !reflect.DeepEqual(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	x = snap.Explain("checkout", flagon.EvalContext{})
	if got := x.Steps(); !slices.Contains(got, "the fallthrough's percentage split hashes key, which the context does not have") ||
		x.Result.ErrorCode != flagon.ErrorTargetingKeyMissing {
		t.Errorf("no key: %q", got)
	}
	x = snap.Explain("checkout", ec, flagon.OverrideLayer{Name: "cookie", Overrides: flagon.OverrideMap{"checkout": {Value: "new", Source: "cookie"}}})
	if x.Layer != "cookie" || x.Result.Reason != flagon.ReasonOverride || len(x.Rules) != 0 {
		t.Errorf("override: %+v", x)
	}
}

// TestExplainWithoutLayers checks that Explain with one unnamed layer is
// Evaluate.
func TestExplainWithoutLayers(t *testing.T) {
	snap := flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{targetedFlag("t")}}, flagon.SnapshotOptions{})
	ov := flagon.OverrideMap{"t": {Value: true, Source: "test"}}
	for _, key := range []string{"t", "missing"} {
		for _, o := range []flagon.Overrides{nil, ov} {
			ec := flagon.EvalContext{Key: "u"}
			if got, want := snap.Explain(key, ec, flagon.OverrideLayer{Overrides: o}).Result, snap.Evaluate(key, ec, o); !reflect.DeepEqual(got, want) {
				t.Errorf("%s with %v: Explain %+v, Evaluate %+v", key, o, got, want)
			}
		}
	}
}
