package flagon_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

type goldenFile struct {
	Definitions flagon.Definitions `json:"definitions"`
	Cases       []struct {
		Name    string `json:"name"`
		Flag    string `json:"flag"`
		Context struct {
			Key   string         `json:"key"`
			Attrs map[string]any `json:"attrs"`
		} `json:"context"`
		Variant string `json:"variant"`
		Reason  string `json:"reason"`
		Rule    int    `json:"rule"`
		Error   string `json:"error"`
	} `json:"cases"`
}

// TestGoldenEvaluation runs the cases in testdata/eval.json: context in,
// variant, reason, rule and error code out.
func TestGoldenEvaluation(t *testing.T) {
	data, err := os.ReadFile("testdata/eval.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	snap, err := flagon.NewSnapshot(g.Definitions, flagon.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range g.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			ec := flagon.EvalContext{Key: tc.Context.Key, Attrs: tc.Context.Attrs}
			r := snap.Evaluate(tc.Flag, ec, nil)
			if r.Variant != tc.Variant || string(r.Reason) != tc.Reason || r.Rule != tc.Rule || string(r.ErrorCode) != tc.Error {
				t.Errorf("Evaluate(%q, %+v) = variant %q reason %s rule %d error %q; want %q %s %d %q",
					tc.Flag, ec, r.Variant, r.Reason, r.Rule, r.ErrorCode, tc.Variant, tc.Reason, tc.Rule, tc.Error)
			}
			if r.Revision != snap.Revision() {
				t.Errorf("Revision = %q, want %q", r.Revision, snap.Revision())
			}
		})
	}
}

// TestBucketGolden pins the bucketing function: if any of these change,
// every running rollout would reshuffle its users.
func TestBucketGolden(t *testing.T) {
	tests := []struct {
		salt, value string
		want        int
	}{
		{"new-home-page", "user-1", 62515},
		{"new-home-page", "user-2", 85112},
		{"new-home-page", "", 43396},
		{"checkout", "acct-3", 58607},
		{"checkout", "a-much-longer-targeting-key-0123456789", 19156},
		{"", "x", 51239},
		{"salt", "12345678", 35501},
		{"salt", "1234567", 19320},
	}
	for _, tt := range tests {
		if got := flagon.Bucket(tt.salt, tt.value); got != tt.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tt.salt, tt.value, got, tt.want)
		}
	}
}

// TestSplitFair checks that 100,000 keys land within 1% (of all keys) of
// each share's weight.
func TestSplitFair(t *testing.T) {
	splits := [][]flagon.Split{
		{{Variant: "on", Percent: 25}, {Variant: "off", Percent: 75}},
		{{Variant: "on", Percent: 50}, {Variant: "off", Percent: 50}},
		{{Variant: "on", Percent: 0.5}, {Variant: "off", Percent: 99.5}},
		{{Variant: "a", Percent: 33.333}, {Variant: "b", Percent: 33.333}, {Variant: "c", Percent: 33.334}},
	}
	for _, split := range splits {
		f := flagon.Flag{Key: "fair", Fallthrough: flagon.Serve{Split: split}}
		if split[0].Variant == "a" {
			f.Type = flagon.TypeString
			f.Variants = []flagon.Variant{{Name: "a", Value: "a"}, {Name: "b", Value: "b"}, {Name: "c", Value: "c"}}
		}
		snap := flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{f}}, flagon.SnapshotOptions{})
		const n = 100000
		counts := map[string]int{}
		for i := range n {
			r := snap.Evaluate("fair", flagon.EvalContext{Key: fmt.Sprintf("user-%d", i)}, nil)
			counts[r.Variant]++
		}
		for _, s := range split {
			got := float64(counts[s.Variant]) / n * 100
			if math.Abs(got-s.Percent) > 1 {
				t.Errorf("split %v: variant %s got %.3f%% of keys, want %.3f%% ± 1", split, s.Variant, got, s.Percent)
			}
		}
	}
}

// TestRolloutGrowsMonotonically checks that raising a rollout from 10% to
// 20% keeps everyone the 10% had.
func TestRolloutGrowsMonotonically(t *testing.T) {
	snapAt := func(p float64) *flagon.Snapshot {
		return flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{{
			Key:         "grow",
			Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: p}, {Variant: "off", Percent: 100 - p}}},
		}}}, flagon.SnapshotOptions{})
	}
	s10, s20 := snapAt(10), snapAt(20)
	in10, in20 := 0, 0
	for i := range 20000 {
		ec := flagon.EvalContext{Key: fmt.Sprintf("k%d", i)}
		a := s10.Evaluate("grow", ec, nil).Variant == "on"
		b := s20.Evaluate("grow", ec, nil).Variant == "on"
		if a {
			in10++
		}
		if b {
			in20++
		}
		if a && !b {
			t.Fatalf("key %q was in the 10%% rollout but not in the 20%% one", ec.Key)
		}
	}
	if in20 <= in10 {
		t.Errorf("20%% rollout has %d keys, 10%% has %d", in20, in10)
	}
}

// TestSaltSeparatesFlags checks that two flags at 10% reach different users.
func TestSaltSeparatesFlags(t *testing.T) {
	both, a := 0, 0
	for i := range 10000 {
		k := fmt.Sprint(i)
		x := flagon.Bucket("flag-a", k) < 10000
		y := flagon.Bucket("flag-b", k) < 10000
		if x {
			a++
		}
		if x && y {
			both++
		}
	}
	// Independent 10% rollouts overlap on about 1% of keys, not 10%.
	if both > a/4 {
		t.Errorf("%d of %d keys are in both 10%% rollouts; salts do not separate flags", both, a)
	}
}

func TestOverrides(t *testing.T) {
	snap := flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{
		{Key: "b"},
		{Key: "killed", Disabled: true},
		{Key: "s", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "x"}, {Name: "y", Value: "y"}}},
		{Key: "limited", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "x"}, {Name: "y", Value: "y"}},
			Override: flagon.OverridePolicy{Variants: []string{"y"}}},
		{Key: "n", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}}},
	}}, flagon.SnapshotOptions{})
	ov := flagon.OverrideMap{
		"b":       {Value: true, Source: "cookie"},
		"killed":  {Value: true, Source: "cookie"},
		"s":       {Value: "free text", Source: "user"},
		"limited": {Value: "x", Source: "cookie"},
		"n":       {Value: "10", Source: "cookie"}, // wrong type: ignored
	}
	tests := []struct {
		key, variant string
		value        any
		reason       flagon.Reason
		source       string
	}{
		{"b", "on", true, flagon.ReasonOverride, "cookie"},
		{"killed", "on", true, flagon.ReasonOverride, "cookie"},
		{"s", "", "free text", flagon.ReasonOverride, "user"},
		{"limited", "x", "x", flagon.ReasonStatic, ""},
		{"n", "ten", int64(10), flagon.ReasonStatic, ""},
	}
	for _, tt := range tests {
		r := snap.Evaluate(tt.key, flagon.EvalContext{}, ov)
		if r.Variant != tt.variant || r.Value != tt.value || r.Reason != tt.reason || r.OverrideSource != tt.source {
			t.Errorf("%s: got variant %q value %v reason %s source %q; want %q %v %s %q",
				tt.key, r.Variant, r.Value, r.Reason, r.OverrideSource, tt.variant, tt.value, tt.reason, tt.source)
		}
	}
}

func TestEnvironments(t *testing.T) {
	off, on := "off", "on"
	yes := true
	rules := []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "is_staff", Op: "==", Values: []any{true}}}, Serve: flagon.Serve{Variant: "on"}}}
	defs := flagon.Definitions{Flags: []flagon.Flag{{
		Key:     "f",
		Default: "on",
		Environments: map[string]flagon.EnvSettings{
			"production": {Default: &off, Rules: &rules},
			"staging":    {Disabled: &yes, Default: &on},
		},
	}}}
	staff := flagon.EvalContext{Attrs: map[string]any{"is_staff": true}}
	tests := []struct {
		env        string
		ec         flagon.EvalContext
		wantVar    string
		wantReason flagon.Reason
	}{
		{"", flagon.EvalContext{}, "on", flagon.ReasonStatic},
		{"development", flagon.EvalContext{}, "on", flagon.ReasonStatic},
		{"production", flagon.EvalContext{}, "off", flagon.ReasonDefault},
		{"production", staff, "on", flagon.ReasonTargetingMatch},
		{"staging", staff, "on", flagon.ReasonDisabled},
	}
	for _, tt := range tests {
		snap := flagon.MustSnapshot(defs, flagon.SnapshotOptions{Environment: tt.env})
		r := snap.Evaluate("f", tt.ec, nil)
		if r.Variant != tt.wantVar || r.Reason != tt.wantReason {
			t.Errorf("env %q: got %s (%s), want %s (%s)", tt.env, r.Variant, r.Reason, tt.wantVar, tt.wantReason)
		}
	}
}

func TestRevisionIsContentHash(t *testing.T) {
	defs := flagon.Definitions{Flags: []flagon.Flag{{Key: "a"}}}
	a := flagon.MustSnapshot(defs, flagon.SnapshotOptions{})
	b := flagon.MustSnapshot(defs, flagon.SnapshotOptions{})
	c := flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Disabled: true}}}, flagon.SnapshotOptions{})
	d := flagon.MustSnapshot(defs, flagon.SnapshotOptions{Environment: "production"})
	if a.Revision() != b.Revision() {
		t.Errorf("equal definitions got revisions %q and %q", a.Revision(), b.Revision())
	}
	if a.Revision() == c.Revision() || a.Revision() == d.Revision() {
		t.Errorf("different definitions or environments share revision %q", a.Revision())
	}
	if e := flagon.MustSnapshot(defs, flagon.SnapshotOptions{Revision: "42"}); e.Revision() != "42" {
		t.Errorf("Revision = %q, want 42", e.Revision())
	}
	if !a.Created().Before(time.Now().Add(time.Second)) {
		t.Errorf("Created = %v", a.Created())
	}
}

// TestCheckOverride covers the policy checks the HTTP layer relies on.
func TestCheckOverride(t *testing.T) {
	snap := flagon.MustSnapshot(flagon.Definitions{Flags: []flagon.Flag{
		{Key: "b"},
		{Key: "kill", Override: flagon.OverridePolicy{Who: flagon.WhoNone}},
		{Key: "n", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "a", Value: 1}, {Name: "b", Value: 2}}, Override: flagon.OverridePolicy{Variants: []string{"b"}}},
	}}, flagon.SnapshotOptions{})
	tests := []struct {
		key     string
		value   any
		want    any
		wantErr bool
	}{
		{"b", true, true, false},
		{"b", "true", nil, true},
		{"missing", true, nil, true},
		{"kill", true, nil, true},
		{"n", 2.0, int64(2), false},
		{"n", 1, nil, true},
		{"n", 2.5, nil, true},
	}
	for _, tt := range tests {
		got, err := snap.CheckOverride(tt.key, tt.value)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("CheckOverride(%q, %v) = %v, %v; want %v, error %v", tt.key, tt.value, got, err, tt.want, tt.wantErr)
		}
	}
}

func ExampleSnapshot_Evaluate() {
	snap, err := flagon.NewSnapshot(flagon.Definitions{
		Audiences: []flagon.Audience{{
			Name:    "staff",
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
		}},
		Flags: []flagon.Flag{{
			Key:         "new-home-page",
			Description: "Expose the new home page",
			Rules:       []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
			Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
		}},
	}, flagon.SnapshotOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ec := range []flagon.EvalContext{
		{Key: "ann", Attrs: map[string]any{"is_staff": true}},
		{Key: "user-6"},
		{Key: "user-1"},
	} {
		r := snap.Evaluate("new-home-page", ec, nil)
		fmt.Printf("%s: %v (%s, rule %d)\n", ec.Key, r.Value, r.Reason, r.Rule)
	}
	// Output:
	// ann: true (TARGETING_MATCH, rule 1)
	// user-6: true (SPLIT, rule 0)
	// user-1: false (SPLIT, rule 0)
}

func ExampleBucket() {
	// Bucket is stable: the same salt and key give the same bucket on every
	// machine, in every version of Flagon.
	fmt.Println(flagon.Bucket("new-home-page", "user-1"))
	// Output: 62515
}
