package ofrep

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// admit checks the request's API key and rate limit, and answers it if it
// may not proceed.
func (h *handler) admit(w http.ResponseWriter, r *http.Request) bool {
	client := ""
	if len(h.keys) > 0 {
		key, ok := apiKey(r)
		if i := h.streamToken(r); !ok && i >= 0 {
			key, ok = "", true
			client = h.names[i]
		} else if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ofrep"`)
			h.fail(w, "", &failure{code: codeUnauthorized}, false)
			return false
		}
		if client == "" {
			i := h.matchKey(key)
			if i < 0 {
				h.fail(w, "", &failure{code: codeForbidden}, false)
				return false
			}
			client = h.names[i]
		}
	}
	if h.limit == nil {
		return true
	}
	if client == "" {
		client = "ip:" + remoteIP(r)
	}
	wait, ok := h.limit(r, client)
	if ok {
		return true
	}
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	h.fail(w, "", &failure{code: codeRateLimited}, false)
	return false
}

// apiKey returns the key in the X-API-Key header, or the token of an
// "Authorization: Bearer" header.
func apiKey(r *http.Request) (string, bool) {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k, true
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// matchKey returns the index of key among the configured keys, or -1. It
// compares hashes, so its time depends on neither the key's length nor its
// content, and it always compares with every key.
func (h *handler) matchKey(key string) int {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range h.keys {
		if subtle.ConstantTimeCompare(sum[:], h.keys[i][:]) == 1 && found < 0 {
			found = i
		}
	}
	return found
}

// eventsToken returns the token that lets a browser's EventSource, which
// cannot send headers, open the event stream for one context: an HMAC of
// the context hash under the hash of the API key the bulk request came
// with. It grants that stream alone, and shows nothing of the key.
func eventsToken(keyHash [sha256.Size]byte, ctxHash string) string {
	m := hmac.New(sha256.New, keyHash[:])
	m.Write([]byte("ofrep-events:"))
	m.Write([]byte(ctxHash))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// streamToken returns the index of the key whose events token r carries
// for its context, or -1: only for GET of the event stream.
func (h *handler) streamToken(r *http.Request) int {
	if r.Method != http.MethodGet || r.URL.Path != EventsPath {
		return -1
	}
	q := r.URL.Query()
	tok, ctx := q.Get("token"), q.Get("context")
	if tok == "" {
		return -1
	}
	found := -1
	for i := range h.keys {
		if subtle.ConstantTimeCompare([]byte(eventsToken(h.keys[i], ctx)), []byte(tok)) == 1 && found < 0 {
			found = i
		}
	}
	return found
}

// remoteIP returns the host part of the request's remote address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// buckets is a token bucket per client.
type buckets struct {
	mu    sync.Mutex
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the number of clients tracked; past it, buckets that
// have refilled are forgotten (a full bucket is the same as a new one).
const maxBuckets = 10000

func newBuckets(rate float64, burst int, now func() time.Time) *buckets {
	b := &buckets{rate: rate, burst: float64(burst), now: now, m: map[string]*bucket{}}
	if burst <= 0 {
		b.burst = math.Max(1, math.Ceil(rate))
	}
	return b
}

// take spends a token of client's bucket, or says how long until one is
// there.
func (b *buckets) take(_ *http.Request, client string) (time.Duration, bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.m[client]
	if bk == nil {
		if len(b.m) >= maxBuckets {
			b.sweep(now)
		}
		bk = &bucket{tokens: b.burst, last: now}
		b.m[client] = bk
	}
	bk.tokens = math.Min(b.burst, bk.tokens+now.Sub(bk.last).Seconds()*b.rate)
	bk.last = now
	if bk.tokens >= 1 {
		bk.tokens--
		return 0, true
	}
	return time.Duration((1 - bk.tokens) / b.rate * float64(time.Second)), false
}

// sweep forgets the buckets that are full again and, if that is not
// enough, any buckets, so that the map stays bounded. A forgotten client
// starts again with a full burst.
func (b *buckets) sweep(now time.Time) {
	for k, bk := range b.m {
		if bk.tokens+now.Sub(bk.last).Seconds()*b.rate >= b.burst {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < maxBuckets*9/10 {
			break
		}
		delete(b.m, k)
	}
}
