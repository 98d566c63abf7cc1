package flagonhttp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHeaderSize is the longest Flagon-Overrides request header read.
const maxHeaderSize = 8192

// headerSkew is how far in the future a header's issue time may be, for
// clocks that differ between services.
const headerSkew = time.Minute

// The signed Flagon-Overrides request header is sealed like the cookie,
// for its own purpose, with a body of <issued at, Unix s>.<base64url(JSON)>
// where the JSON is the cookie's. A header older than Options.HeaderMaxAge
// is refused, so that a header that leaks from a service call cannot be
// replayed for long.

// HeaderValue returns the signed Flagon-Overrides header value that passes
// the overrides of the request whose context is ctx on to a downstream
// service sharing keys, or "" when there are none. Transport sets it on
// outgoing HTTP requests; other protocols (gRPC metadata, queues) can carry
// it too.
func HeaderValue(ctx context.Context, keys *Keys, now time.Time) (string, error) {
	active := ActiveOverrides(ctx)
	if len(active) == 0 {
		return "", nil
	}
	entries := make([]Entry, len(active)) // one per flag already
	for i, a := range active {
		entries[i] = Entry{Flag: a.Flag, Value: a.Value, SetAt: a.SetAt, ExpiresAt: a.ExpiresAt}
	}
	payload, err := encodePayload(entries, now)
	if err != nil {
		return "", fmt.Errorf("flagonhttp: encode header: %w", err)
	}
	body := strconv.FormatInt(now.Unix(), 10) + "." + b64.EncodeToString(payload)
	v := seal(keys, purposeHeader, body)
	if len(v) > maxHeaderSize {
		return "", fmt.Errorf("flagonhttp: encode header: %w", ErrTooLarge)
	}
	return v, nil
}

// readHeader adds the overrides of a signed Flagon-Overrides header.
func (c *collector) readHeader(v string) {
	cfg := c.cfg
	payload, err := openHeader(cfg.opts.Keys, v, c.now, cfg.opts.HeaderMaxAge)
	if err == nil && !c.addPayload(payload, SourceHeader, nil) {
		err = ErrMalformed
	}
	if err != nil {
		cfg.warnOnce("Flagon-Overrides header", v, err)
	}
}

// openHeader verifies a header value and returns its payload.
func openHeader(keys *Keys, v string, now time.Time, maxAge time.Duration) ([]byte, error) {
	body, scratch, err := open(keys, purposeHeader, v, maxHeaderSize, nil)
	if err != nil {
		return nil, err
	}
	dot := -1
	for i, c := range body {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return nil, ErrMalformed
	}
	iat, ok := parseUnix(string(body[:dot]))
	if !ok || iat == 0 {
		return nil, ErrMalformed
	}
	issued := time.Unix(iat, 0)
	if now.Sub(issued) > maxAge || issued.Sub(now) > headerSkew {
		return nil, ErrExpired
	}
	return decodeBody(scratch, body[dot+1:])
}

// Transport is an http.RoundTripper that passes the overrides of each
// request's context on to the service it calls, in a signed
// Flagon-Overrides header, so that a page and the services behind it make
// the same decisions. The downstream service's middleware must share
// Keys. Build outgoing requests with the incoming request's context
// (http.NewRequestWithContext(r.Context(), …)).
type Transport struct {
	// Base carries the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Keys sign the header: the downstream service's key ring.
	Keys *Keys
	// Hosts, if set, limits the header to requests for these hosts (host
	// or host:port, as in the URL); otherwise every request gets it. Set
	// it when the client also calls third parties.
	Hosts []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper. It leaves a request that already
// has the header, or whose context carries no overrides, unchanged.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if OverrideCount(req.Context()) == 0 || req.Header.Get(HeaderOverrides) != "" || !t.forward(req) {
		return base.RoundTrip(req)
	}
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	v, err := HeaderValue(req.Context(), t.Keys, now)
	if err != nil || v == "" {
		// Too many overrides to pass on: the call goes without them.
		return base.RoundTrip(req)
	}
	r2 := req.Clone(req.Context())
	r2.Header.Set(HeaderOverrides, v)
	return base.RoundTrip(r2)
}

func (t *Transport) forward(req *http.Request) bool {
	if len(t.Hosts) == 0 {
		return true
	}
	for _, h := range t.Hosts {
		if strings.EqualFold(h, req.URL.Host) {
			return true
		}
	}
	return false
}

// parseUnix reads a time in Unix seconds written as decimal digits only.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 12 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
