package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/ofrep"
	"github.com/flagon/flagon/remote"
)

// relayApp names a relay in the usage counts it forwards upstream.
const relayApp = "flagon relay"

// RelayOptions configures a Relay. The zero value follows the upstream's
// event stream without a token, with no cache file, a closed snapshot
// endpoint (no tokens) and open OFREP endpoints.
type RelayOptions struct {
	// UpstreamToken is sent to the upstream server (a `flagon serve` or
	// another relay) as a bearer token: a read-only API token is enough.
	UpstreamToken string
	// CacheFile, if set, keeps the last snapshot from upstream, so that a
	// relay that starts while upstream is down serves it (stale).
	CacheFile string
	// Environment selects the flags' per-environment settings; empty
	// means the upstream's environment.
	Environment string
	// APITokens grant read access to the relay's snapshot endpoint and
	// event stream, which further relays and remote sources follow, and
	// to its usage endpoint, through which they report their counts;
	// none closes them. ReadOnly makes no difference: a relay only reads.
	APITokens []APIToken
	// OFREPKeys are the API keys OFREP clients present; none leaves the
	// OFREP endpoints open.
	OFREPKeys []string
	// Keys verify signed override cookies and Flagon-Overrides headers:
	// give the upstream server's keys to honour the overrides it signs.
	// Nil means a per-process key, so such overrides are ignored.
	Keys *flagonhttp.Keys
	// AllowedHosts, if set, are the Host header values accepted (host, or
	// host:port); loopback names always are. Others get 421.
	AllowedHosts []string
	// CORSOrigins are the origins of pages on other sites that may call
	// OFREP and /features.json from a browser ("*" for any).
	CORSOrigins []string
	// MetricsFlags caps the flags /metrics names, as Options.MetricsFlags.
	MetricsFlags int
	// PollInterval is how often to poll upstream when it has no event
	// stream; zero means remote.DefaultPollInterval.
	PollInterval time.Duration
	// RetryInterval is the first wait after upstream fails; zero means
	// remote.DefaultRetryInterval.
	RetryInterval time.Duration
	// UsageInterval is how often usage counts are sent upstream; zero
	// means remote.DefaultUsageInterval, negative sends none.
	UsageInterval time.Duration
	// HTTPClient makes the requests upstream; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives the relay's logs; nil means slog.Default().
	Logger *slog.Logger
}

// A Relay is a running `flagon relay`: a read-only replica that follows an
// upstream Flagon server (or another relay) and serves reads near the
// applications: OFREP, /features.json, the snapshot endpoint and its event
// stream (so relays chain), /healthz and /metrics. It has no admin UI and
// takes no writes; the one thing it accepts is usage counts, which it
// forwards upstream with those of its own evaluations.
type Relay struct {
	src     *remote.Source
	client  *flagon.Client
	metrics *metrics
	handler http.Handler
	log     *slog.Logger
}

// statusOnly hides a source's other methods (such as ReportUsage) from
// flagon.NewClient.
type statusOnly struct{ flagon.StatusSource }

// NewRelay starts following the server at upstreamURL (such as
// "https://flags.internal"): its event stream, or polling with ETags if
// it has none. ctx bounds the first fetch only. If upstream cannot be
// reached, NewRelay starts from opts.CacheFile (stale until upstream
// answers), and fails without one. opts may be nil.
func NewRelay(ctx context.Context, upstreamURL string, opts *RelayOptions) (*Relay, error) {
	if opts == nil {
		opts = &RelayOptions{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	keys := opts.Keys
	if keys == nil {
		// Without the upstream's keys nothing it signed verifies, so
		// overrides are ignored: say that, rather than the middleware's
		// warning about a per-process key, which would sign nothing here.
		k, err := flagonhttp.GenerateKey("relay")
		if err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
		keys = flagonhttp.MustKeys(k)
		log.Info("relay: no signing keys of the upstream server (FLAGON_COOKIE_KEYS): override cookies and headers are ignored")
	}
	src, err := remote.New(ctx, upstreamURL, &remote.Options{
		Stream:        true,
		PollInterval:  opts.PollInterval,
		RetryInterval: opts.RetryInterval,
		CacheFile:     opts.CacheFile,
		Environment:   opts.Environment,
		Token:         opts.UpstreamToken,
		HTTPClient:    opts.HTTPClient,
		Logger:        log,
		App:           relayApp,
		UsageInterval: opts.UsageInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r := &Relay{src: src, metrics: newMetrics(), log: log}
	// The client must not hand its counts to the source itself: /metrics
	// takes them first (see forwardUsage).
	r.client = flagon.NewClient(statusOnly{src}, &flagon.Options{Logger: log})
	r.metrics.usage = newUsageCollector(r.client, nil, opts.MetricsFlags, log)
	r.metrics.usage.app = relayApp
	src.Subscribe(func(*flagon.Snapshot) { r.metrics.reloads.Add(1) })
	src.ReportUsage(r.metrics.usage.take)

	httpOpts := &flagonhttp.Options{
		Keys:        keys,
		CORSOrigins: opts.CORSOrigins,
		Logger:      log,
		Production:  true, // no override-count header: a relay serves production traffic
	}
	mux := http.NewServeMux()
	mw := flagonhttp.Middleware(r.client, httpOpts)
	mux.Handle("/ofrep/", mw(ofrep.Handler(r.client, &ofrep.Options{APIKeys: opts.OFREPKeys, Logger: log, CORSOrigins: opts.CORSOrigins})))
	mux.Handle(flagonhttp.DefaultFeaturesPattern, mw(flagonhttp.FeaturesHandler(r.client, httpOpts)))
	snapshots := requireToken(opts.APITokens, "the relay's snapshot endpoint", remote.Handler(src))
	mux.Handle("GET "+remote.SnapshotPath, snapshots)
	mux.Handle("GET "+remote.EventsPath, snapshots)
	mux.Handle("POST /api/v1/usage", requireToken(opts.APITokens, "the relay's usage endpoint", http.HandlerFunc(r.usage)))
	mux.Handle("GET /healthz", health(r.client))
	mux.Handle("GET /metrics", r.metrics.handler(r.client))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Go's mux prefers this catch-all to a 405 for the other methods
		// of the paths above: answer those here.
		get := req.Clone(req.Context())
		get.Method = http.MethodGet
		if _, pattern := mux.Handler(get); pattern != "/" {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, newError(flagon.ErrReadOnly, "a relay serves reads only: write to the upstream server"))
			return
		}
		writeError(w, newError(flagon.ErrNotFound, "a relay serves reads only: OFREP, /features.json, the snapshot endpoint, /healthz and /metrics; write to the upstream server"))
	}))
	r.handler = hostCheck(opts.AllowedHosts, mux)
	return r, nil
}

// Handler returns the relay's HTTP handler.
func (r *Relay) Handler() http.Handler { return r.handler }

// Client returns the client that evaluates the flags.
func (r *Relay) Client() *flagon.Client { return r.client }

// Source returns the source that follows upstream.
func (r *Relay) Source() flagon.StatusSource { return r.src }

// Close stops following upstream, after sending the last usage counts.
// The event streams the relay serves end with their requests' contexts.
func (r *Relay) Close() error {
	err := r.src.Close() // sends the last counts, taken from the client
	r.client.Close()
	return err
}

// usage takes the usage counts of a relay or remote source that follows
// this relay, to send upstream with the relay's own. Counts of flags the
// relay does not know, and malformed reports, are refused as upstream
// would refuse them.
func (r *Relay) usage(w http.ResponseWriter, req *http.Request) {
	var rep usageReport
	if err := decode(req, &rep); err != nil {
		writeError(w, err)
		return
	}
	if len(rep.Counts) > flagon.MaxUsageBatch {
		writeError(w, badField("counts", "%d counts in one report; at most %d", len(rep.Counts), flagon.MaxUsageBatch))
		return
	}
	snap := r.client.Snapshot()
	if snap == nil {
		writeError(w, newError(errUnavailable, "the relay has no snapshot yet"))
		return
	}
	if rep.Environment == "" {
		rep.Environment = snap.Environment()
	}
	now := time.Now()
	counts := make([]flagon.UsageCount, 0, len(rep.Counts))
	var accepted, dropped int64
	for _, c := range rep.Counts {
		uc := flagon.UsageCount{Hour: c.Hour.UTC().Truncate(time.Hour), Flag: c.Flag, Variant: c.Variant,
			Environment: rep.Environment, App: rep.App, Count: c.Count}
		if c.Count < 0 {
			writeError(w, badField("counts", "negative count for flag %q", c.Flag))
			return
		}
		if _, ok := snap.Flag(c.Flag); !ok || uc.Hour.Before(now.Add(-maxUsageAge)) || uc.Hour.After(now.Add(maxUsageAhead)) {
			dropped += c.Count
			continue
		}
		accepted += c.Count
		counts = append(counts, uc)
	}
	r.metrics.usage.add(counts)
	writeJSON(w, http.StatusAccepted, struct {
		Accepted int64 `json:"accepted"`
		Dropped  int64 `json:"dropped"`
	}{accepted, dropped})
}
