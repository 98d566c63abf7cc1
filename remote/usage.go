package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/flagon/flagon"
)

// Defaults of the usage reporting settings.
const (
	// DefaultUsageInterval is how often counts are sent when
	// Options.UsageInterval is zero.
	DefaultUsageInterval = time.Minute
	// MaxPendingUsage bounds the counts kept for a server that does not
	// answer: beyond it, the oldest hours are dropped.
	MaxPendingUsage = 50000
	// maxUsageAge is how old an hour the server still accepts.
	maxUsageAge = 7 * 24 * time.Hour
)

var _ flagon.UsageReporter = (*Source)(nil)

// usageKey identifies one pending count.
type usageKey struct {
	hour                 time.Time
	flag, variant, envir string
}

// reporter sends a client's counts to the server every interval, keeping
// what fails for the next attempt.
type reporter struct {
	s       *Source
	take    func(time.Time) []flagon.UsageCount
	pending map[usageKey]int64
	now     func() time.Time
}

// ReportUsage implements flagon.UsageReporter: every
// Options.UsageInterval it takes the client's counts and posts them, with
// Options.App and the token, to the server's /api/v1/usage. Counts the
// server does not take (it is down, or answers 5xx or 429) are kept and
// sent with the next batch, up to MaxPendingUsage; so an outage loses no
// counts until they are a week old, and never blocks evaluation. A batch
// whose answer is lost (the server took it, but the answer came after
// Options.Timeout) is sent again: counts arrive at least once. Close
// sends what is left. It does nothing when Options.UsageInterval is
// negative, and only the first call counts.
func (s *Source) ReportUsage(take func(now time.Time) []flagon.UsageCount) {
	if s.opts.UsageInterval < 0 || take == nil {
		return
	}
	s.usageOnce.Do(func() {
		r := &reporter{s: s, take: take, pending: make(map[usageKey]int64), now: time.Now}
		ctx, cancel := context.WithCancel(context.Background())
		s.usageStop = cancel
		s.usageDone = make(chan struct{})
		go r.run(ctx)
	})
}

// stopUsage sends the last counts and stops the reporter, if running.
func (s *Source) stopUsage() {
	s.usageOnce.Do(func() {}) // waits for a ReportUsage under way; none starts after
	if s.usageStop != nil {
		s.usageStop()
		<-s.usageDone
	}
}

func (r *reporter) run(ctx context.Context) {
	defer close(r.s.usageDone)
	interval := r.s.opts.UsageInterval
	if interval == 0 {
		interval = DefaultUsageInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), r.s.opts.Timeout)
			r.flush(fctx)
			cancel()
			return
		case <-t.C:
			// Close waits for a report under way rather than cancel it: a
			// cancelled report the server took anyway would be sent twice.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.s.opts.Timeout)
			r.flush(fctx)
			cancel()
		}
	}
}

// flush takes the new counts, adds them to the pending ones and sends
// them all.
func (r *reporter) flush(ctx context.Context) {
	now := r.now()
	for _, c := range r.take(now) {
		r.pending[usageKey{c.Hour, c.Flag, c.Variant, c.Environment}] += c.Count
	}
	r.trim(now)
	if len(r.pending) == 0 {
		return
	}
	byEnv := map[string][]usageCount{}
	for k, n := range r.pending {
		byEnv[k.envir] = append(byEnv[k.envir], usageCount{Hour: k.hour, Flag: k.flag, Variant: k.variant, Count: n})
	}
	for env, counts := range byEnv {
		for len(counts) > 0 {
			batch := counts[:min(len(counts), flagon.MaxUsageBatch)]
			counts = counts[len(batch):]
			retry, err := r.send(ctx, env, batch)
			if err != nil {
				r.s.log.Warn("remote: send usage counts", "server", r.s.base, "err", err, "kept", retry)
			}
			if !retry {
				for _, c := range batch {
					delete(r.pending, usageKey{c.Hour, c.Flag, c.Variant, env})
				}
			}
		}
	}
}

// trim drops the counts the server would refuse as too old, then the
// oldest hours while more than MaxPendingUsage are pending.
func (r *reporter) trim(now time.Time) {
	var oldest time.Time
	for k := range r.pending {
		if k.hour.Before(now.Add(-maxUsageAge + time.Hour)) {
			delete(r.pending, k)
		} else if oldest.IsZero() || k.hour.Before(oldest) {
			oldest = k.hour
		}
	}
	for len(r.pending) > MaxPendingUsage {
		for k := range r.pending {
			if k.hour.Equal(oldest) {
				delete(r.pending, k)
			}
		}
		oldest = oldest.Add(time.Hour)
	}
}

// usageCount is one count as POST /api/v1/usage takes it.
type usageCount struct {
	Hour    time.Time `json:"hour"`
	Flag    string    `json:"flag"`
	Variant string    `json:"variant"`
	Count   int64     `json:"count"`
}

// send posts one batch. It reports whether the batch should be kept and
// sent again: yes when the server could not be reached or was
// overloaded, no when it took the batch or refused it for good.
func (r *reporter) send(ctx context.Context, env string, counts []usageCount) (retry bool, err error) {
	body, err := json.Marshal(struct {
		App         string       `json:"app"`
		Environment string       `json:"environment,omitempty"`
		Counts      []usageCount `json:"counts"`
	}{r.s.app(), env, counts})
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", r.s.base+"/api/v1/usage", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	r.s.setHeaders(req)
	resp, err := r.s.hc.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 ||
		resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Transient, or a token being rotated: keep the counts.
		return true, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return false, fmt.Errorf("%s (counts dropped): %s", resp.Status, bytes.TrimSpace(msg))
}

// app returns the application name reported with the counts.
func (s *Source) app() string {
	if s.opts.App != "" {
		return s.opts.App
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	name := filepath.Base(exe)
	if len(name) > flagon.MaxAppLen {
		name = name[:flagon.MaxAppLen]
	}
	return name
}
