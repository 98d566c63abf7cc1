package ofrep

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/flagon/flagon"
)

// reason returns the protocol's reason for a flagon reason. OVERRIDE is not
// among the protocol's reasons: an override is a per-request targeting
// decision, so it is TARGETING_MATCH (STATIC would tell caching clients
// that everyone gets the value), and the metadata says it was an override.
func reason(r flagon.Reason) string {
	switch r {
	case flagon.ReasonStatic, flagon.ReasonDefault, flagon.ReasonTargetingMatch, flagon.ReasonSplit, flagon.ReasonDisabled:
		return string(r)
	case flagon.ReasonOverride:
		return string(flagon.ReasonTargetingMatch)
	}
	return "UNKNOWN"
}

// appendSuccess appends a serverEvaluationSuccess object for r. meta is the
// flag's own metadata, already encoded as object members.
func appendSuccess(b []byte, r *flagon.Result, meta []byte) ([]byte, error) {
	b = append(b, `{"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"value":`...)
	b, err := appendValue(b, r.Value)
	if err != nil {
		return b, fmt.Errorf("flag %q: encoding its value: %w", r.Key, err)
	}
	b = append(b, `,"reason":"`...)
	b = append(b, reason(r.Reason)...)
	b = append(b, '"')
	if r.Variant != "" {
		b = append(b, `,"variant":`...)
		b = appendString(b, r.Variant)
	}
	b = append(b, `,"metadata":{`...)
	b = append(b, meta...)
	sep := len(meta) > 0
	if r.Reason == flagon.ReasonOverride {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"override":true,"overrideSource":`...)
		b = appendString(b, r.OverrideSource)
		sep = true
	}
	if r.RuleID != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"ruleId":`...)
		b = appendString(b, r.RuleID)
	}
	return append(b, "}}"...), nil
}

// Metadata keys the handler sets itself; a flag's own metadata under these
// names is left out.
var reservedMeta = map[string]bool{"override": true, "overrideSource": true, "ruleId": true}

// appendMetadata appends a flag's metadata as object members, sorted by key.
func appendMetadata(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !reservedMeta[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return b
}

// appendValue appends a flag value as JSON.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("%v is not a JSON number", x)
		}
		return appendFloat(b, x), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendInt(b []byte, i int64) []byte { return strconv.AppendInt(b, i, 10) }

func itoa(i int) string { return strconv.Itoa(i) }

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does:
// quotes, backslashes, control characters, <, > and &, U+2028 and U+2029;
// invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
