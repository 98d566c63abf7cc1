package file

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flagon/flagon"
)

func TestIsJSON(t *testing.T) {
	tests := []struct {
		name, data string
		want       bool
	}{
		{"flags.json", "", true},
		{"FLAGS.JSON", "flags: {}", true},
		{"flags.yaml", `{"flags": {}}`, false},
		{"flags.yml", `{"flags": {}}`, false},
		{"<stdin>", " \n{\"flags\": {}}", true},
		{"<stdin>", "flags: {}", false},
		{"flags", "\ufeff{}", true},
	}
	for _, tt := range tests {
		if got := isJSON(tt.name, []byte(tt.data)); got != tt.want {
			t.Errorf("isJSON(%q, %q) = %v, want %v", tt.name, tt.data, got, tt.want)
		}
	}
}

// TestParseJSONErrors checks the whole message of each problem in a JSON
// file: syntax errors with line and column from encoding/json, and the
// same file:line: flag: field: messages as YAML for the rest.
func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"trailing comma in an object",
			"{\n  \"flags\": {\n    \"a\": {\"owner\": \"x\",},\n    \"b\": {}\n  }\n}\n",
			`flags.json:3: column 23: trailing comma before '}': JSON allows no comma after the last item`},
		{"trailing comma in a list",
			"{\n  \"flags\": {\n    \"a\": {\"tags\": [\"x\",\n      ]}\n  }\n}\n",
			`flags.json:3: column 23: trailing comma before ']': JSON allows no comma after the last item`},
		{"trailing comma at the end",
			"{\n  \"flags\": {}\n,\n}\n",
			`flags.json:3: column 1: trailing comma before '}': JSON allows no comma after the last item`},
		{"missing comma",
			"{\n  \"flags\": {\n    \"a\": {\n      \"default\": true\n      \"owner\": \"x\"\n    }\n  }\n}\n",
			`flags.json:5: column 7: invalid character '"' after object key:value pair; is a comma missing?`},
		{"single quotes",
			"{\"flags\": {\"a\": {\"owner\": 'x'}}}",
			`flags.json:1: column 27: invalid character '\'' looking for beginning of value`},
		{"comment",
			"{\n  # flags\n  \"flags\": {}\n}\n",
			`flags.json:2: column 3: invalid character '#' looking for beginning of object key string`},
		{"unclosed",
			"{\n  \"flags\": {\n    \"a\": {}\n",
			`flags.json:3: column 12: the file ends before its last object or array is closed`},
		{"two values",
			"{\"flags\": {}}\n{\"flags\": {}}\n",
			`flags.json:2: column 1: the file holds more than one JSON value`},
		{"too deep",
			"{\"flags\": {\"a\": {\"type\": \"object\", \"variants\": {\"x\":\n" + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "}}}}",
			`flags.json:2: column 997: objects and arrays nest more than 1000 deep`},
		{"empty", " \n", `flags.json: the file is empty; write {"flags": {}} for a file with no flags`},
		{"null", "null\n", `flags.json:1: the file is empty; write {"flags": {}} for a file with no flags`},
		{"not an object", "[1, 2]", `flags.json:1: want a mapping with the keys audiences, flags and environments, not a list`},
		{"wrong type",
			"{\n  \"flags\": {\n    \"a\": {\n      \"enabled\": \"yes\"\n    }\n  }\n}\n",
			`flags.json:4: flag "a": enabled: want true or false, not "yes"`},
		{"unknown field",
			"{\n  \"flags\": {\n    \"a\": {\"descripton\": \"x\"}\n  }\n}\n",
			`flags.json:3: flag "a": descripton: unknown field; did you mean "description"?`},
		{"duplicate key",
			"{\"flags\": {\n  \"a\": {},\n  \"a\": {}\n}}\n",
			`flags.json:3: flags.a: duplicate key "a" (first at line 2)`},
		{"unknown audience",
			"{\n  \"flags\": {\n    \"a\": {\n      \"rules\": [\n        {\"audience\": \"staf\", \"serve\": true}\n      ]\n    }\n  }\n}\n",
			`flags.json:5: flag "a": rules[0].audience: unknown audience "staf"`},
		{"split short of 100",
			"{\"flags\": {\"a\": {\n  \"type\": \"string\",\n  \"variants\": {\"x\": \"x\", \"y\": \"y\"},\n  \"fallthrough\": {\n    \"rollout\": {\"x\": 50, \"y\": 40}\n  }\n}}}\n",
			`flags.json:5: flag "a": fallthrough.rollout: percentages add up to 90, not 100`},
		{"environment",
			"{\n  \"flags\": {\"a\": {\"type\": \"string\", \"variants\": {\"x\": \"x\"}}},\n  \"environments\": {\n    \"prod\": {\n      \"a\": {\n        \"default\": \"nope\"\n      }\n    }\n  }\n}\n",
			`flags.json:6: flag "a": environments.prod.default: default names unknown variant "nope"`},
		{"int too large",
			"{\"flags\": {\"a\": {\"type\": \"int\",\n  \"variants\": {\"x\": 99999999999999999999}}}}",
			`flags.json:2: flag "a": variants.x: an int flag's variant is a whole number that fits in 64 bits, not the number 99999999999999999999`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("flags.json", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !errors.Is(err, flagon.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			if got := firstError(t, err).Error(); got != tt.want {
				t.Errorf("first error:\n got %s\nwant %s\n(all: %v)", got, tt.want, err)
			}
		})
	}
}

// TestParseJSONLikeYAML checks that a JSON file reads as the YAML file
// with the same content does, including where YAML and JSON spell
// values differently.
func TestParseJSONLikeYAML(t *testing.T) {
	tests := []struct{ name, json, yaml string }{
		{"tab indentation", "{\n\t\"flags\": {\n\t\t\"a\": {\"rollout\": 5}\n\t}\n}\n", "flags:\n  a: {rollout: 5}\n"},
		{"byte order mark", "\ufeff{\"flags\": {\"a\": true}}", "flags:\n  a: true\n"},
		{"numbers", `{"flags": {"a": {"type": "float", "variants": {"x": 1.5, "y": -2e3, "z": 0}, "default": "z"}}}`,
			"flags:\n  a:\n    type: float\n    variants: {x: 1.5, y: -2e3, z: 0}\n    default: z\n"},
		{"objects", `{"flags": {"a": {"type": "object", "variants": {"x": {"n": [1, 2.5, null, true, "s"]}}}}}`,
			"flags:\n  a:\n    type: object\n    variants: {x: {n: [1, 2.5, null, true, s]}}\n"},
		{"escapes", `{"flags": {"a": {"description": "caf\u00e9 \"x\"\n"}}}`, "flags:\n  a:\n    description: \"café \\\"x\\\"\\n\"\n"},
		{"clauses", `{"audiences": {"s": ["a == 1", {"attribute": "b", "op": "exists"}]}, "flags": {"a": {"rules": [{"audiences": ["s"], "when": "c in 1, 2", "serve": {"rollout": {"on": 1.5, "off": 98.5}, "by": "org"}}]}}}`,
			"audiences:\n  s: [\"a == 1\", {attribute: b, op: exists}]\nflags:\n  a:\n    rules:\n      - audiences: [s]\n        when: c in 1, 2\n        serve: {rollout: {on: 1.5, off: 98.5}, by: org}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Parse("flags.json", []byte(tt.json))
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			y, err := Parse("flags.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("YAML: %v", err)
			}
			if !reflect.DeepEqual(j, y) {
				t.Errorf("the JSON reads differently from the YAML:\n%s", diff(j, y))
			}
		})
	}
}

// TestParseJSONColumns checks that columns count characters, not bytes.
func TestParseJSONColumns(t *testing.T) {
	src := "{\"flags\": {\n  \"a\": {\"description\": \"naïve\"},\n  \"b\": {\"ownér\": x}\n}}\n"
	_, err := Parse("flags.json", []byte(src))
	if err == nil || !strings.HasPrefix(err.Error(), "flags.json:3: column 18: ") {
		t.Errorf("Parse: %v, want flags.json:3: column 18: ...", err)
	}
}
