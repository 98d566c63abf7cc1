package flagon

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Usage counting: a Client counts every evaluation it makes, per flag,
// variant and reason, so that a shipper can report UsageCounts and a
// metrics exporter can show which flags serve what.
//
// Each snapshot lays its flags' counters out once, when it compiles:
// flag f owns (len(f.variants)+1) × numReasons consecutive slots, one per
// variant (the last for "no variant") and reason. A client allocates one
// table of atomic counters per snapshot it installs, so an evaluation
// costs one atomic add into memory fixed by the definitions. Evaluations of
// keys the snapshot does not have all go to one counter, so callers
// cannot grow memory by inventing keys.

// The reasons' slots, in Reason order.
var usageReasons = [...]Reason{
	ReasonStatic, ReasonDefault, ReasonTargetingMatch, ReasonSplit,
	ReasonDisabled, ReasonOverride, ReasonError,
}

const numReasons = len(usageReasons)

// reasonSlot returns the slot of reason r; unknown reasons count as
// ERROR.
func reasonSlot(r Reason) int {
	switch r {
	case ReasonStatic:
		return 0
	case ReasonDefault:
		return 1
	case ReasonTargetingMatch:
		return 2
	case ReasonSplit:
		return 3
	case ReasonDisabled:
		return 4
	case ReasonOverride:
		return 5
	}
	return 6
}

// layoutUsage gives each flag the offset of its counters in a usage
// table, in key order, and the counter of its fixed result if it has
// one, and records the table's length.
func (s *Snapshot) layoutUsage() {
	n := 0
	for _, f := range s.list {
		f.usage = n
		if f.fixed != nil {
			f.fixedSlot = n + f.variantNamed(f.fixed.name)*numReasons + reasonSlot(f.fixedReason)
		}
		n += (len(f.variants) + 1) * numReasons
	}
	s.usageLen = n
}

// usageTable is a client's counters for one snapshot.
type usageTable struct {
	snap    *Snapshot
	counts  []atomic.Int64 // laid out by layoutUsage
	unknown *atomic.Int64  // the client's counter of unknown keys
}

// clientState is what a client evaluates: a snapshot, and the table that
// counts its evaluations (nil when counting is off or there is no
// snapshot yet). The two are swapped together, so an evaluation always
// counts into the table of the snapshot it read.
type clientState struct {
	snap  *Snapshot
	usage *usageTable
}

// usageRef is what an evaluation counts into: the table and the flag,
// nil when the key is unknown.
type usageRef struct {
	t *usageTable
	f *cflag
}

// count counts one evaluation with result r. An evaluation with an error
// code counts with no variant: the caller got its own default.
func (u usageRef) count(r *Result) {
	if u.t == nil {
		return
	}
	if u.f == nil {
		u.t.unknown.Add(1)
		return
	}
	u.t.add(u.f, r)
}

func (t *usageTable) add(f *cflag, r *Result) {
	v := len(f.variants)
	if r.ErrorCode == ErrorNone && r.Variant != "" {
		for i := range f.variants {
			if f.variants[i].name == r.Variant {
				v = i
				break
			}
		}
	}
	t.counts[f.usage+v*numReasons+reasonSlot(r.Reason)].Add(1)
}

// UsageDetail is how many evaluations through a Client served one variant
// of one flag for one reason since the counts were last taken.
type UsageDetail struct {
	Flag        string
	Variant     string // empty when no variant was served: an error, an override value that is no variant
	Reason      Reason
	Environment string // the environment of the snapshot evaluated
	Count       int64
}

// usageState is a client's bookkeeping of counts between takes.
type usageState struct {
	mu sync.Mutex
	// retired are the tables of snapshots swapped out that an evaluation
	// may still count into.
	retired []retiredTable
	// pending holds the last counts of retired tables dropped at a swap,
	// until the next take. Its keys (Count zero) are bounded by the
	// flags, variants and reasons of the definitions.
	pending map[UsageDetail]int64
}

// retiredTable keeps a swapped-out table's counters and snapshot, but its
// usageTable only weakly: evaluations reach the counters through the
// usageTable alone, so once the collector has cleared the weak pointer no
// evaluation can count into them any more, and one last harvest takes
// everything.
type retiredTable struct {
	counts *usageTable // a copy that shares the counters; never handed to evaluations
	live   weak.Pointer[usageTable]
}

// retire keeps t, the table of a snapshot just swapped out, for the next
// takes, and drops retired tables no evaluation can reach any more,
// keeping their last counts in pending.
func (c *Client) retire(t *usageTable) {
	u := &c.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	kept := u.retired[:0]
	for _, rt := range u.retired {
		if rt.live.Value() != nil {
			kept = append(kept, rt)
			continue
		}
		if u.pending == nil {
			u.pending = make(map[UsageDetail]int64)
		}
		rt.counts.harvest(func(d UsageDetail) {
			n := d.Count
			d.Count = 0
			u.pending[d] += n
		})
	}
	clear(u.retired[len(kept):])
	u.retired = append(kept, retiredTable{
		counts: &usageTable{snap: t.snap, counts: t.counts},
		live:   weak.Make(t),
	})
}

// harvest reads and resets every nonzero counter of t, calling fn with
// each, Count set and the key fields filled in.
func (t *usageTable) harvest(fn func(UsageDetail)) {
	env := t.snap.env
	for _, f := range t.snap.list {
		for v := 0; v <= len(f.variants); v++ {
			variant := ""
			if v < len(f.variants) {
				variant = f.variants[v].name
			}
			for r := range numReasons {
				n := t.counts[f.usage+v*numReasons+r].Swap(0)
				if n == 0 {
					continue
				}
				fn(UsageDetail{Flag: f.key, Variant: variant, Reason: usageReasons[r], Environment: env, Count: n})
			}
		}
	}
}

// TakeUsageDetail returns the client's evaluations since the last take,
// per flag, variant, reason and environment, and resets them. It is the
// one consumer of the counts: a program that both ships usage and exports
// metrics takes the details once and derives the UsageCounts with
// SumUsage. Evaluations of unknown flags are not among them; see
// UnknownFlagEvaluations.
//
// It is safe to call while other goroutines evaluate: each evaluation is
// counted by exactly one take, the first after it returned, including
// evaluations of snapshots the client has since swapped out. The client
// keeps a swapped-out snapshot's counters until the garbage collector
// shows that no evaluation can still reach them.
func (c *Client) TakeUsageDetail() []UsageDetail {
	if c == nil {
		return nil
	}
	sums := make(map[UsageDetail]int64)
	add := func(d UsageDetail) {
		n := d.Count
		d.Count = 0
		sums[d] += n
	}
	u := &c.usage
	u.mu.Lock()
	for d, n := range u.pending {
		d.Count = n
		add(d)
	}
	u.pending = nil
	kept := u.retired[:0]
	for _, rt := range u.retired {
		// Check before harvesting: a table no evaluation can reach
		// before the harvest has its last count in it.
		dead := rt.live.Value() == nil
		rt.counts.harvest(add)
		if !dead {
			kept = append(kept, rt)
		}
	}
	clear(u.retired[len(kept):])
	u.retired = kept
	if st := c.state.Load(); st != nil && st.usage != nil {
		st.usage.harvest(add)
	}
	u.mu.Unlock()

	out := make([]UsageDetail, 0, len(sums))
	for d, n := range sums {
		d.Count = n
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b UsageDetail) int {
		if c := strings.Compare(a.Flag, b.Flag); c != 0 {
			return c
		}
		if c := strings.Compare(a.Variant, b.Variant); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Reason), string(b.Reason)); c != 0 {
			return c
		}
		return strings.Compare(a.Environment, b.Environment)
	})
	return out
}

// TakeUsage returns the client's evaluations since the last take as
// UsageCounts for the hour of now (in UTC), summed over reasons, and
// resets them: TakeUsageDetail followed by SumUsage. App is left empty
// for the shipper to fill in.
func (c *Client) TakeUsage(now time.Time) []UsageCount {
	return SumUsage(c.TakeUsageDetail(), now)
}

// SumUsage sums details over reasons into UsageCounts for the hour of now
// (in UTC), ordered by flag, variant and environment.
func SumUsage(details []UsageDetail, now time.Time) []UsageCount {
	hour := now.UTC().Truncate(time.Hour)
	var out []UsageCount
	index := make(map[UsageCount]int)
	for _, d := range details {
		key := UsageCount{Flag: d.Flag, Variant: d.Variant, Environment: d.Environment}
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			key.Hour = hour
			out = append(out, key)
		}
		out[i].Count += d.Count
	}
	slices.SortFunc(out, func(a, b UsageCount) int {
		if c := strings.Compare(a.Flag, b.Flag); c != 0 {
			return c
		}
		if c := strings.Compare(a.Variant, b.Variant); c != 0 {
			return c
		}
		return strings.Compare(a.Environment, b.Environment)
	})
	return out
}

// UnknownFlagEvaluations returns how many evaluations through the client
// asked for a flag its snapshot did not have (or before it had a
// snapshot), since it was created. The count only grows; takes do not
// reset it.
func (c *Client) UnknownFlagEvaluations() int64 {
	if c == nil {
		return 0
	}
	return c.unknown.Load()
}
