package flagonhttp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/flagon/flagon"
)

// The names of the legacy override formats that Compat switches on.
const (
	legacyCookiePrefix = "features."     // features.<flag>=true|false
	legacyJSONCookie   = "feature_flags" // {"flag": value, …}
	queryPrefix        = "flagon."       // ?flagon.<flag>=<variant or value>
)

// maxLegacySize bounds the legacy JSON cookie that is parsed.
const maxLegacySize = 4096

// addUnsigned adds an override from an unsigned source: only for flags
// whose policy is anyone, and only to values the policy allows.
func (c *collector) addUnsigned(name, text string, source string) bool {
	fi := c.si.flags[name]
	if fi == nil || fi.who != flagon.WhoAnyone {
		return false
	}
	v, i, ok := fi.fromText(text)
	if !ok || !fi.permits(i) {
		return false
	}
	c.get().add(fi.key, v, source, 0, 0)
	return true
}

// readQuery adds the overrides of ?flagon.<flag>=… parameters.
func (c *collector) readQuery(r *http.Request) {
	q, _ := url.ParseQuery(r.URL.RawQuery) // keep what parses
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, queryPrefix); ok && len(vs) > 0 {
			c.addUnsigned(name, vs[0], SourceQuery)
		}
	}
}

// readLegacy adds the overrides of the features.<flag> cookies and the
// feature_flags JSON cookie, as Compat allows.
func (c *collector) readLegacy(r *http.Request) {
	added := false
	if c.cfg.opts.Compat.FeatureCookies {
		for _, ck := range r.Cookies() {
			if name, ok := strings.CutPrefix(ck.Name, legacyCookiePrefix); ok {
				c.nextLayer(layerLegacy) // a name sent twice (two paths): the first wins
				added = c.addUnsigned(name, ck.Value, SourceLegacyCookie) || added
			}
		}
	}
	if c.cfg.opts.Compat.JSONCookie {
		if v, ok := cookieValue(r.Header, legacyJSONCookie); ok {
			c.nextLayer(layerLegacy)
			added = c.readLegacyJSON(v) || added
		}
	}
	if added {
		c.get().addVary("Cookie")
	}
}

func (c *collector) readLegacyJSON(raw string) bool {
	v := raw
	if len(v) > maxLegacySize {
		c.cfg.warnOnce("feature_flags cookie", raw, ErrTooLarge)
		return false
	}
	if strings.HasPrefix(v, "%") {
		var err error
		if v, err = url.QueryUnescape(v); err != nil {
			c.cfg.warnOnce("feature_flags cookie", raw, ErrMalformed)
			return false
		}
	}
	d := json.NewDecoder(strings.NewReader(v))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || d.More() {
		if err == nil {
			err = errors.New("trailing data")
		}
		c.cfg.warnOnce("feature_flags cookie", raw, err, slog.String("cookie", legacyJSONCookie))
		return false
	}
	added := false
	for key, val := range m {
		name := key
		if c.si.flags[name] == nil {
			name = strings.ReplaceAll(key, "_", "-")
		}
		fi := c.si.flags[name]
		if fi == nil || fi.who != flagon.WhoAnyone {
			continue
		}
		var cv any
		var i int
		var ok bool
		if s, isString := val.(string); isString && fi.typ != flagon.TypeString {
			cv, i, ok = fi.fromText(s)
		} else {
			cv, i, ok = fi.fromGo(val)
		}
		if !ok || !fi.permits(i) {
			continue
		}
		c.get().add(fi.key, cv, SourceLegacyCookie, 0, 0)
		added = true
	}
	return added
}
