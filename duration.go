package flagon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as config files, the admin UI and the
// REST API write it: a Go duration ("36h", "90m") with whole days allowed
// in front ("7d", "1d12h"). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("bad duration %q: negative", s)
	}
	var d time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		days, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || days < 0 || days > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("bad duration %q: want a number of days, such as 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
		t = t[i+1:]
		if t == "" {
			return d, nil
		}
	}
	rest, err := time.ParseDuration(t)
	if err != nil || rest < 0 {
		return 0, fmt.Errorf("bad duration %q: want a duration such as 24h, 90m or 7d", s)
	}
	if d > math.MaxInt64-rest {
		return 0, fmt.Errorf("bad duration %q: too long", s)
	}
	return d + rest, nil
}

// FormatDuration writes d as ParseDuration reads it, briefly: "7d",
// "24h", "1h30m", "0s".
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d%day == 0 && (d >= 2*day || d <= -2*day) {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the policy with its MaxDuration in FormatDuration's
// form ("30d"), as config files write it.
func (p OverridePolicy) MarshalJSON() ([]byte, error) {
	type plain OverridePolicy
	v := struct {
		plain
		MaxDuration string `json:"max_duration,omitempty"`
	}{plain: plain(p)}
	if p.MaxDuration != 0 {
		v.MaxDuration = FormatDuration(p.MaxDuration)
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a policy whose max_duration is a duration string
// ("30d", "12h") or, as older stores wrote it, a number of nanoseconds.
// A field it does not know is an error, as it would be for a decoder
// that disallows unknown fields.
func (p *OverridePolicy) UnmarshalJSON(data []byte) error {
	type plain OverridePolicy
	var v struct {
		plain
		MaxDuration json.RawMessage `json:"max_duration,omitempty"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("override: %w", err)
	}
	*p = OverridePolicy(v.plain)
	p.MaxDuration = 0
	if len(v.MaxDuration) == 0 || string(v.MaxDuration) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(v.MaxDuration, &s); err == nil {
		d, err := ParseDuration(s)
		if err != nil {
			return fmt.Errorf("max_duration: %w", err)
		}
		p.MaxDuration = d
		return nil
	}
	var ns int64
	if err := json.Unmarshal(v.MaxDuration, &ns); err != nil {
		return fmt.Errorf("max_duration: want a duration such as \"30d\" or \"12h\"")
	}
	p.MaxDuration = time.Duration(ns)
	return nil
}
