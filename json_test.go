package flagon_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func TestUnmarshalFlagExact(t *testing.T) {
	big := int64(1<<60 + 1)
	f := flagon.Flag{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "big", Value: big}, {Name: "one", Value: int64(1)}}, Default: "one"}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var plain flagon.Flag
	if err := json.Unmarshal(data, &plain); err != nil {
		t.Fatal(err)
	}
	if plain.Variants[0].Value == big {
		t.Fatal("encoding/json kept 2^60+1 exactly; the test no longer shows why UnmarshalFlag exists")
	}
	var got flagon.Flag
	if err := flagon.UnmarshalFlag(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("UnmarshalFlag = %#v, want %#v", got, f)
	}
	// A value of the wrong type is kept as decoded, for Validate.
	if err := flagon.UnmarshalFlag([]byte(`{"key":"a","type":"int","variants":[{"name":"x","value":"seven"}]}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.Variants[0].Value != "seven" {
		t.Errorf("wrong-typed variant = %#v, want the string kept", got.Variants[0].Value)
	}
	if err := flagon.UnmarshalFlag([]byte(`{"key": 7}`), &got); err == nil {
		t.Error("UnmarshalFlag of a bad flag succeeded")
	}
}

func TestMarshalValue(t *testing.T) {
	for _, tt := range []struct {
		in   any
		typ  flagon.Type
		want any
	}{
		{true, flagon.TypeBool, true},
		{"blue", flagon.TypeString, "blue"},
		{7, flagon.TypeInt, int64(7)},
		{int64(1<<62 + 3), flagon.TypeInt, int64(1<<62 + 3)},
		{0.25, flagon.TypeFloat, 0.25},
		{json.Number("12"), flagon.TypeInt, int64(12)},
		{json.Number("1.5"), flagon.TypeFloat, 1.5},
		{map[string]any{"a": "b"}, flagon.TypeObject, map[string]any{"a": "b"}},
	} {
		typ, data, err := flagon.MarshalValue(tt.in)
		if err != nil || typ != tt.typ {
			t.Errorf("MarshalValue(%#v) = %s, %v; want type %s", tt.in, typ, err, tt.typ)
			continue
		}
		got, err := flagon.UnmarshalValue(typ, data)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UnmarshalValue(%s, %s) = %#v, %v; want %#v", typ, data, got, err, tt.want)
		}
	}
	for _, bad := range []any{nil, struct{}{}, []int{1}} {
		if _, _, err := flagon.MarshalValue(bad); err == nil {
			t.Errorf("MarshalValue(%#v) succeeded", bad)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"1d12h", 36 * time.Hour, "36h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"24h", 24 * time.Hour, "24h"},
		{"0s", 0, "0s"},
	} {
		got, err := flagon.ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := flagon.FormatDuration(got); s != tt.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", got, s, tt.out)
		}
	}
	for _, bad := range []string{"", "-1h", "d", "7x", "1.5d", "99999999999999d"} {
		if _, err := flagon.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestOverridePolicyJSON(t *testing.T) {
	p := flagon.OverridePolicy{Who: flagon.WhoAnyone, MaxDuration: 30 * 24 * time.Hour}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"who":"anyone","max_duration":"30d"}`; string(data) != want {
		t.Errorf("Marshal = %s, want %s", data, want)
	}
	for _, in := range []string{string(data), `{"who":"anyone","max_duration":2592000000000000}`} {
		var got flagon.OverridePolicy
		if err := json.Unmarshal([]byte(in), &got); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", in, got, err, p)
		}
	}
	for _, in := range []string{`{"max_duration":"soon"}`, `{"max_duration":true}`, `{"who":"anyone","maxDuration":"1h"}`} {
		var got flagon.OverridePolicy
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", in)
		}
	}
}

func TestAuditEntryValidate(t *testing.T) {
	ok := flagon.AuditEntry{Actor: "ann", Action: "flag.update", Target: "a", Before: json.RawMessage(`{}`)}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
	for _, e := range []flagon.AuditEntry{
		{Actor: "ann"},
		{Action: "x", After: json.RawMessage(`{`)},
		{Action: "x", Actor: strings.Repeat("a", flagon.MaxAuditActorLen+1)},
		{Action: "x", Target: strings.Repeat("a", flagon.MaxAuditTargetLen+1)},
		{Action: "x", Reason: strings.Repeat("a", flagon.MaxAuditReasonLen+1)},
	} {
		err := e.Validate()
		var fes flagon.FieldErrors
		if !errors.Is(err, flagon.ErrInvalid) || !errors.As(err, &fes) {
			t.Errorf("Validate(%.60v) = %v, want field errors", e, err)
		}
	}
}

func TestCheckAudienceDelete(t *testing.T) {
	defs := flagon.Definitions{
		Audiences: []flagon.Audience{
			{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}},
			{Name: "beta", Clauses: []flagon.Clause{{Attribute: "beta", Op: flagon.OpEquals, Values: []any{true}}}},
		},
		Flags: []flagon.Flag{{Key: "a", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}}},
	}
	if err := defs.CheckAudienceDelete("beta"); err != nil {
		t.Errorf("deleting an unused audience: %v", err)
	}
	err := defs.CheckAudienceDelete("staff")
	if !errors.Is(err, flagon.ErrInvalid) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("deleting a used audience: %v, want a field error naming flag a", err)
	}
}
