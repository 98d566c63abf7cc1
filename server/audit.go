package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
)

// Defaults of the audit settings.
const (
	// DefaultAuditRetention is how long audit entries are kept when
	// Options.AuditRetention is zero; a negative retention keeps them
	// forever.
	DefaultAuditRetention = 90 * 24 * time.Hour
	// DefaultAnonymousAuditRate is how many browser-override entries a
	// minute one anonymous client may add to the audit log (in a burst,
	// then steadily); the overrides beyond it still take effect, and
	// are counted in /metrics instead.
	DefaultAnonymousAuditRate = 30
	// DefaultAnonymousAuditTotal is how many browser-override entries an
	// hour all anonymous clients together may add, however many
	// addresses a flood comes from. With the size limits of
	// flagon.AuditEntry.Validate and the retention, it bounds the
	// database's growth: see docs/decisions/0008.
	DefaultAnonymousAuditTotal = 1000
	// maxRateClients bounds how many clients the rate limit remembers.
	maxRateClients = 10000
	// pruneEvery is how often the audit log is pruned.
	pruneEvery = time.Hour
	// auditTimeout bounds the append of an override link's entry.
	auditTimeout = 5 * time.Second
)

// browserAudit appends the audit entries of overrides set in browsers by
// the override link. A signed-in console user is named; anyone else is
// "anonymous" with the client address the proxy settings believe, so no
// value a visitor sends becomes the actor. Entries of anonymous clients
// are rate limited per client; an entry's fields are bounded by
// flagon.AuditEntry.Validate. Together with retention this bounds what
// anonymous visitors can add to the database.
type browserAudit struct {
	log      flagon.AuditLog
	logger   *slog.Logger
	env      string
	who      func(*http.Request) (admin.Principal, error)
	clientIP func(*http.Request) string
	limit    *rateLimit // per client
	total    *rateLimit // all anonymous clients together, as client ""
	dropped  atomic.Int64
	now      func() time.Time
}

// onOverride is flagonhttp.Options.OnOverride.
func (b *browserAudit) onOverride(r *http.Request, ev flagonhttp.OverrideEvent) {
	actor := ""
	if p, err := b.who(r); err == nil && p.Name != "" {
		actor = p.Name
	} else {
		client := b.clientIP(r)
		if now := b.now(); !b.limit.allow(client, now) || !b.total.allow("", now) {
			b.dropped.Add(1)
			return
		}
		actor = "anonymous " + client
	}
	e := flagon.AuditEntry{
		Actor: actor, Action: admin.ActionBrowserOverrideSet, Target: ev.Flag,
		Environment: b.env, Reason: "via " + ev.Via,
	}
	if ev.TokenID != "" {
		e.Reason += ", share token " + ev.TokenID
	}
	if ev.After == nil {
		e.Action = admin.ActionBrowserOverrideRemove
	} else if !ev.ExpiresAt.IsZero() {
		e.Reason += ", until " + ev.ExpiresAt.UTC().Format(time.RFC3339)
	}
	var err error
	if e.Before, err = valueJSON(ev.Before); err == nil {
		e.After, err = valueJSON(ev.After)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
		defer cancel()
		err = b.log.AppendAudit(ctx, e)
	}
	if err != nil {
		b.logger.Error("flagon: audit an override link", "flag", ev.Flag, "actor", actor, "action", e.Action, "err", err)
	}
}

// valueJSON returns the JSON of an override's value, or nil for nil.
func valueJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	return b, nil
}

// prune deletes the records of what (the audit log, usage) older than
// retention now and then every pruneEvery, until ctx is done. Instances
// that share a database each prune; the deletes do not conflict.
func prune(ctx context.Context, what string, fn func(ctx context.Context, before time.Time) (int64, error), retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		before := time.Now().Add(-retention)
		n, err := fn(pctx, before)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("flagon: prune "+what, "err", err)
		case n > 0:
			logger.Info("flagon: pruned "+what, "deleted", n, "older_than", before.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
