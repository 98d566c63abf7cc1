package flagonhttp

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flagon/flagon"
)

// snapInfo is what the override readers need to know about a snapshot's
// flags, computed once per snapshot rather than once per request.
type snapInfo struct {
	snap       *flagon.Snapshot
	flags      map[string]*flagInfo
	production bool
}

// flagInfo is one flag's type and override policy, and its variants'
// values boxed once, so that reading an override of a variant's value does
// not allocate.
type flagInfo struct {
	key      string
	flag     flagon.Flag // normalized, in the snapshot's environment
	typ      flagon.Type
	who      flagon.Who
	maxDur   time.Duration
	values   []any          // canonical values, by variant index
	allowed  []bool         // by variant index; nil allows any value of the type
	byString map[string]int // a string flag's variant index by value
}

// infoCache holds the snapInfo of the latest snapshot seen.
type infoCache struct {
	p atomic.Pointer[snapInfo]
}

// get returns the info of s, computing it if s is new. Two goroutines may
// compute it at once; both results are correct.
func (c *infoCache) get(s *flagon.Snapshot) *snapInfo {
	if si := c.p.Load(); si != nil && si.snap == s {
		return si
	}
	si := newSnapInfo(s)
	c.p.Store(si)
	return si
}

func newSnapInfo(s *flagon.Snapshot) *snapInfo {
	si := &snapInfo{snap: s}
	if s == nil {
		return si
	}
	switch s.Environment() {
	case "production", "prod":
		si.production = true
	}
	si.flags = make(map[string]*flagInfo, s.Len())
	for _, key := range s.Keys() {
		f, _ := s.Flag(key)
		fi := &flagInfo{
			key:    key,
			flag:   f,
			typ:    f.Type,
			who:    f.Override.EffectiveWho(),
			maxDur: f.Override.EffectiveMaxDuration(),
		}
		index := make(map[string]int, len(f.Variants))
		for i, v := range f.Variants {
			val, err := flagon.ConvertValue(f.Type, v.Value)
			if err != nil {
				val = nil
			}
			fi.values = append(fi.values, val)
			index[v.Name] = i
			if str, ok := val.(string); ok {
				if fi.byString == nil {
					fi.byString = make(map[string]int)
				}
				if _, dup := fi.byString[str]; !dup {
					fi.byString[str] = i
				}
			}
		}
		if len(f.Override.Variants) > 0 {
			fi.allowed = make([]bool, len(f.Variants))
			for _, name := range f.Override.Variants {
				if i, ok := index[name]; ok {
					fi.allowed[i] = true
				}
			}
		}
		si.flags[key] = fi
	}
	return si
}

// index returns the variant index of the canonical value v, or -1.
func (fi *flagInfo) index(v any) int {
	if s, ok := v.(string); ok && fi.byString != nil {
		if i, ok := fi.byString[s]; ok {
			return i
		}
		return -1
	}
	for i, w := range fi.values {
		if flagon.ValueEqual(w, v) {
			return i
		}
	}
	return -1
}

// variantIndex returns the index of the variant with the given name, or -1.
func (fi *flagInfo) variantIndex(name string) int {
	for i, v := range fi.flag.Variants {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// permits reports whether the policy allows the value with variant index i
// (-1 for a value that is no variant).
func (fi *flagInfo) permits(i int) bool {
	return fi.allowed == nil || i >= 0 && fi.allowed[i]
}

// fromJSON returns the canonical value of the flag's type that the JSON
// text raw holds, and its variant index (-1 if none). A variant's value
// comes back boxed already. The text is decoded by encoding/json into the
// flag's Go type, so a value of another JSON type is refused.
func (fi *flagInfo) fromJSON(raw []byte) (v any, idx int, ok bool) {
	var err error
	switch fi.typ {
	case flagon.TypeBool:
		var b bool
		err = json.Unmarshal(raw, &b)
		v = b
	case flagon.TypeString:
		var s string
		err = json.Unmarshal(raw, &s)
		v = s
	case flagon.TypeInt:
		var n int64
		err = json.Unmarshal(raw, &n)
		v = n
	case flagon.TypeFloat:
		var f float64
		err = json.Unmarshal(raw, &f)
		v = f
	case flagon.TypeObject:
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, -1, false
		}
		return m, -1, true
	default:
		return nil, -1, false
	}
	if err != nil || len(raw) == 0 || raw[0] == 'n' {
		return nil, -1, false // null decodes into any Go type as its zero value
	}
	return fi.fromGo(v)
}

// fromGo returns the canonical value of the flag's type for v, a Go value
// of any type flagon.ConvertValue accepts, and its variant index.
func (fi *flagInfo) fromGo(v any) (any, int, bool) {
	cv, err := flagon.ConvertValue(fi.typ, v)
	if err != nil {
		return nil, -1, false
	}
	i := fi.index(cv)
	if i >= 0 {
		return fi.values[i], i, true
	}
	return cv, -1, true
}

// fromText returns the value that a query parameter, form field or legacy
// cookie names: the name of a variant, or a literal of the flag's type
// (true/false, a number, a string, a JSON object).
func (fi *flagInfo) fromText(s string) (any, int, bool) {
	if i := fi.variantIndex(s); i >= 0 {
		return fi.values[i], i, true
	}
	switch fi.typ {
	case flagon.TypeBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, -1, false
		}
		return fi.fromGo(b)
	case flagon.TypeString:
		return fi.fromGo(s)
	case flagon.TypeInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, -1, false
		}
		return fi.fromGo(n)
	case flagon.TypeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, -1, false
		}
		return fi.fromGo(f)
	case flagon.TypeObject:
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, -1, false
		}
		return m, -1, true
	}
	return nil, -1, false
}

// expiry returns when an override set at setAt and asking to last until
// expiresAt (zero for as long as allowed) lapses under the flag's policy:
// never later than the policy's maximum duration after it was set.
func (fi *flagInfo) expiry(setAt, expiresAt int64) int64 {
	limit := setAt + int64(fi.maxDur/time.Second)
	if expiresAt == 0 || expiresAt > limit {
		return limit
	}
	return expiresAt
}
