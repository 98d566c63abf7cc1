package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// linkLifetimes are the choices of how long a share link can be opened.
var linkLifetimes = []durationChoice{
	{"1 hour", 3600},
	{"1 day", 24 * 3600},
	{"7 days", 7 * 24 * 3600},
	{"30 days", 30 * 24 * 3600},
}

const defaultLinkLifetime = 7 * 24 * 3600

type shareRow struct {
	flagonhttp.ShareToken
	ValueText string
	Status    string // active, expired or revoked
	CanRevoke bool
}

type shareData struct {
	Groups    []pickGroup
	Durations []durationChoice
	Lifetimes []durationChoice
	Pick      string
	Duration  int64
	Lifetime  int64
	Redirect  string
	Errors    map[string]string
	Minted    string // the link just minted, shown once
	MintedFor string
	Rows      []shareRow
}

// sharePage shows the form that mints share links and, with a store, the
// links minted so far.
func (c *Console) sharePage(w http.ResponseWriter, r *http.Request, q *request) {
	qv := r.URL.Query()
	c.renderShare(w, r, q, http.StatusOK, &shareData{Pick: qv.Get("pick"), Duration: defaultDurationSeconds, Lifetime: defaultLinkLifetime, Redirect: "/"})
}

func (c *Console) renderShare(w http.ResponseWriter, r *http.Request, q *request, status int, d *shareData) {
	d.Groups = pickGroups(c.snapshot(), d.Pick)
	d.Durations, d.Lifetimes = durationChoices, linkLifetimes
	if c.opts.ShareTokens != nil {
		tokens, err := c.opts.ShareTokens.ShareTokens(r.Context())
		if err != nil {
			c.serverError(w, r, "read the share links", err)
			return
		}
		for _, t := range tokens {
			row := shareRow{ShareToken: t, ValueText: fmtValue(t.Value), Status: "active"}
			switch {
			case t.Revoked:
				row.Status = "revoked"
			case !t.ExpiresAt.After(q.now):
				row.Status = "expired"
			}
			row.CanRevoke = row.Status == "active" && (q.principal.Role >= RoleAdmin || t.CreatedBy == q.principal.Name)
			d.Rows = append(d.Rows, row)
		}
	}
	p := c.newPage(r, "Share links", "share", d)
	if len(d.Errors) > 0 {
		p.Error = "No link was made: fix the marked fields."
	}
	c.render(w, status, "share", p)
}

// mintShare mints a share link: it checks the flag's policy, records the
// token in the store (when there is one) and shows the link once.
func (c *Console) mintShare(w http.ResponseWriter, r *http.Request, q *request) {
	snap := c.snapshot()
	f := r.PostForm
	d := &shareData{Pick: f.Get("pick"), Redirect: strings.TrimSpace(f.Get("redirect")), Errors: map[string]string{}}
	dur, durOK := parseSeconds(f.Get("duration"))
	life, lifeOK := parseSeconds(f.Get("lifetime"))
	d.Duration, d.Lifetime = int64(dur/time.Second), int64(life/time.Second)
	if !durOK {
		d.Errors["duration"] = "Choose how long the override lasts."
		d.Duration = defaultDurationSeconds
	}
	if !lifeOK {
		d.Errors["lifetime"] = "Choose how long the link can be opened."
		d.Lifetime = defaultLinkLifetime
	}
	if d.Redirect == "" {
		d.Redirect = "/"
	}
	if _, err := flagonhttp.SafeRedirect(d.Redirect, c.opts.Overrides.AllowedRedirectHosts); err != nil {
		d.Errors["redirect"] = "Give a path on this site, such as /checkout."
	}
	key, v, ok := parsePick(snap, d.Pick)
	var cv any
	if !ok {
		d.Errors["pick"] = "Choose a flag and a value."
	} else if durOK {
		var err error
		if cv, err = c.policy.Check(r, snap, key, v, dur); err != nil {
			var pe *flagonhttp.PolicyError
			if errors.As(err, &pe) && pe.Field == "duration" {
				d.Errors["duration"] = policyMessage(err)
			} else {
				d.Errors["pick"] = policyMessage(err)
			}
		}
	}
	if len(d.Errors) > 0 {
		c.renderShare(w, r, q, http.StatusBadRequest, d)
		return
	}
	token, rec, err := flagonhttp.MintShareToken(c.opts.Overrides.Keys, key, cv, dur, c.now().Add(life))
	if err != nil {
		d.Errors["pick"] = err.Error()
		c.renderShare(w, r, q, http.StatusBadRequest, d)
		return
	}
	rec.CreatedBy = q.principal.Name
	if c.opts.ShareTokens != nil {
		if err := c.opts.ShareTokens.CreateShareToken(r.Context(), rec, c.change(q, "share link minted in the console")); err != nil {
			c.serverError(w, r, "record the share link", err)
			return
		}
	}
	c.log.Info("admin: share link minted", "id", rec.ID, "flag", key, "value", cv, "by", q.principal.Name)
	d.Minted = c.shareURL(r, key, token, d.Redirect)
	d.MintedFor = key + " = " + fmtValue(cv) + " for " + humanDuration(dur)
	c.renderShare(w, r, q, http.StatusOK, d)
}

// shareURL returns the absolute share link for a token.
func (c *Console) shareURL(r *http.Request, flag, token, redirect string) string {
	link := flagonhttp.ShareLink(flag, token, redirect)
	if p := c.opts.OverridePath; p != flagonhttp.DefaultOverridePath {
		link = strings.TrimSuffix(p, "/") + "/" + strings.TrimPrefix(link, flagonhttp.DefaultOverridePath)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + link
}

// revokeShare revokes a share link. Editors revoke their own; admins any.
func (c *Console) revokeShare(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.ShareTokens == nil {
		c.failSay(w, r, flagon.ErrReadOnly, "Share links can be revoked only with a store.", "")
		return
	}
	id := r.PostForm.Get("id")
	t, err := c.opts.ShareTokens.ShareToken(r.Context(), id)
	if err != nil {
		c.fail(w, r, err, "share link "+strconv.Quote(id), "read the share link")
		return
	}
	if q.principal.Role < RoleAdmin && t.CreatedBy != q.principal.Name {
		c.failSay(w, r, ErrForbidden, "Only admins may revoke links that others made.", "")
		return
	}
	if err := c.opts.ShareTokens.RevokeShareToken(r.Context(), id, c.change(q, "share link revoked in the console")); err != nil {
		c.serverError(w, r, "revoke the share link", err)
		return
	}
	c.log.Info("admin: share link revoked", "id", id, "by", q.principal.Name)
	c.redirect(w, r, q, "share", "share-revoked")
}

// UserOverrides returns a function for flagonhttp.Options.UserOverrides
// that reads the stored overrides of the principal authorize finds in a
// request (for example PasswordAuth.Authorize, with a session cookie path
// the application's pages share). Requests without a principal have none.
func UserOverrides(store flagonhttp.UserOverrideStore, authorize func(*http.Request) (Principal, error)) func(*http.Request) (flagon.Overrides, error) {
	return func(r *http.Request) (flagon.Overrides, error) {
		p, err := authorize(r)
		if err != nil || p.Name == "" {
			return nil, nil
		}
		m, err := store.UserOverrides(r.Context(), p.Name)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
}
