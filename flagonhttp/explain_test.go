package flagonhttp

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// opaqueOverrides is a user layer that is no OverrideMap, as a store of
// another shape returns.
type opaqueOverrides struct{ m flagon.OverrideMap }

func (o opaqueOverrides) Override(key string) (flagon.Override, bool) { return o.m.Override(key) }

// randomHTTPFlag returns a flag of a random type, policy and rules.
func randomHTTPFlag(rng *rand.Rand, key string) flagon.Flag {
	f := flagon.Flag{Key: key, Disabled: rng.IntN(8) == 0}
	switch rng.IntN(3) {
	case 0:
		f.Type = flagon.TypeBool
		f.Variants = []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}
	case 1:
		f.Type = flagon.TypeString
		f.Variants = []flagon.Variant{{Name: "a", Value: "alpha"}, {Name: "b", Value: "beta"}, {Name: "c", Value: "c"}}
	default:
		f.Type = flagon.TypeInt
		f.Variants = []flagon.Variant{{Name: "small", Value: int64(1)}, {Name: "big", Value: int64(100)}}
	}
	f.Default = f.Variants[rng.IntN(len(f.Variants))].Name
	f.Override.Who = []flagon.Who{flagon.WhoAnyone, flagon.WhoStaff, flagon.WhoNone}[rng.IntN(3)]
	if rng.IntN(3) == 0 {
		f.Override.Variants = []string{f.Variants[rng.IntN(len(f.Variants))].Name}
	}
	if rng.IntN(2) == 0 {
		f.Rules = []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: f.Variants[0].Name},
		}}
	}
	if rng.IntN(2) == 0 {
		f.Fallthrough = flagon.Serve{Split: []flagon.Split{{Variant: f.Variants[0].Name, Percent: 40}, {Variant: f.Variants[1].Name, Percent: 60}}}
	}
	return f
}

// randomOverrideValue returns a value to override f with, some of which f
// cannot take.
func randomOverrideValue(rng *rand.Rand, f flagon.Flag) any {
	switch rng.IntN(5) {
	case 0:
		return "stranger"
	case 1:
		return int64(7)
	case 2:
		return true
	}
	return f.Variants[rng.IntN(len(f.Variants))].Value
}

// TestOverrideLayersExplain is a property test: for random flags and
// random override layers (query, header, cookie, legacy cookies, stored
// user overrides, some stale or refused), Explain over OverrideLayers
// gives what the middleware's request evaluates, for every flag.
func TestOverrideLayersExplain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	decided := map[string]int{}
	for round := range 60 {
		var defs flagon.Definitions
		for i := range 6 {
			defs.Flags = append(defs.Flags, randomHTTPFlag(rng, fmt.Sprintf("flag-%d", i)))
		}
		client, _ := newTestClient(t, defs)
		var ec flagon.EvalContext
		var user flagon.Overrides
		opts := &Options{
			Keys: testKeys, Logger: discard, Now: fixedNow,
			Compat:        Compat{FeatureCookies: true, JSONCookie: true, Query: true},
			Context:       func(*http.Request) flagon.EvalContext { return ec },
			UserOverrides: func(*http.Request) (flagon.Overrides, error) { return user, nil },
		}
		checked := 0
		h := Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			snap := client.Snapshot()
			layers := OverrideLayers(r.Context())
			for _, f := range defs.Flags {
				want := client.Evaluate(r.Context(), f.Key)
				x := snap.Explain(f.Key, flagon.EvalContextFrom(r.Context()), layers...)
				if !reflect.DeepEqual(x.Result, want) {
					t.Errorf("round %d, flag %+v, request %v %v, layers %+v:\nExplain  %+v\nEvaluate %+v",
						round, f, r.URL, r.Header, layers, x.Result, want)
				}
				if want.Reason == flagon.ReasonOverride && x.Layer == "" {
					t.Errorf("round %d, flag %s: override with no layer named", round, f.Key)
				}
				decided[x.Layer]++
				checked++
			}
		}))
		for range 15 {
			ec = flagon.EvalContext{Key: "u" + strconv.Itoa(rng.IntN(100)), Attrs: map[string]any{"is_staff": rng.IntN(2) == 0}}
			r := httptest.NewRequest("GET", "/", nil)
			q := url.Values{}
			var cookie, header []Entry
			legacy := map[string]any{}
			um := flagon.OverrideMap{}
			for _, f := range defs.Flags {
				if rng.IntN(4) == 0 {
					q.Set("flagon."+f.Key, fmt.Sprint(randomOverrideValue(rng, f)))
				}
				if rng.IntN(3) == 0 {
					header = append(header, Entry{Flag: f.Key, Value: randomOverrideValue(rng, f), SetAt: testNow.Add(-time.Minute)})
				}
				if rng.IntN(2) == 0 {
					e := Entry{Flag: f.Key, Value: randomOverrideValue(rng, f), SetAt: testNow.Add(-time.Hour)}
					if rng.IntN(4) == 0 {
						e.ExpiresAt = testNow.Add(-time.Minute)
					}
					cookie = append(cookie, e)
				}
				if rng.IntN(4) == 0 {
					r.AddCookie(&http.Cookie{Name: legacyCookiePrefix + f.Key, Value: fmt.Sprint(randomOverrideValue(rng, f))})
				}
				if rng.IntN(4) == 0 {
					legacy[f.Key] = randomOverrideValue(rng, f)
				}
				if rng.IntN(2) == 0 {
					o := flagon.Override{Value: randomOverrideValue(rng, f), SetAt: testNow.Add(-time.Hour)}
					if rng.IntN(4) == 0 {
						o.ExpiresAt = testNow.Add(-time.Second)
					}
					um[f.Key] = o
				}
			}
			r.URL.RawQuery = q.Encode()
			if len(header) > 0 && rng.IntN(2) == 0 {
				payload, err := encodePayload(header, testNow)
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set(HeaderOverrides, seal(testKeys, purposeHeader, strconv.FormatInt(testNow.Unix(), 10)+"."+b64.EncodeToString(payload)))
			}
			if len(cookie) > 0 && rng.IntN(3) != 0 {
				r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: mustCookie(t, testCodec(), cookie...)})
			}
			if len(legacy) > 0 && rng.IntN(2) == 0 {
				b, _ := json.Marshal(legacy)
				r.AddCookie(&http.Cookie{Name: legacyJSONCookie, Value: url.QueryEscape(string(b))})
			}
			switch rng.IntN(3) {
			case 0:
				user = nil
			case 1:
				user = um
			default:
				user = opaqueOverrides{um}
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		if checked == 0 {
			t.Fatal("the handler never ran")
		}
	}
	for _, name := range []string{SourceQuery, SourceHeader, SourceCookie, SourceLegacyCookie, SourceUser, ""} {
		if decided[name] == 0 {
			t.Errorf("no evaluation was decided by layer %q: %v", name, decided)
		}
	}
}

func TestOverrideLayersNames(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.Compat = Compat{FeatureCookies: true}
	opts.UserOverrides = func(*http.Request) (flagon.Overrides, error) {
		return flagon.OverrideMap{"short": {Value: true}, "new-home-page": {Value: false}}, nil
	}
	var got []flagon.OverrideLayer
	h := Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = OverrideLayers(r.Context())
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: mustCookie(t, testCodec(), Entry{Flag: "new-home-page", Value: true})})
	r.AddCookie(&http.Cookie{Name: "features.checkout", Value: "express"})
	h.ServeHTTP(httptest.NewRecorder(), r)
	var names []string
	for _, l := range got {
		names = append(names, l.Name)
	}
	if want := []string{SourceCookie, SourceLegacyCookie, SourceUser}; !reflect.DeepEqual(names, want) {
		t.Fatalf("layers %v, want %v", names, want)
	}
	// The user's new-home-page gives way to the cookie's.
	if _, ok := got[2].Overrides.Override("new-home-page"); ok {
		t.Errorf("a shadowed override is in the user layer")
	}
	x := client.Snapshot().Explain("short", flagon.EvalContext{}, got...)
	if x.Layer != SourceUser || x.Result.Value != true {
		t.Errorf("short: %+v", x)
	}
	if OverrideLayers(r.Context()) != nil {
		t.Errorf("layers outside the middleware")
	}
}
