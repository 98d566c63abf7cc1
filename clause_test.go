package flagon_test

import (
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// matches reports whether a rule with the single clause c matches attrs.
func matches(t *testing.T, c flagon.Clause, attrs map[string]any) bool {
	t.Helper()
	snap, err := flagon.NewSnapshot(flagon.Definitions{Flags: []flagon.Flag{{
		Key:   "f",
		Rules: []flagon.Rule{{Clauses: []flagon.Clause{c}, Serve: flagon.Serve{Variant: "on"}}},
	}}}, flagon.SnapshotOptions{})
	if err != nil {
		t.Fatalf("clause %v: %v", c, err)
	}
	return snap.Evaluate("f", flagon.EvalContext{Key: "user-1", Attrs: attrs}, nil).Reason == flagon.ReasonTargetingMatch
}

func TestOperators(t *testing.T) {
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	c := func(attr string, op flagon.Operator, vals ...any) flagon.Clause {
		return flagon.Clause{Attribute: attr, Op: op, Values: vals}
	}
	tests := []struct {
		name   string
		clause flagon.Clause
		attrs  map[string]any
		want   bool
	}{
		{"equals string", c("plan", flagon.OpEquals, "pro"), map[string]any{"plan": "pro"}, true},
		{"equals is case sensitive", c("plan", flagon.OpEquals, "pro"), map[string]any{"plan": "Pro"}, false},
		{"equals bool", c("is_staff", "==", true), map[string]any{"is_staff": true}, true},
		{"equals bool against string true", c("is_staff", "==", "true"), map[string]any{"is_staff": true}, true},
		{"bool is not string", c("is_staff", "==", true), map[string]any{"is_staff": "yes"}, false},
		{"equals int vs float", c("n", "==", 3), map[string]any{"n": 3.0}, true},
		{"equals int32", c("n", "==", 3), map[string]any{"n": int32(3)}, true},
		{"equals uint8", c("n", "==", 3), map[string]any{"n": uint8(3)}, true},
		{"equals number vs numeric string value", c("n", "==", "3"), map[string]any{"n": 3}, true},
		{"equals time", c("t", "==", day), map[string]any{"t": day.In(time.FixedZone("x", 3600))}, true},
		{"unsupported attribute type", c("n", "==", 3), map[string]any{"n": struct{}{}}, false},
		{"not equals", c("plan", flagon.OpNotEquals, "free"), map[string]any{"plan": "pro"}, true},
		{"not equals same", c("plan", flagon.OpNotEquals, "pro"), map[string]any{"plan": "pro"}, false},
		{"in", c("country", flagon.OpIn, "NL", "BE"), map[string]any{"country": "BE"}, true},
		{"in miss", c("country", flagon.OpIn, "NL", "BE"), map[string]any{"country": "DE"}, false},
		{"not in", c("country", flagon.OpNotIn, "NL", "BE"), map[string]any{"country": "DE"}, true},
		{"not in, list attribute with a hit", c("groups", flagon.OpNotIn, "banned"), map[string]any{"groups": []string{"a", "banned"}}, false},
		{"contains", c("email", flagon.OpContains, "@corp"), map[string]any{"email": "a@corp.example"}, true},
		{"contains in []any", c("groups", flagon.OpEquals, "qa"), map[string]any{"groups": []any{"dev", "qa"}}, true},
		{"starts with", c("path", flagon.OpStartsWith, "/beta/"), map[string]any{"path": "/beta/x"}, true},
		{"ends with", c("email", flagon.OpEndsWith, "@example.com"), map[string]any{"email": "a@example.com"}, true},
		{"ends with miss", c("email", flagon.OpEndsWith, "@example.com"), map[string]any{"email": "a@example.com.evil"}, false},
		{"matches", c("ua", flagon.OpMatches, "(?i)iphone"), map[string]any{"ua": "Mozilla iPhone"}, true},
		{"lt", c("age", "<", 18), map[string]any{"age": 17}, true},
		{"lt equal", c("age", "<", 18), map[string]any{"age": 18}, false},
		{"lte", c("age", "<=", 18), map[string]any{"age": 18}, true},
		{"gt", c("age", ">", 18), map[string]any{"age": 18.5}, true},
		{"gte float32", c("score", ">=", 0.5), map[string]any{"score": float32(0.75)}, true},
		{"gt on text", c("age", ">", 18), map[string]any{"age": "old"}, false},
		{"semver eq v-prefix", c("v", flagon.OpSemverEq, "1.2.3"), map[string]any{"v": "v1.2.3"}, true},
		{"semver eq ignores build", c("v", flagon.OpSemverEq, "1.2.3"), map[string]any{"v": "1.2.3+build.9"}, true},
		{"semver numeric not lexical", c("v", flagon.OpSemverGT, "1.9.0"), map[string]any{"v": "1.10.0"}, true},
		{"semver short form", c("v", flagon.OpSemverGTE, "2"), map[string]any{"v": "2.0.0"}, true},
		{"semver prerelease lower", c("v", flagon.OpSemverLT, "1.0.0"), map[string]any{"v": "1.0.0-alpha"}, true},
		{"semver prerelease numeric order", c("v", flagon.OpSemverLT, "1.0.0-rc.10"), map[string]any{"v": "1.0.0-rc.9"}, true},
		{"semver prerelease numeric before alpha", c("v", flagon.OpSemverLT, "1.0.0-alpha"), map[string]any{"v": "1.0.0-1"}, true},
		{"semver prerelease longer wins", c("v", flagon.OpSemverGT, "1.0.0-alpha"), map[string]any{"v": "1.0.0-alpha.1"}, true},
		{"semver lte", c("v", flagon.OpSemverLTE, "1.0.0"), map[string]any{"v": "1.0.0"}, true},
		{"semver garbage attribute", c("v", flagon.OpSemverLT, "9.0.0"), map[string]any{"v": "latest"}, false},
		{"before time.Time", c("t", flagon.OpBefore, "2026-12-01T00:00:00Z"), map[string]any{"t": day}, true},
		{"after date only", c("t", flagon.OpAfter, "2026-11-21"), map[string]any{"t": day}, true},
		{"after unix", c("t", flagon.OpAfter, "2026-11-21T00:00:00Z"), map[string]any{"t": day.Unix()}, true},
		{"before garbage", c("t", flagon.OpBefore, "2026-12-01T00:00:00Z"), map[string]any{"t": "soon"}, false},
		{"exists", c("org", flagon.OpExists), map[string]any{"org": nil}, true},
		{"missing attribute", c("org", flagon.OpEquals, "x"), map[string]any{}, false},
		{"targeting key", c("key", flagon.OpEquals, "user-1"), nil, true},
		{"targeting key, OpenFeature name", c("targetingKey", flagon.OpStartsWith, "user-"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.clause, tt.attrs); got != tt.want {
				t.Errorf("%v with %v: match = %v, want %v", tt.clause, tt.attrs, got, tt.want)
			}
		})
	}
}
