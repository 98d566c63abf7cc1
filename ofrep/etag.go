package ofrep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/flagon/flagon"
)

// etag returns the bulk response's ETag: a hash of the snapshot's revision,
// the announced event stream's URL, the request body (so the context, byte for
// byte) and the overrides that apply. A client that sends the same context
// gets 304 until a flag or its overrides change. The body is hashed before
// it is parsed, so a 304 costs no JSON decoding; a body that is not a valid
// request never got an ETag to match.
func (h *handler) etag(body []byte, snap *flagon.Snapshot, ov flagon.Overrides, r *http.Request) string {
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], snap.Revision()...)
	b = append(b, 0)
	// What the event stream's announced URL depends on.
	switch {
	case h.opts.DisableEvents:
	case h.opts.EventsURL != "":
		b = append(b, h.opts.EventsURL...)
	default:
		b = append(b, scheme(r)...)
		b = append(b, r.Host...)
	}
	b = append(b, 0)
	b = append(b, body...)
	b = append(b, 0)
	b = appendOverrides(b, ov, snap)
	*bp = b[:0]
	sum := sha256.Sum256(b)
	var out [34]byte
	out[0], out[33] = '"', '"'
	hex.Encode(out[1:33], sum[:16])
	return string(out[:])
}

// appendOverrides appends a canonical form of the overrides that apply to
// snap's flags.
func appendOverrides(b []byte, ov flagon.Overrides, snap *flagon.Snapshot) []byte {
	switch o := ov.(type) {
	case nil:
		return b
	case flagon.OverrideMap:
		if len(o) == 0 {
			return b
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendOverride(b, k, o[k])
		}
		return b
	}
	// An Overrides that cannot be listed: ask it about every flag.
	for _, k := range snap.Keys() {
		if o, ok := ov.Override(k); ok {
			b = appendOverride(b, k, o)
		}
	}
	return b
}

func appendOverride(b []byte, key string, o flagon.Override) []byte {
	return fmt.Appendf(b, "%s\x00%T:%v\x00%s\x00", key, o.Value, o.Value, o.Source)
}

// etagMatch reports whether an If-None-Match header names etag, weakly
// compared, or is "*".
func etagMatch(header []string, etag string) bool {
	for _, h := range header {
		for h != "" {
			var tag string
			tag, h, _ = strings.Cut(h, ",")
			tag = strings.TrimSpace(tag)
			tag = strings.TrimPrefix(tag, "W/")
			if tag == etag || tag == "*" {
				return true
			}
		}
	}
	return false
}
