// Package pending keeps hourly usage counts that wait to be stored or
// sent: summed by hour, flag, variant, environment and app, and bounded,
// so that an outage of where they go costs memory up to a limit and then
// the oldest hours. Both the remote source (which sends a client's counts
// to a server) and the server (which stores its own) keep theirs in one.
package pending

import (
	"time"

	"github.com/flagon/flagon"
)

// Counts is a bounded sum of usage counts. Its zero value is not ready:
// use New. It is not safe for concurrent use.
type Counts struct {
	max int
	m   map[flagon.UsageCount]int64 // keyed by the count with Count zero
}

// New returns empty Counts that keep at most max sums (hour, flag,
// variant, environment and app), dropping the oldest hours beyond it.
func New(max int) *Counts {
	return &Counts{max: max, m: make(map[flagon.UsageCount]int64)}
}

// Len returns how many sums are kept.
func (p *Counts) Len() int { return len(p.m) }

// Add adds counts to the sums, then drops the oldest hours while more
// than the limit are kept.
func (p *Counts) Add(counts []flagon.UsageCount) {
	for _, c := range counts {
		n := c.Count
		c.Count = 0
		p.m[c] += n
	}
	for len(p.m) > p.max {
		p.drop(p.oldest())
	}
}

// DropBefore forgets the counts of hours before t.
func (p *Counts) DropBefore(t time.Time) {
	for c := range p.m {
		if c.Hour.Before(t) {
			delete(p.m, c)
		}
	}
}

// List returns the sums, in no particular order.
func (p *Counts) List() []flagon.UsageCount {
	out := make([]flagon.UsageCount, 0, len(p.m))
	for c, n := range p.m {
		c.Count = n
		out = append(out, c)
	}
	return out
}

// Take returns the sums and forgets them.
func (p *Counts) Take() []flagon.UsageCount {
	out := p.List()
	clear(p.m)
	return out
}

// Done subtracts counts that were stored or sent (as List returned them),
// keeping what was added since.
func (p *Counts) Done(counts []flagon.UsageCount) {
	for _, c := range counts {
		n := c.Count
		c.Count = 0
		if p.m[c] -= n; p.m[c] <= 0 {
			delete(p.m, c)
		}
	}
}

func (p *Counts) oldest() time.Time {
	var t time.Time
	for c := range p.m {
		if t.IsZero() || c.Hour.Before(t) {
			t = c.Hour
		}
	}
	return t
}

func (p *Counts) drop(hour time.Time) {
	for c := range p.m {
		if c.Hour.Equal(hour) {
			delete(p.m, c)
		}
	}
}
