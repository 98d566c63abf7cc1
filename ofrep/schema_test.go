package ofrep_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// This file checks responses against testdata/ofrep.schema.json, the
// protocol's response shapes written down as a JSON Schema. The validator
// knows the subset the file uses: $ref to #/definitions, type (one or a
// list), required, properties, additionalProperties (false or a schema),
// enum, oneOf and items.

// schema is one JSON Schema node.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 typeList           `json:"type"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Enum                 []any              `json:"enum"`
	OneOf                []*schema          `json:"oneOf"`
	Items                *schema            `json:"items"`
	Definitions          map[string]*schema `json:"definitions"`
}

// typeList is "type": a name or a list of names.
type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = typeList{s}
		return nil
	}
	var l []string
	err := json.Unmarshal(b, &l)
	*t = l
	return err
}

var (
	schemaOnce sync.Once
	schemaRoot *schema
	schemaErr  error
)

func loadSchema(t testing.TB) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		b, err := os.ReadFile("testdata/ofrep.schema.json")
		if err != nil {
			schemaErr = err
			return
		}
		schemaRoot = new(schema)
		schemaErr = json.Unmarshal(b, schemaRoot)
	})
	if schemaErr != nil {
		t.Fatalf("loading the schema: %v", schemaErr)
	}
	return schemaRoot
}

// checkSchema fails t unless body is valid JSON that the named definition
// accepts, and returns the decoded body.
func checkSchema(t testing.TB, body []byte, def string) map[string]any {
	t.Helper()
	root := loadSchema(t)
	s, ok := root.Definitions[def]
	if !ok {
		t.Fatalf("schema has no definition %q", def)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, body)
	}
	if errs := validate(root, s, v, "$"); len(errs) > 0 {
		t.Fatalf("response does not match %s:\n\t%s\nbody: %s", def, strings.Join(errs, "\n\t"), body)
	}
	m, _ := v.(map[string]any)
	return m
}

// validate returns the ways v fails s, each prefixed with its path.
func validate(root, s *schema, v any, path string) []string {
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
		target := root.Definitions[name]
		if !ok || target == nil {
			return []string{path + ": unresolvable $ref " + s.Ref}
		}
		return validate(root, target, v, path)
	}
	var errs []string
	if len(s.Type) > 0 && !slices.ContainsFunc(s.Type, func(t string) bool { return hasType(v, t) }) {
		return []string{fmt.Sprintf("%s: %s is not of type %s", path, kind(v), strings.Join(s.Type, "|"))}
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, s.Enum))
	}
	if len(s.OneOf) > 0 {
		n := 0
		var why []string
		for i, alt := range s.OneOf {
			if e := validate(root, alt, v, path); len(e) == 0 {
				n++
			} else {
				why = append(why, fmt.Sprintf("alternative %d: %s", i+1, strings.Join(e, "; ")))
			}
		}
		if n != 1 {
			errs = append(errs, fmt.Sprintf("%s: matches %d of oneOf's alternatives, want 1 (%s)", path, n, strings.Join(why, " | ")))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %q is missing", path, r))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "." + k
			if ps, ok := s.Properties[k]; ok {
				errs = append(errs, validate(root, ps, x[k], p)...)
				continue
			}
			switch ap := bytes.TrimSpace(s.AdditionalProperties); {
			case len(ap) == 0 || string(ap) == "true":
			case string(ap) == "false":
				errs = append(errs, fmt.Sprintf("%s: property not allowed", p))
			default:
				var as schema
				if err := json.Unmarshal(ap, &as); err != nil {
					errs = append(errs, fmt.Sprintf("%s: bad additionalProperties: %v", path, err))
					continue
				}
				errs = append(errs, validate(root, &as, x[k], p)...)
			}
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				errs = append(errs, validate(root, s.Items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// hasType reports whether a value decoded with UseNumber has the JSON
// Schema type t.
func hasType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case json.Number:
		if t == "number" {
			return true
		}
		if t == "integer" {
			_, err := x.Int64()
			return err == nil
		}
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestSchemaValidator shows that the validator refuses what the protocol
// does not allow, so that passing it means something.
func TestSchemaValidator(t *testing.T) {
	root := loadSchema(t)
	tests := []struct {
		def, doc string
		valid    bool
	}{
		{"evaluationSuccess", `{"key":"a","value":true,"reason":"STATIC","variant":"on","metadata":{"x":1,"y":"z","b":false}}`, true},
		{"evaluationSuccess", `{"key":"a","value":{"n":1}}`, true},
		{"evaluationSuccess", `{"key":"a"}`, false},                                    // no value
		{"evaluationSuccess", `{"key":"a","value":null}`, false},                       // null value
		{"evaluationSuccess", `{"key":"a","value":[1]}`, false},                        // array value
		{"evaluationSuccess", `{"key":"a","value":1,"reason":"OVERRIDE"}`, false},      // not a protocol reason
		{"evaluationSuccess", `{"key":"a","value":1,"metadata":{"m":{"n":1}}}`, false}, // nested metadata
		{"evaluationSuccess", `{"key":"a","value":1,"Reason":"STATIC"}`, false},        // misspelt field
		{"evaluationFailure", `{"key":"a","errorCode":"PARSE_ERROR","errorDetails":"x"}`, true},
		{"evaluationFailure", `{"key":"a","errorCode":"FLAG_NOT_FOUND"}`, false},
		{"flagNotFound", `{"key":"a","errorCode":"FLAG_NOT_FOUND"}`, true},
		{"bulkEvaluationSuccess", `{"flags":[{"key":"a","value":1},{"key":"b","errorCode":"GENERAL"}]}`, true},
		{"bulkEvaluationSuccess", `{"flags":[{"key":"a","value":1,"errorCode":"GENERAL"}]}`, false}, // neither alternative
		{"bulkEvaluationSuccess", `{"flags":[],"refreshConnections":[{"type":"sse","url":"http://x","inactivityDelaySec":1.5}]}`, false},
		{"bulkEvaluationFailure", `{"errorCode":"INVALID_CONTEXT"}`, true},
		{"generalErrorResponse", `{"errorDetails":"boom"}`, true},
		{"configurationResponse", `{"name":"x","capabilities":{"flagEvaluation":{"supportedTypes":["int","decimal"]}}}`, false},
	}
	for _, tt := range tests {
		d := json.NewDecoder(strings.NewReader(tt.doc))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", tt.doc, err)
		}
		errs := validate(root, root.Definitions[tt.def], v, "$")
		if got := len(errs) == 0; got != tt.valid {
			t.Errorf("%s %s: valid = %v, want %v (%v)", tt.def, tt.doc, got, tt.valid, errs)
		}
	}
}
