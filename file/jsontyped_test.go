package file

import (
	"reflect"
	"testing"
)

// typedCases are JSON files that typedJSON must read itself: the
// generated benchmark file, and the usual shapes of each field.
// (testdata/complete.json uses the rare ones: override policies, object
// variants and clauses written as mappings, which it leaves to the
// general path.)
func typedCases() map[string][]byte {
	return map[string][]byte{
		"generated": genJSON(1000),
		"rules":     []byte(`{"flags": {"a": {"rollout": 5, "rules": [{"when": "x in 1, 2", "serve": false}]}}}`),
		"audiences": []byte(`{"audiences": {"s": ["a == 1", "b != 2"], "t": {"description": "T", "when": "c exists"}, "u": null}, "flags": {"a": {"rules": [{"audiences": ["s", "t"], "serve": {"rollout": {"on": "1.5%", "off": 98.5}, "by": "org"}}]}}}`),
		"floats":    []byte(`{"flags": {"a": {"type": "float", "variants": {"x": 1, "y": 2.5e3}, "default": "y", "tags": "one", "expires": "2027-01-02T03:04:05Z", "metadata": {"k": null, "j": "v"}}, "c": null}}`),
		"ints":      []byte(`{"flags": {"a": {"type": "int", "variants": {"x": -0, "y": 9223372036854775807}, "default": "x"}}, "environments": {"p": {"a": null}, "q": null}}`),
		"settings":  []byte(`{"flags": {"a": {"enabled": false, "salt": "s", "owner": "o", "description": "d\u00e9", "tags": [], "rules": []}, "b": {"variants": {"yes": true, "no": false}, "default": false, "fallthrough": {"rollout": 30}}}, "environments": {"prod": {"a": {"default": true, "enabled": true, "rules": [{"id": "r", "description": "x", "audience": "s", "serve": true}], "rollout": 50}, "b": {"fallthrough": "yes"}}}, "audiences": {"s": "a == 1"}}`),
	}
}

func TestTypedJSONMatchesGeneral(t *testing.T) {
	for name, data := range typedCases() {
		got, gotEnvs, ok := typedJSON(data)
		if !ok {
			t.Errorf("%s: typedJSON declined it", name)
			continue
		}
		p := newParser("x.json", data)
		want := p.parse(data)
		if len(p.errs) > 0 {
			t.Fatalf("%s: %v", name, p.err())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: typedJSON reads it differently:\n%s", name, diff(got, want))
		}
		if !reflect.DeepEqual(gotEnvs, p.envNames) {
			t.Errorf("%s: environments %q, want %q", name, gotEnvs, p.envNames)
		}
	}
}

// TestTypedJSONDeclines checks that typedJSON leaves to the general path
// every file it cannot read exactly as that path does: the general path
// then reports the problem with its line, or reads the rare shape.
func TestTypedJSONDeclines(t *testing.T) {
	tests := []struct{ name, src string }{
		{"duplicate field", `{"flags": {"a": {"owner": "x", "owner": "y"}}}`},
		{"duplicate field in a rule", `{"flags": {"a": {"rules": [{"when": "a == 1", "when": "b == 2", "serve": true}]}}}`},
		{"duplicate flag", `{"flags": {"a": {}, "a": {}}}`},
		{"duplicate variant", `{"flags": {"a": {"type": "string", "variants": {"x": "1", "x": "2"}, "default": "x"}}}`},
		{"duplicate split", `{"flags": {"a": {"type": "string", "variants": {"x": "1", "y": "2"}, "default": "x", "fallthrough": {"rollout": {"x": 50, "x": 50}}}}}`},
		{"duplicate top-level key", `{"flags": {}, "flags": {}}`},
		{"duplicate metadata key", `{"flags": {"a": {"metadata": {"k": "1", "k": "2"}}}}`},
		{"duplicate audience field", `{"audiences": {"s": {"when": "a == 1", "when": "b == 1"}}, "flags": {}}`},
		{"field in upper case", `{"flags": {"a": {"Owner": "x"}}}`},
		{"top-level field in upper case", `{"Flags": {"a": {}}}`},
		{"rule field in upper case", `{"flags": {"a": {"rules": [{"When": "a == 1", "serve": true}]}}}`},
		{"field with a long s", "{\"flags\": {\"a\": {\"\u017Falt\": \"x\"}}}"},
		{"field written with an escape", `{"flags": {"a": {"owne\u0072": "x"}}}`},
		{"unknown field", `{"flags": {"a": {"descripton": "x"}}}`},
		{"unknown field in a serve", `{"flags": {"a": {"fallthrough": {"variant": true, "weight": 1}}}}`},
		{"field set to null", `{"flags": {"a": {"owner": null}}}`},
		{"wrong type", `{"flags": {"a": {"enabled": "yes"}}}`},
		{"trailing comma", `{"flags": {"a": {},}}`},
		{"two values", `{"flags": {}} {}`},
		{"unknown type", `{"flags": {"a": {"type": "strnig"}}}`},
		{"unknown flag in an environment", `{"flags": {"a": {}}, "environments": {"prod": {"b": {"enabled": false}}}}`},
		{"bad environment name", `{"flags": {"a": {}}, "environments": {"Prod": {}}}`},
		{"rollout and fallthrough", `{"flags": {"a": {"rollout": 5, "fallthrough": true}}}`},
		{"percent out of range", `{"flags": {"a": {"rollout": 101}}}`},
		{"int variant with a fraction", `{"flags": {"a": {"type": "int", "variants": {"x": 1.5}, "default": "x"}}}`},
		{"number where text goes", `{"flags": {"a": {"owner": 5}}}`},
		{"null rule", `{"flags": {"a": {"rules": [null]}}}`},
		{"empty default", `{"flags": {"a": {"default": ""}}}`},
		{"byte order mark", "\ufeff{\"flags\": {}}"},
		{"colon after an escaped quote", `{"flags": {"a": {"description": "say \"x\": y"}}}`},
		{"a mapping of clauses", `{"flags": {"a": {"rules": [{"when": {"attribute": "a", "op": "exists"}, "serve": true}]}}}`},
		{"an override policy", `{"flags": {"a": {"override": {"who": "staff"}}}}`},
	}
	for _, tt := range tests {
		if defs, _, ok := typedJSON([]byte(tt.src)); ok {
			t.Errorf("%s: typedJSON read %s as %+v", tt.name, tt.src, defs)
		}
	}
}

// TestTypedJSONOrder checks that the order of flags, variants, splits and
// environments is the order of the file, as in YAML.
func TestTypedJSONOrder(t *testing.T) {
	src := `{"flags": {
		"z": {"type": "string", "variants": {"c": "3", "a": "1", "b": "2"}, "default": "c",
			"fallthrough": {"rollout": {"b": 10, "c": 60, "a": 30}, "by": "org"}},
		"a": {"rollout": 5}},
	"environments": {"staging": {"a": {"enabled": false}}, "prod": {"z": {"default": "b"}}}}`
	got, envs, ok := typedJSON([]byte(src))
	if !ok {
		t.Fatal("typedJSON declined it")
	}
	p := newParser("x.json", []byte(src))
	want := p.parse([]byte(src))
	if len(p.errs) > 0 {
		t.Fatal(p.err())
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(envs, p.envNames) {
		t.Errorf("typedJSON reads it differently:\n%s\nenvironments %q, want %q", diff(got, want), envs, p.envNames)
	}
	if got.Flags[0].Key != "z" || got.Flags[0].Variants[0].Name != "c" || got.Flags[0].Fallthrough.Split[0].Variant != "b" || envs[0] != "staging" {
		t.Errorf("not in file order: %+v, environments %q", got.Flags, envs)
	}
}

// FuzzTypedJSON checks that whatever typedJSON reads, the general path
// reads without a problem and into the same definitions.
func FuzzTypedJSON(f *testing.F) {
	for name, data := range typedCases() {
		if name != "generated" {
			f.Add(data)
		}
	}
	f.Add(genJSON(20))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, envs, ok := typedJSON(data)
		if !ok {
			return
		}
		p := newParser("fuzz.json", data)
		want := p.parse(data)
		if len(p.errs) > 0 {
			t.Fatalf("typedJSON read what the general path refuses (%v): %q", p.err(), data)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(envs, p.envNames) {
			t.Fatalf("typedJSON reads %q differently:\n%s\nenvironments %q, want %q", data, diff(got, want), envs, p.envNames)
		}
	})
}
