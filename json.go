package flagon

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// UnmarshalFlag decodes a flag from its encoding/json form into f, with
// its variant values in their canonical Go types (int64 for an int flag,
// exactly, even beyond 2^53), so that a store that keeps flags as JSON
// gets back what it was given; flagontest.TestStore checks that it does.
// Clause values come back as encoding/json gives them (float64, string,
// bool), which evaluation treats the same as the originals. A variant
// value that does not fit the flag's type is kept as decoded, for
// Validate to report.
func UnmarshalFlag(data []byte, f *Flag) error {
	var v struct {
		Type     Type `json:"type"`
		Variants []struct {
			Value json.RawMessage `json:"value"`
		} `json:"variants"`
	}
	if err := json.Unmarshal(data, f); err != nil {
		return err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	t := f.Type
	if t == "" {
		t = TypeBool
	}
	for i := range f.Variants {
		if i < len(v.Variants) {
			f.Variants[i].Value = decodeTyped(t, v.Variants[i].Value)
		}
	}
	return nil
}

// decodeTyped decodes raw as a value of type t, exactly, or as
// encoding/json would when it is not one.
func decodeTyped(t Type, raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	if v, err := UnmarshalValue(t, raw); err == nil {
		return v
	}
	var v any
	_ = json.Unmarshal(raw, &v) // raw is valid JSON: the outer decode checked it
	return v
}

// MarshalValue returns the type and JSON of an override's or share link's
// value, so that UnmarshalValue gives back the same canonical Go value:
// an int64 comes back an int64, exactly. Stores keep both.
func MarshalValue(v any) (Type, []byte, error) {
	var t Type
	switch n := v.(type) {
	case nil:
		return "", nil, fmt.Errorf("no value")
	case bool:
		t = TypeBool
	case string:
		t = TypeString
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		t = TypeInt
	case float32, float64:
		t = TypeFloat
	case json.Number:
		t = TypeFloat
		if _, err := n.Int64(); err == nil {
			t = TypeInt
		}
	case map[string]any:
		t = TypeObject
	default:
		return "", nil, fmt.Errorf("unsupported value type %T (want bool, string, number or map[string]any)", v)
	}
	cv, err := ConvertValue(t, v)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(cv)
	if err != nil {
		return "", nil, fmt.Errorf("encode value: %w", err)
	}
	return t, b, nil
}

// UnmarshalValue reads a value of type t that MarshalValue wrote.
func UnmarshalValue(t Type, data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	if t == TypeInt || t == TypeFloat {
		d.UseNumber()
	}
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode %s value: %w", t, err)
	}
	return ConvertValue(t, v)
}
