package sqlstore

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flagon/flagon"
)

// EncodeFlag returns the JSON a store keeps for f.
func EncodeFlag(f flagon.Flag) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode flag %q: %w", f.Key, err)
	}
	return b, nil
}

// DecodeFlag reads a flag that EncodeFlag wrote. Variant values come back
// in their canonical Go types (int64 for an int flag, exactly, even beyond
// 2^53); clause values come back as encoding/json gives them (float64,
// string, bool), which evaluation treats the same as the originals.
func DecodeFlag(data []byte) (flagon.Flag, error) {
	var f flagon.Flag
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("decode flag: %w", err)
	}
	var exact struct {
		Variants []struct {
			Value json.RawMessage `json:"value"`
		} `json:"variants"`
	}
	if f.Type == flagon.TypeInt {
		_ = json.Unmarshal(data, &exact) // the first decode succeeded, so this one does too
	}
	for i, v := range f.Variants {
		if i < len(exact.Variants) {
			if n, ok := number(exact.Variants[i].Value); ok {
				v.Value = n
			}
		}
		if cv, err := flagon.ConvertValue(f.Type, v.Value); err == nil {
			v.Value = cv
		}
		f.Variants[i] = v
	}
	return f, nil
}

// number returns raw as a json.Number, if it is one.
func number(raw json.RawMessage) (json.Number, bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", false
	}
	n, ok := v.(json.Number)
	return n, ok
}

// EncodeValue returns the type and JSON of an override or share-link
// value, so that DecodeValue can give back the same canonical Go value.
func EncodeValue(v any) (flagon.Type, []byte, error) {
	var t flagon.Type
	switch n := v.(type) {
	case nil:
		return "", nil, fmt.Errorf("no value")
	case bool:
		t = flagon.TypeBool
	case string:
		t = flagon.TypeString
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		t = flagon.TypeInt
	case float32, float64:
		t = flagon.TypeFloat
	case json.Number:
		t = flagon.TypeFloat
		if _, err := n.Int64(); err == nil {
			t = flagon.TypeInt
		}
	case map[string]any:
		t = flagon.TypeObject
	default:
		return "", nil, fmt.Errorf("unsupported value type %T (want bool, string, number or map[string]any)", v)
	}
	cv, err := flagon.ConvertValue(t, v)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(cv)
	if err != nil {
		return "", nil, fmt.Errorf("encode value: %w", err)
	}
	return t, b, nil
}

// DecodeValue reads a value that EncodeValue wrote.
func DecodeValue(t flagon.Type, data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	if t == flagon.TypeInt || t == flagon.TypeFloat {
		d.UseNumber()
	}
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode %s value: %w", t, err)
	}
	return flagon.ConvertValue(t, v)
}

// Now returns the current time as stores keep times: UTC, to the
// microsecond (PostgreSQL's precision).
func Now() time.Time { return Round(time.Now()) }

// Round returns t as stores keep times: UTC, to the microsecond; the zero
// time stays zero.
func Round(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(time.Microsecond)
}

// SQLiteTimeLayout is the fixed-width text form of times in SQLite
// columns, so that text order is time order.
const SQLiteTimeLayout = "2006-01-02T15:04:05.000000Z"

// scanTime reads a time column: time.Time from PostgreSQL, text from
// SQLite; NULL gives the zero time.
type scanTime struct{ t *time.Time }

func (s scanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("cannot read %T as a time", src)
	}
	return nil
}

func (s scanTime) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("bad time %q: %w", v, err)
	}
	*s.t = t.UTC()
	return nil
}

// nullTime is a time argument that is NULL when zero.
func (s *Store) timeArg(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	return s.d.Time(Round(t))
}

// EncodeAudience returns the JSON a store keeps for a.
func EncodeAudience(a flagon.Audience) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode audience %q: %w", a.Name, err)
	}
	return b, nil
}

// DecodeAudience reads an audience that EncodeAudience wrote.
func DecodeAudience(data []byte) (flagon.Audience, error) {
	var a flagon.Audience
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("decode audience: %w", err)
	}
	return a, nil
}
