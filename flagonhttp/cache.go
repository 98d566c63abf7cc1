package flagonhttp

import (
	"hash/maphash"
	"sync/atomic"
)

// cookieCacheSlots is the number of cookies a cookieCache remembers.
const cookieCacheSlots = 512

// cookieCache remembers recently verified cookies and what they hold, so
// that the cookie a browser sends with every request is verified and
// parsed once rather than on each request. It is keyed by the cookie's
// exact value and the snapshot its entries were judged against; only
// cookies that verified and parsed are kept. It is direct-mapped and
// lock-free: a slot holds one cookie, and a new cookie that hashes to a
// full slot replaces the old one.
type cookieCache struct {
	seed  maphash.Seed
	slots [cookieCacheSlots]atomic.Pointer[cachedCookie]
}

// cachedCookie is one verified cookie: the entries that were active when
// it was read, for the snapshot si.
type cachedCookie struct {
	value   string
	si      *snapInfo
	entries []cachedEntry
}

type cachedEntry struct {
	key       string // the flag's own key string
	value     any
	setAt     int64
	expiresAt int64
}

func newCookieCache() *cookieCache {
	return &cookieCache{seed: maphash.MakeSeed()}
}

func (c *cookieCache) slot(v string) *atomic.Pointer[cachedCookie] {
	return &c.slots[maphash.String(c.seed, v)%cookieCacheSlots]
}

// get returns the cached reading of cookie value v for si, or nil.
func (c *cookieCache) get(v string, si *snapInfo) *cachedCookie {
	cc := c.slot(v).Load()
	if cc == nil || cc.si != si || cc.value != v {
		return nil
	}
	return cc
}

func (c *cookieCache) put(cc *cachedCookie) {
	c.slot(cc.value).Store(cc)
}
