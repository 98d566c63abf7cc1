package jsondiff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/flagon/flagon"
)

func TestValues(t *testing.T) {
	dec := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		a, b string
		want []string
	}{
		{`{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, nil},
		{`{"a":1}`, `{"a":2,"c":true}`, []string{"a changed 1 2", "c added  true"}},
		{`{"rules":[{"id":"r1","serve":{"variant":"on"}}]}`, `{"rules":[{"id":"r1","serve":{"variant":"off"}},{"id":"r2"}]}`,
			[]string{`rules[0].serve.variant (id "r1") changed "on" "off"`, `rules[1] (id "r2") added  {"id":"r2"}`}},
		{`{"tags":["a","b"]}`, `{"tags":["a"]}`, []string{`tags[1] removed "b" `}},
		{`{"d":"<b>"}`, `{}`, []string{`d removed "<b>" `}},
		{`null`, `{"k":"x","o":{"p":1},"l":[{"id":"a"}]}`, []string{`k added  "x"`, `l added  [{"id":"a"}]`, `o.p added  1`}},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range Values(dec(tt.a), dec(tt.b)) {
			s := c.Path
			if c.Context != "" {
				s += " (" + c.Context + ")"
			}
			got = append(got, s+" "+c.Kind+" "+c.Old+" "+c.New)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s → %s:\ngot  %q\nwant %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFlagsNormalizes(t *testing.T) {
	bare := flagon.Flag{Key: "a"}
	if got := Flags(bare, bare.Normalize()); len(got) != 0 {
		t.Errorf("spelling out a flag's implicit parts shows as changes: %+v", got)
	}
	got := Flags(flagon.Flag{}, bare)
	if len(got) == 0 || got[0].Kind != "added" {
		t.Errorf("a new flag: %+v, want every field added", got)
	}
}

func ExampleFlags() {
	old := flagon.Flag{Key: "new-home-page", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}}}
	new := old
	new.Fallthrough = flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 30}, {Variant: "off", Percent: 70}}}
	for _, c := range Flags(old, new) {
		fmt.Printf("%s in %s: %s → %s\n", c.Path, c.Context, c.Old, c.New)
	}
	// Output:
	// fallthrough.split[0].percent in variant "on": 10 → 30
	// fallthrough.split[1].percent in variant "off": 90 → 70
}
