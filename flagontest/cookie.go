package flagontest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// OverrideCookie returns a signed override cookie that sets each flag in
// values to its value (a bool, string, integer, float or map[string]any),
// for a request to a handler behind flagonhttp.Middleware(client, opts).
// Pass the middleware's opts, so that the cookie has its name and is
// signed with its keys; nil for both means the defaults and the
// per-process key. Each override lasts as long as its flag's policy
// allows. It fails t if the cookie cannot be made.
//
//	r := httptest.NewRequest("GET", "/", nil)
//	r.AddCookie(flagontest.OverrideCookie(t, opts, map[string]any{"new-home-page": true}))
//
// The middleware still applies each flag's override policy: a flag that
// only staff may override needs a request that opts.CanOverride allows.
func OverrideCookie(t testing.TB, opts *flagonhttp.Options, values map[string]any) *http.Cookie {
	t.Helper()
	entries := make([]flagonhttp.Entry, 0, len(values))
	for _, key := range slices.Sorted(maps.Keys(values)) {
		v, err := cookieValue(values[key])
		if err != nil {
			t.Fatalf("flagontest: OverrideCookie: flag %q: %v", key, err)
		}
		entries = append(entries, flagonhttp.Entry{Flag: key, Value: v})
	}
	if len(entries) == 0 {
		t.Fatalf("flagontest: OverrideCookie: no overrides")
	}
	ck, err := flagonhttp.NewCodec(opts).Cookie(nil, entries)
	if err != nil {
		t.Fatalf("flagontest: OverrideCookie: %v", err)
	}
	return ck
}

// cookieValue returns v in the canonical form of its flag type.
func cookieValue(v any) (any, error) {
	var typ flagon.Type
	switch v.(type) {
	case bool:
		typ = flagon.TypeBool
	case string:
		typ = flagon.TypeString
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		typ = flagon.TypeInt
	case float64, float32:
		typ = flagon.TypeFloat
	case map[string]any:
		typ = flagon.TypeObject
	default:
		return nil, fmt.Errorf("cannot override with %v (%T): want a bool, string, integer, float or map[string]any", v, v)
	}
	return flagon.ConvertValue(typ, v)
}
