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
	"github.com/flagon/flagon/internal/pending"
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

// reporter sends a client's counts to the server every interval, keeping
// what fails for the next attempt.
type reporter struct {
	s       *Source
	take    func(time.Time) []flagon.UsageCount
	pending *pending.Counts
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
		r := &reporter{s: s, take: take, pending: pending.New(MaxPendingUsage), now: time.Now}
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
// them all, dropping those the server would refuse as too old.
func (r *reporter) flush(ctx context.Context) {
	now := r.now()
	r.pending.Add(r.take(now))
	r.pending.DropBefore(now.Add(-maxUsageAge + time.Hour))
	byEnv := map[string][]flagon.UsageCount{}
	for _, c := range r.pending.List() {
		byEnv[c.Environment] = append(byEnv[c.Environment], c)
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
				r.pending.Done(batch)
			}
		}
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
func (r *reporter) send(ctx context.Context, env string, batch []flagon.UsageCount) (retry bool, err error) {
	counts := make([]usageCount, len(batch))
	for i, c := range batch {
		counts[i] = usageCount{Hour: c.Hour, Flag: c.Flag, Variant: c.Variant, Count: c.Count}
	}
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
