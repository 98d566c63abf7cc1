package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// encode returns the JSON a store keeps for a flag or an audience.
func encode(what, name string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", what, name, err)
	}
	return b, nil
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
