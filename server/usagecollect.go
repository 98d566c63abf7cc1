package server

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/pending"
)

// Defaults of the server's own usage counting.
const (
	// DefaultMetricsFlags is how many flags /metrics names in its
	// per-flag counters when Options.MetricsFlags is zero; the
	// evaluations of any further flags are counted under flag="(other)",
	// so the number of series stays bounded however many flags there are.
	DefaultMetricsFlags = 500
	// usageInterval is how often the server adds its own evaluations to
	// the store.
	usageInterval = time.Minute
	// ownApp names the server in the usage counts of its own evaluations
	// (OFREP, /features.json, the console).
	ownApp = "flagon serve"
	// otherFlags is the flag label of the evaluations past the cap. It
	// cannot be a flag key.
	otherFlags = "(other)"
	// maxPendingOwnUsage bounds the counts kept while the store is down.
	maxPendingOwnUsage = 50000
)

// usageCollector takes the server's own evaluations from its client: it
// keeps cumulative counters for /metrics (per reason, and per flag and
// variant up to a cap of flags) and adds hourly counts to the store,
// keeping them through a store outage.
type usageCollector struct {
	client *flagon.Client
	others []*flagon.Client // the clients of further environments
	store  flagon.UsageStore
	log    *slog.Logger
	cap    int
	now    func() time.Time
	app    string // the app its own counts are attributed to

	mu       sync.Mutex
	byReason map[flagon.Reason]int64
	byFlag   map[flagVariant]int64
	named    map[string]bool // the flags /metrics names, at most cap
	pending  *pending.Counts // hourly counts not yet stored
}

type flagVariant struct{ flag, variant string }

func newUsageCollector(client *flagon.Client, store flagon.UsageStore, cap int, log *slog.Logger) *usageCollector {
	if cap == 0 {
		cap = DefaultMetricsFlags
	}
	return &usageCollector{client: client, store: store, log: log, cap: max(cap, 0), now: time.Now, app: ownApp,
		byReason: map[flagon.Reason]int64{}, byFlag: map[flagVariant]int64{}, named: map[string]bool{},
		pending: pending.New(maxPendingOwnUsage)}
}

// collect takes the client's evaluations since the last call into the
// counters and the pending hourly counts.
func (u *usageCollector) collect() {
	u.mu.Lock()
	defer u.mu.Unlock()
	details := u.client.TakeUsageDetail()
	for _, c := range u.others {
		details = append(details, c.TakeUsageDetail()...)
	}
	for _, d := range details {
		u.byReason[d.Reason] += d.Count
		flag := d.Flag
		if !u.named[flag] {
			if len(u.named) < u.cap {
				u.named[flag] = true
			} else {
				flag = otherFlags
			}
		}
		v := d.Variant
		if flag == otherFlags {
			v = ""
		}
		u.byFlag[flagVariant{flag, v}] += d.Count
	}
	counts := flagon.SumUsage(details, u.now())
	for i := range counts {
		counts[i].App = u.app
	}
	u.pending.Add(counts)
}

// flush adds the pending counts to the store, keeping them if it fails.
func (u *usageCollector) flush(ctx context.Context) {
	u.mu.Lock()
	counts := u.pending.List()
	u.mu.Unlock()
	for len(counts) > 0 {
		batch := counts[:min(len(counts), flagon.MaxUsageBatch)]
		counts = counts[len(batch):]
		if err := u.store.AddUsage(ctx, batch); err != nil {
			if ctx.Err() == nil {
				u.log.Warn("flagon: record the server's own usage", "err", err)
			}
			return
		}
		u.mu.Lock()
		u.pending.Done(batch)
		u.mu.Unlock()
	}
}

// run collects and flushes every usageInterval until ctx is done, and
// once more then.
func (u *usageCollector) run(ctx context.Context) {
	t := time.NewTicker(usageInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			u.collect()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			u.flush(fctx)
			cancel()
			return
		case <-t.C:
			u.collect()
			fctx, cancel := context.WithTimeout(ctx, time.Minute)
			u.flush(fctx)
			cancel()
		}
	}
}

// metricLine is one sample of a per-flag counter.
type metricLine struct {
	flag, variant string
	n             int64
}

// snapshot returns the cumulative counters, sorted, after collecting.
func (u *usageCollector) snapshot() (byReason map[flagon.Reason]int64, byFlag []metricLine) {
	u.collect()
	u.mu.Lock()
	defer u.mu.Unlock()
	byReason = make(map[flagon.Reason]int64, len(u.byReason))
	for r, n := range u.byReason {
		byReason[r] = n
	}
	for k, n := range u.byFlag {
		byFlag = append(byFlag, metricLine{k.flag, k.variant, n})
	}
	sort.Slice(byFlag, func(i, j int) bool {
		if byFlag[i].flag != byFlag[j].flag {
			return byFlag[i].flag < byFlag[j].flag
		}
		return byFlag[i].variant < byFlag[j].variant
	})
	return byReason, byFlag
}

// take collects and returns the pending counts, emptying them: for a
// relay, whose remote source sends them upstream (and keeps what fails).
func (u *usageCollector) take(time.Time) []flagon.UsageCount {
	u.collect()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending.Take()
}

// add adds counts reported by others to the pending ones.
func (u *usageCollector) add(counts []flagon.UsageCount) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending.Add(counts)
}
