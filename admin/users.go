package admin

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// pickGroup is one flag in a select of flag and variant pairs: an optgroup
// whose options have values "flag:variant".
type pickGroup struct {
	Flag    string
	Options []choice
}

// pickGroups returns the variants every overridable flag allows, for a
// select whose option values are "flag:variant". selected is the chosen
// value.
func pickGroups(snap *flagon.Snapshot, selected string) []pickGroup {
	var out []pickGroup
	for _, key := range snap.Keys() {
		f, _ := snap.Flag(key)
		if f.Override.EffectiveWho() == flagon.WhoNone {
			continue
		}
		g := pickGroup{Flag: key}
		for _, v := range f.Variants {
			if len(f.Override.Variants) > 0 && !slices.Contains(f.Override.Variants, v.Name) {
				continue
			}
			val := key + ":" + v.Name
			g.Options = append(g.Options, choice{Value: val, Label: key + " = " + v.Name + " (" + fmtValue(v.Value) + ")", Selected: val == selected})
		}
		out = append(out, g)
	}
	return out
}

// parsePick reads a "flag:variant" value and returns the flag and the
// variant's value.
func parsePick(snap *flagon.Snapshot, s string) (key string, v any, ok bool) {
	key, variant, ok := strings.Cut(s, ":")
	if !ok {
		return "", nil, false
	}
	v, ok = snap.VariantValue(key, variant)
	return key, v, ok
}

type userRow struct {
	User      string
	Flag      string
	Value     string
	Pick      string // "flag:variant", to change it
	SetAt     time.Time
	ExpiresAt time.Time
	Problem   string
}

type usersData struct {
	Filter    string
	Rows      []userRow
	Groups    []pickGroup
	Durations []durationChoice
	Duration  int64
	User      string
	Pick      string
	Errors    map[string]string
}

// usersPage lists everyone's per-login overrides, for admins, with a form
// to set one for any user.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, q *request) {
	uq := r.URL.Query()
	c.renderUsers(w, r, q, http.StatusOK, &usersData{
		Filter: strings.TrimSpace(uq.Get("filter")), User: uq.Get("user"), Pick: uq.Get("pick"),
		Duration: defaultDurationSeconds,
	})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, q *request, status int, d *usersData) {
	snap := c.snapshot()
	d.Durations = durationChoices
	d.Groups = pickGroups(snap, d.Pick)
	if c.opts.UserOverrides != nil {
		all, err := c.opts.UserOverrides.AllUserOverrides(r.Context())
		if err != nil {
			c.serverError(w, r, "read the users' overrides", err)
			return
		}
		for _, uo := range all {
			if d.Filter != "" && !strings.Contains(strings.ToLower(uo.User), strings.ToLower(d.Filter)) {
				continue
			}
			e := checkEntry(snap, uo.Flag, uo.Override, q.now)
			row := userRow{User: uo.User, Flag: uo.Flag, Value: fmtValue(uo.Value), SetAt: uo.SetAt, ExpiresAt: uo.ExpiresAt, Problem: e.problem}
			if vn := variantName(snap, uo.Flag, e.value); vn != "" {
				row.Pick = uo.Flag + ":" + vn
			}
			d.Rows = append(d.Rows, row)
		}
		slices.SortFunc(d.Rows, func(a, b userRow) int {
			if n := strings.Compare(a.User, b.User); n != 0 {
				return n
			}
			return strings.Compare(a.Flag, b.Flag)
		})
	}
	p := c.newPage(r, "Users' overrides", "users", d)
	if len(d.Errors) > 0 {
		p.Error = "Nothing was saved: fix the marked fields."
	}
	c.render(w, status, "users", p)
}

// setUserOverride sets an override for any user.
func (c *Console) setUserOverride(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.UserOverrides == nil {
		c.failSay(w, r, flagon.ErrReadOnly, "Per-login overrides need a store: "+c.readNote+".", "")
		return
	}
	snap := c.snapshot()
	f := r.PostForm
	d := &usersData{User: strings.TrimSpace(f.Get("user")), Pick: f.Get("pick"), Errors: map[string]string{}}
	dur, ok := parseSeconds(f.Get("duration"))
	d.Duration = int64(dur / time.Second)
	if !ok {
		d.Errors["duration"] = "Choose a duration."
		d.Duration = defaultDurationSeconds
	}
	if d.User == "" || len(d.User) > 200 {
		d.Errors["user"] = "Enter the user's name, as they sign in (up to 200 characters)."
	}
	key, v, pickOK := parsePick(snap, d.Pick)
	var cv any
	if !pickOK {
		d.Errors["pick"] = "Choose a flag and a value."
	} else if ok {
		var err error
		if cv, err = c.policy.Check(r, snap, key, v, dur); err != nil {
			if pe, isPE := err.(*flagonhttp.PolicyError); isPE && pe.Field == "duration" {
				d.Errors["duration"] = policyMessage(err)
			} else {
				d.Errors["pick"] = policyMessage(err)
			}
		}
	}
	if len(d.Errors) > 0 {
		c.renderUsers(w, r, q, statusOf(flagon.ErrInvalid), d)
		return
	}
	now := c.now()
	o := flagon.Override{Value: cv, Source: flagonhttp.SourceUser, SetAt: now, ExpiresAt: now.Add(dur)}
	if err := c.opts.UserOverrides.SetUserOverride(r.Context(), flagonhttp.UserOverride{User: d.User, Flag: key, Override: o}, c.change(q, "set by an admin in the console")); err != nil {
		c.serverError(w, r, "save the override", err)
		return
	}
	c.log.Info("admin: user override", "by", q.principal.Name, "user", d.User, "flag", key, "value", cv)
	c.redirect(w, r, q, "users", "user-saved")
}

// revokeUserOverride removes one user's override of one flag.
func (c *Console) revokeUserOverride(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.UserOverrides == nil {
		c.failSay(w, r, flagon.ErrReadOnly, "Per-login overrides need a store: "+c.readNote+".", "")
		return
	}
	user, key := r.PostForm.Get("user"), r.PostForm.Get("flag")
	if err := c.opts.UserOverrides.DeleteUserOverride(r.Context(), user, key, c.change(q, "revoked by an admin in the console")); err != nil {
		c.serverError(w, r, "revoke the override", err)
		return
	}
	c.log.Info("admin: user override revoked", "by", q.principal.Name, "user", user, "flag", key)
	c.redirect(w, r, q, "users", "user-revoked")
}
