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
// the announced event stream's URL, the hash of the request body (so the
// context, byte for byte; see contextHash) and the overrides that apply. A
// client that sends the same context gets 304 until a flag or its overrides
// change. The body is hashed before it is parsed, so a 304 costs no JSON
// decoding; a body that is not a valid request never got an ETag to match.
//
// The event stream computes the same ETag for each new snapshot from the
// context hash its URL carries and its own request's overrides, so that its
// events name the ETag a client's bulk request would now get, and a client
// whose flags did not change need not refetch.
func (h *handler) etag(ctxHash string, snap *flagon.Snapshot, ov flagon.Overrides, r *http.Request) string {
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], snap.Revision()...)
	b = append(b, 0)
	b = append(b, h.eventsBase(r)...)
	b = append(b, 0)
	b = append(b, ctxHash...)
	b = append(b, 0)
	b = appendOverrides(b, ov, snap)
	*bp = b[:0]
	sum := sha256.Sum256(b)
	var out [34]byte
	out[0], out[33] = '"', '"'
	hex.Encode(out[1:33], sum[:16])
	return string(out[:])
}

// contextHashLen is the length of a context hash: 32 hex digits.
const contextHashLen = 32

// contextHash returns the hash of a bulk request's body that the ETag
// covers and the announced event stream's URL carries (in its context
// query parameter).
func contextHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:contextHashLen/2])
}

// validContextHash reports whether s is a context hash as contextHash
// writes it.
func validContextHash(s string) bool {
	if len(s) != contextHashLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
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
