package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/flagon/flagon"
)

// FuzzParse checks that no input makes Parse panic, as YAML or as JSON,
// that what it accepts
// NewSnapshot accepts in every environment, and that Encode writes it back
// exactly.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/complete.yaml", "testdata/complete.json"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		goodV2, broken,
		"flags:\n  a:\n    type: object\n    variants: {x: {a: [1, 2.5, null, {b: c}]}}\n",
		"flags:\n  a: &x\n    owner: t\n  b:\n    <<: *x\n",
		`{"flags": {"a": {"rollout": 5, "rules": [{"when": "x in 1, 2", "serve": false}]}}}`,
		"audiences:\n  s: [\"a == 1\", {attribute: b, op: exists}]\nflags:\n  a:\n    rules:\n      - audiences: [s]\n        serve: {rollout: {on: 1.5, off: 98.5}, by: org}\n",
		"flags:\n  a:\n    type: string\n    variants: {x: x, y: y}\n    override: {who: staff, variants: [x], max_duration: 2d}\nenvironments:\n  prod:\n    a: {default: y, fallthrough: {}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// As JSON, only what encoding/json reads is accepted, and problems
		// are FieldErrors too.
		if _, err := Parse("fuzz.json", data); err != nil {
			var fe *flagon.FieldError
			if !errors.As(err, &fe) || fe.File != "fuzz.json" {
				t.Fatalf("JSON error %v (%T) is not a FieldError naming the file", err, err)
			}
		} else if !json.Valid(bytes.TrimPrefix(data, bom)) {
			t.Fatalf("Parse accepted as JSON what encoding/json refuses: %q", data)
		}
		defs, err := Parse("fuzz.yaml", data)
		if err != nil {
			var fe *flagon.FieldError
			if !errors.As(err, &fe) || fe.File != "fuzz.yaml" {
				t.Fatalf("error %v (%T) is not a FieldError naming the file", err, err)
			}
			return
		}
		envs := map[string]bool{"": true}
		for _, fl := range defs.Flags {
			for env := range fl.Environments {
				envs[env] = true
			}
		}
		for env := range envs {
			if _, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: env}); err != nil {
				t.Fatalf("Parse accepted what NewSnapshot(%q) rejects: %v", env, err)
			}
		}
		var buf bytes.Buffer
		if err := Encode(&buf, defs); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := Parse("encoded.yaml", buf.Bytes())
		if err != nil {
			t.Fatalf("Parse(Encode(d)): %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(back, defs) {
			t.Fatalf("Parse(Encode(d)) != d\n%s\n%s", buf.Bytes(), diff(back, defs))
		}
	})
}
