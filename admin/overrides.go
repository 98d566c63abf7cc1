package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// The scopes an override can be saved in.
const (
	scopeBrowser = "browser" // the signed cookie: this browser, whoever signs in
	scopeLogin   = "login"   // the store: this login, in every browser
)

// keepPrefix marks a select option that keeps an override whose value is
// no variant. Variant names cannot hold ':'.
const keepPrefix = "keep:"

// durationChoice is one option of the duration select.
type durationChoice struct {
	Label   string
	Seconds int64
}

var durationChoices = []durationChoice{
	{"1 hour", 3600},
	{"8 hours", 8 * 3600},
	{"1 day", 24 * 3600},
	{"7 days", 7 * 24 * 3600},
	{"30 days", 30 * 24 * 3600},
	{"90 days", 90 * 24 * 3600},
	{"1 year", 365 * 24 * 3600},
}

const defaultDurationSeconds = 30 * 24 * 3600

// choice is one option of a flag's override control.
type choice struct {
	Value    string // the form value: a variant name, or keepPrefix+…
	Label    string
	Selected bool
	Disabled bool
}

// overrideRow is one flag on the overrides page.
type overrideRow struct {
	Key          string
	Description  string
	Owner        string
	Tags         []string
	Type         flagon.Type
	Default      string // the default variant's name
	DefaultValue any
	Value        any    // what this browser gets now
	Variant      string // and its variant
	Why          why

	Bool        bool   // On/Off/Default radios
	OnVariant   string // the variants the radios choose
	OffVariant  string
	Selected    string // the selected form value; "" is Default
	Choices     []choice
	Overridable bool
	Locked      string // why not, when it is not
	Overridden  bool   // this scope holds an override of the flag
	Expires     time.Time
	Error       string
}

// staleRow is an override that does not apply as set.
type staleRow struct {
	Flag      string
	Value     string
	SetAt     time.Time
	ExpiresAt time.Time
	Problem   string
	Active    bool // it still applies (the default changed under it)
}

type overridesData struct {
	Scope      string
	Rows       []overrideRow
	Stale      []staleRow
	Count      int // overrides in this scope
	Q          string
	Tag        string
	Owner      string
	Tags       []string
	Owners     []string
	Durations  []durationChoice
	Duration   int64
	Query      string // the filter, as a query string to come back to
	Total      int    // flags before filtering
	CookieNote string // why the cookie could not be read
	LoginNote  string // why login overrides are not available
	Errors     int
	// DurationError says what is wrong with the chosen duration.
	DurationError string
	// As is the targeting key flags are evaluated for, AsNote where it
	// comes from.
	As     string
	AsNote string
}

// scopeEntry is an override held in a scope, as the page deals with it.
type scopeEntry struct {
	flag    string
	value   any
	setAt   time.Time
	expires time.Time
	active  bool
	problem string
	entry   flagonhttp.Entry // for the cookie
}

// userContext returns the context the console evaluates flags for: the
// one the application's middleware builds for this browser, with the
// signed-in user's name as the targeting key when it gives none. note
// says which, for the page.
func (c *Console) userContext(r *http.Request, q *request) (ec flagon.EvalContext, note string) {
	ec = flagon.EvalContextFrom(r.Context())
	if ec.Key != "" {
		return ec, "the context the application gives this browser"
	}
	ec.Key = q.principal.Name
	return ec, "your sign-in name as the targeting key, with the attributes the application gives this browser"
}

// cookieEntries returns the entries of the request's override cookie,
// each marked with its status, and a note when the cookie is unreadable.
func (c *Console) cookieEntries(r *http.Request, snap *flagon.Snapshot) ([]scopeEntry, string) {
	es, err := c.codec.Read(r, snap)
	note := ""
	if err != nil {
		c.log.Warn("admin: unreadable override cookie", "err", err)
		note = "This browser's override cookie could not be read (" + errors.Unwrap(err).Error() + "); saving replaces it."
	}
	out := make([]scopeEntry, 0, len(es))
	for _, e := range es {
		out = append(out, scopeEntry{flag: e.Flag, value: e.Value, setAt: e.SetAt, expires: e.ExpiresAt,
			active: e.Status == flagonhttp.EntryActive, problem: e.Problem, entry: e})
	}
	return out, note
}

// loginEntries returns the principal's stored overrides, each checked
// against snap.
func (c *Console) loginEntries(ctx context.Context, user string, snap *flagon.Snapshot) ([]scopeEntry, error) {
	if c.opts.UserOverrides == nil {
		return nil, nil
	}
	m, err := c.opts.UserOverrides.UserOverrides(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]scopeEntry, 0, len(m))
	for key, o := range m {
		out = append(out, checkEntry(snap, key, o, c.now()))
	}
	slices.SortFunc(out, func(a, b scopeEntry) int { return strings.Compare(a.flag, b.flag) })
	return out, nil
}

// checkEntry judges a stored override against snap.
func checkEntry(snap *flagon.Snapshot, key string, o flagon.Override, now time.Time) scopeEntry {
	e := scopeEntry{flag: key, value: o.Value, setAt: o.SetAt, expires: o.ExpiresAt, active: true}
	switch {
	case !snap.Has(key):
		e.active, e.problem = false, "flag "+strconv.Quote(key)+" no longer exists"
	case !o.ExpiresAt.IsZero() && !o.ExpiresAt.After(now):
		e.active, e.problem = false, "expired "+fmtTime(o.ExpiresAt)
	default:
		if cv, err := snap.CheckOverride(key, o.Value); err != nil {
			e.active, e.problem = false, "value "+fmtValue(o.Value)+" is no longer valid: "+err.Error()
		} else {
			e.value = cv
		}
	}
	return e
}

// defaultChange reports, from the audit log, whether the default variant
// of a flag changed in this environment since t, and how.
func (c *Console) defaultChange(ctx context.Context, key string, t time.Time) string {
	if c.opts.Audit == nil || t.IsZero() {
		return ""
	}
	entries, err := c.opts.Audit.Audit(ctx, flagon.AuditQuery{Target: key, Since: t, Limit: 50})
	if err != nil {
		c.log.Warn("admin: read audit", "flag", key, "err", err)
		return ""
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, "flag.") || len(e.Before) == 0 || len(e.After) == 0 || e.Time.Before(t) {
			continue
		}
		var before, after flagon.Flag
		if json.Unmarshal(e.Before, &before) != nil || json.Unmarshal(e.After, &after) != nil {
			continue
		}
		b := before.Normalize().In(c.opts.Environment).Default
		a := after.Normalize().In(c.opts.Environment).Default
		if a != b {
			return fmt.Sprintf("the flag's default changed from %s to %s (%s, by %s) after this override was set", b, a, fmtTime(e.Time), e.Actor)
		}
	}
	return ""
}

// overridesPage shows every flag, what this browser gets and why, and the
// controls to override it, for this browser or this login.
func (c *Console) overridesPage(w http.ResponseWriter, r *http.Request, q *request) {
	c.renderOverrides(w, r, q, http.StatusOK, nil, nil, 0)
}

// renderOverrides renders the overrides page. posted holds the form's
// selections to show instead of the saved ones, errs the messages by flag.
func (c *Console) renderOverrides(w http.ResponseWriter, r *http.Request, q *request, status int, posted map[string]string, errs map[string]string, dur int64) {
	ctx := r.Context()
	snap := c.snapshot()
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	d := &overridesData{
		Scope:         form.Get("scope"),
		Q:             strings.TrimSpace(form.Get("q")),
		Tag:           form.Get("tag"),
		Owner:         form.Get("owner"),
		Durations:     durationChoices,
		Duration:      dur,
		Errors:        len(errs),
		DurationError: errs["duration"],
	}
	if d.Scope != scopeLogin {
		d.Scope = scopeBrowser
	}
	if d.Duration == 0 {
		d.Duration = defaultDurationSeconds
	}
	d.Query = filterQuery(d.Scope, d.Q, d.Tag, d.Owner)

	cookie, note := c.cookieEntries(r, snap)
	d.CookieNote = note
	login, err := c.loginEntries(ctx, q.principal.Name, snap)
	if err != nil {
		c.serverError(w, r, "read your login's overrides", err)
		return
	}
	if c.opts.UserOverrides == nil {
		d.LoginNote = "Overrides for your login need a store: " + c.readNote + "."
	}
	layers := flagonhttp.OverrideLayers(ctx)
	ec, note := c.userContext(r, q)
	d.As, d.AsNote = ec.Key, note

	mine := cookie
	if d.Scope == scopeLogin {
		mine = login
	}
	byFlag := make(map[string]scopeEntry, len(mine))
	for _, e := range mine {
		byFlag[e.flag] = e
		if !e.active {
			d.Stale = append(d.Stale, staleRow{Flag: e.flag, Value: fmtValue(e.value), SetAt: e.setAt, ExpiresAt: e.expires, Problem: e.problem})
			continue
		}
		if e.active {
			d.Count++
			if msg := c.defaultChange(ctx, e.flag, e.setAt); msg != "" {
				d.Stale = append(d.Stale, staleRow{Flag: e.flag, Value: fmtValue(e.value), SetAt: e.setAt, ExpiresAt: e.expires, Problem: msg, Active: true})
			}
		}
	}

	tags, owners := map[string]bool{}, map[string]bool{}
	for _, key := range snap.Keys() {
		f, _ := snap.Flag(key)
		for _, t := range f.Tags {
			tags[t] = true
		}
		if f.Owner != "" {
			owners[f.Owner] = true
		}
		d.Total++
		if !matchFilter(f, d.Q, d.Tag, d.Owner) {
			continue
		}
		x := snap.Explain(key, ec, layers...)
		row := overrideRow{
			Key: key, Description: f.Description, Owner: f.Owner, Tags: f.Tags, Type: f.Type,
			Default: f.Default, Value: x.Result.Value, Variant: x.Result.Variant, Why: explain(f, x),
		}
		row.DefaultValue, _ = snap.VariantValue(key, f.Default)
		if _, err := c.policy.Permit(r, snap, key); err != nil {
			row.Locked = "This flag may not be overridden."
		} else {
			row.Overridable = true
		}
		if d.Scope == scopeLogin && c.opts.UserOverrides == nil {
			row.Overridable, row.Locked = false, ""
		}
		e, has := byFlag[key]
		if has && e.active {
			row.Overridden = true
			row.Expires = e.expires
			row.Selected = variantName(snap, key, e.value)
			if row.Selected == "" {
				row.Selected = keepPrefix + fmtValue(e.value)
			}
		}
		if sel, ok := posted[key]; ok {
			row.Selected = sel
		}
		row.Error = errs[key]
		fillChoices(&row, f)
		d.Rows = append(d.Rows, row)
	}
	d.Tags, d.Owners = sortedKeys(tags), sortedKeys(owners)
	p := c.newPage(r, "Overrides", "overrides", d)
	if len(errs) > 0 {
		p.Error = "Nothing was saved: fix the marked flags and save again."
	}
	c.render(w, status, "overrides", p)
}

// fillChoices sets a row's controls: radios for a bool flag, else a
// select of the variants its policy allows.
func fillChoices(row *overrideRow, f flagon.Flag) {
	allowed := func(name string) bool {
		return len(f.Override.Variants) == 0 || slices.Contains(f.Override.Variants, name)
	}
	if f.Type == flagon.TypeBool {
		row.Bool = true
		for _, v := range f.Variants {
			if b, ok := v.Value.(bool); ok && allowed(v.Name) {
				if b && row.OnVariant == "" {
					row.OnVariant = v.Name
				}
				if !b && row.OffVariant == "" {
					row.OffVariant = v.Name
				}
			}
		}
		return
	}
	row.Choices = append(row.Choices, choice{Value: "", Label: "Default (no override)", Selected: row.Selected == ""})
	if strings.HasPrefix(row.Selected, keepPrefix) {
		row.Choices = append(row.Choices, choice{Value: row.Selected, Label: "Keep " + strings.TrimPrefix(row.Selected, keepPrefix), Selected: true})
	}
	for _, v := range f.Variants {
		if !allowed(v.Name) {
			continue
		}
		row.Choices = append(row.Choices, choice{Value: v.Name, Label: v.Name + " = " + fmtValue(v.Value), Selected: row.Selected == v.Name})
	}
}

// variantName returns the name of the variant of flag key whose value is
// v, or "".
func variantName(snap *flagon.Snapshot, key string, v any) string {
	f, ok := snap.Flag(key)
	if !ok {
		return ""
	}
	for _, vr := range f.Variants {
		if sameValue(vr.Value, v) {
			return vr.Name
		}
	}
	return ""
}

// sameValue compares two flag values by their JSON.
func sameValue(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// matchFilter reports whether f passes the page's filter: q in the key or
// description, the tag, the owner.
func matchFilter(f flagon.Flag, q, tag, owner string) bool {
	if q != "" {
		lq := strings.ToLower(q)
		if !strings.Contains(f.Key, lq) && !strings.Contains(strings.ToLower(f.Description), lq) {
			return false
		}
	}
	if tag != "" && !slices.Contains(f.Tags, tag) {
		return false
	}
	if owner != "" && f.Owner != owner {
		return false
	}
	return true
}

func filterQuery(scope, q, tag, owner string) string {
	v := url.Values{}
	if scope == scopeLogin {
		v.Set("scope", scope)
	}
	if q != "" {
		v.Set("q", q)
	}
	if tag != "" {
		v.Set("tag", tag)
	}
	if owner != "" {
		v.Set("owner", owner)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// backToOverrides is where a POST on the overrides page sends the browser.
func backToOverrides(r *http.Request) string {
	f := r.PostForm
	return "overrides" + filterQuery(f.Get("scope"), strings.TrimSpace(f.Get("q")), f.Get("tag"), f.Get("owner"))
}

// parseSeconds reads a duration in seconds from a form.
func parseSeconds(s string) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > flagonhttp.MaxDurationSeconds {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// overrideChange is one change the overrides form asks for.
type overrideChange struct {
	key    string
	value  any
	d      time.Duration // how long the override lasts
	remove bool
}

// overrideForm is the overrides page's form as posted.
type overrideForm struct {
	scope    string
	dur      time.Duration
	durOK    bool
	selected map[string]string // flag → the form value chosen, for the flags the form holds
}

// parseOverrideForm reads the overrides page's form.
func parseOverrideForm(r *http.Request, snap *flagon.Snapshot) overrideForm {
	f := overrideForm{scope: r.PostForm.Get("scope"), selected: map[string]string{}}
	if f.scope != scopeLogin {
		f.scope = scopeBrowser
	}
	f.dur, f.durOK = parseSeconds(r.PostForm.Get("duration"))
	for _, key := range snap.Keys() {
		if vals := r.PostForm["v."+key]; len(vals) > 0 {
			f.selected[key] = vals[0]
		}
	}
	return f
}

// checkOverrides turns the form into changes to the scope's current
// entries, checking each against the flag and the override policy. errs
// holds a message for each refused change, by flag ("duration" for the
// duration); capped says a flag's policy shortened the chosen duration.
func (c *Console) checkOverrides(r *http.Request, snap *flagon.Snapshot, form overrideForm, cur map[string]scopeEntry) (changes []overrideChange, errs map[string]string, capped bool) {
	errs = map[string]string{}
	for _, key := range snap.Keys() {
		sel, ok := form.selected[key]
		if !ok || strings.HasPrefix(sel, keepPrefix) {
			continue
		}
		e, has := cur[key]
		has = has && e.active
		switch {
		case sel == "":
			if has {
				changes = append(changes, overrideChange{key: key, remove: true})
			}
			continue
		case has && variantName(snap, key, e.value) == sel:
			continue
		}
		v, ok := snap.VariantValue(key, sel)
		if !ok {
			errs[key] = fmt.Sprintf("%q is not a variant of this flag.", sel)
			continue
		}
		if !form.durOK {
			errs["duration"] = "Choose how long the overrides last."
			continue
		}
		// One duration serves the whole form; a flag whose policy allows
		// less gets its longest instead, and the page says so.
		d := form.dur
		if f, ok := snap.Flag(key); ok && d > f.Override.EffectiveMaxDuration() {
			d, capped = f.Override.EffectiveMaxDuration(), true
		}
		cv, err := c.policy.Check(r, snap, key, v, d)
		if err != nil {
			errs[key] = policyMessage(err)
			continue
		}
		changes = append(changes, overrideChange{key: key, value: cv, d: d})
	}
	return changes, errs, capped
}

// saveOverrides applies the overrides page's form to this browser's
// cookie or this login's stored overrides. Every change is checked first;
// if any is refused, nothing is saved and the page comes back marked.
func (c *Console) saveOverrides(w http.ResponseWriter, r *http.Request, q *request) {
	snap := c.snapshot()
	form := parseOverrideForm(r, snap)
	durSecs := int64(form.dur / time.Second)
	var current []scopeEntry
	if form.scope == scopeLogin {
		if c.opts.UserOverrides == nil {
			c.renderError(w, r, http.StatusConflict, "Read-only", "Overrides for your login need a store: "+c.readNote+".")
			return
		}
		var err error
		if current, err = c.loginEntries(r.Context(), q.principal.Name, snap); err != nil {
			c.serverError(w, r, "read your login's overrides", err)
			return
		}
	} else {
		current, _ = c.cookieEntries(r, snap)
	}
	cur := make(map[string]scopeEntry, len(current))
	for _, e := range current {
		cur[e.flag] = e
	}
	changes, errs, capped := c.checkOverrides(r, snap, form, cur)
	if len(errs) > 0 {
		c.renderOverrides(w, r, q, http.StatusBadRequest, form.selected, errs, durSecs)
		return
	}
	if len(changes) == 0 {
		c.redirect(w, r, q, backToOverrides(r), "nothing-to-do")
		return
	}
	if form.scope == scopeLogin {
		if err := c.applyLogin(r.Context(), q, changes); err != nil {
			c.serverError(w, r, "save your login's overrides", err)
			return
		}
	} else if err := c.applyBrowser(w, r, q, changes, cur); err != nil {
		c.renderOverrides(w, r, q, http.StatusBadRequest, form.selected, map[string]string{"duration": err.Error()}, durSecs)
		return
	}
	for _, ch := range changes {
		c.log.Info("admin: override", "scope", form.scope, "user", q.principal.Name, "flag", ch.key, "value", ch.value, "removed", ch.remove)
	}
	done := "saved"
	if capped {
		done = "saved-capped"
	}
	c.redirect(w, r, q, backToOverrides(r), done)
}

// applyLogin saves changes to the signed-in user's stored overrides.
func (c *Console) applyLogin(ctx context.Context, q *request, changes []overrideChange) error {
	now := c.now()
	for _, ch := range changes {
		var err error
		if ch.remove {
			err = c.opts.UserOverrides.DeleteUserOverride(ctx, q.principal.Name, ch.key, c.change(q, "override removed in the console"))
		} else {
			o := flagon.Override{Value: ch.value, Source: flagonhttp.SourceUser, SetAt: now, ExpiresAt: now.Add(ch.d)}
			err = c.opts.UserOverrides.SetUserOverride(ctx, flagonhttp.UserOverride{User: q.principal.Name, Flag: ch.key, Override: o}, c.change(q, "override set in the console"))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyBrowser writes this browser's cookie with changes made to its
// current entries cur, and audits them. An error (the cookie would be too
// large) means nothing was written.
func (c *Console) applyBrowser(w http.ResponseWriter, r *http.Request, q *request, changes []overrideChange, cur map[string]scopeEntry) error {
	now := c.now()
	entries := make(map[string]flagonhttp.Entry, len(cur))
	for _, e := range cur {
		ent := e.entry
		ent.Status, ent.Problem = "", ""
		entries[e.flag] = ent
	}
	for _, ch := range changes {
		if ch.remove {
			delete(entries, ch.key)
			continue
		}
		entries[ch.key] = flagonhttp.Entry{Flag: ch.key, Value: ch.value, SetAt: now, ExpiresAt: now.Add(ch.d)}
	}
	if err := c.writeCookie(w, r, entries); err != nil {
		return err
	}
	events := make([]browserChange, 0, len(changes))
	for _, ch := range changes {
		bc := browserChange{flag: ch.key, after: ch.value, reason: "override set in this browser in the console"}
		if ch.remove {
			bc.reason = "override removed from this browser in the console"
		}
		if e, ok := cur[ch.key]; ok && e.active {
			bc.before = e.value
		}
		events = append(events, bc)
	}
	c.auditBrowser(r.Context(), q, events)
	return nil
}

// writeCookie writes the override cookie holding entries.
func (c *Console) writeCookie(w http.ResponseWriter, r *http.Request, entries map[string]flagonhttp.Entry) error {
	list := make([]flagonhttp.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b flagonhttp.Entry) int { return strings.Compare(a.Flag, b.Flag) })
	if err := c.codec.Write(w, r, list); err != nil {
		if errors.Is(err, flagonhttp.ErrTooLarge) {
			return errors.New("Too many overrides to fit in the cookie; remove some first.")
		}
		return err
	}
	return nil
}

// policyMessage turns a policy refusal into a sentence.
func policyMessage(err error) string {
	var pe *flagonhttp.PolicyError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, flagonhttp.ErrNotOverridable):
			return "This flag may not be overridden."
		case errors.Is(err, flagonhttp.ErrDurationNotAllowed):
			return "That duration is not allowed for this flag: " + pe.Msg + "."
		case errors.Is(err, flagonhttp.ErrValueNotAllowed):
			return "That value is not allowed: " + pe.Msg + "."
		case errors.Is(err, flagon.ErrNotFound):
			return "This flag no longer exists."
		}
	}
	return err.Error()
}

// removeOverride removes one override (active or stale) from a scope.
func (c *Console) removeOverride(w http.ResponseWriter, r *http.Request, q *request) {
	key := r.PostForm.Get("flag")
	if r.PostForm.Get("scope") == scopeLogin {
		if c.opts.UserOverrides == nil {
			c.renderError(w, r, http.StatusConflict, "Read-only", "Overrides for your login need a store: "+c.readNote+".")
			return
		}
		if err := c.opts.UserOverrides.DeleteUserOverride(r.Context(), q.principal.Name, key, c.change(q, "override removed in the console")); err != nil {
			c.serverError(w, r, "remove the override", err)
			return
		}
	} else {
		current, _ := c.cookieEntries(r, c.snapshot())
		entries := make(map[string]flagonhttp.Entry, len(current))
		var removed []browserChange
		for _, e := range current {
			if e.flag == key {
				removed = append(removed, browserChange{flag: e.flag, before: e.value, reason: "override removed from this browser in the console"})
				continue
			}
			ent := e.entry
			ent.Status, ent.Problem = "", ""
			entries[e.flag] = ent
		}
		if err := c.writeCookie(w, r, entries); err != nil {
			c.serverError(w, r, "remove the override", err)
			return
		}
		c.auditBrowser(r.Context(), q, removed)
	}
	c.log.Info("admin: override removed", "scope", r.PostForm.Get("scope"), "user", q.principal.Name, "flag", key)
	c.redirect(w, r, q, backToOverrides(r), "removed")
}

// clearOverrides removes every override of a scope.
func (c *Console) clearOverrides(w http.ResponseWriter, r *http.Request, q *request) {
	if r.PostForm.Get("scope") == scopeLogin {
		if c.opts.UserOverrides == nil {
			c.renderError(w, r, http.StatusConflict, "Read-only", "Overrides for your login need a store: "+c.readNote+".")
			return
		}
		m, err := c.opts.UserOverrides.UserOverrides(r.Context(), q.principal.Name)
		if err != nil {
			c.serverError(w, r, "read your login's overrides", err)
			return
		}
		for key := range m {
			if err := c.opts.UserOverrides.DeleteUserOverride(r.Context(), q.principal.Name, key, c.change(q, "overrides cleared in the console")); err != nil {
				c.serverError(w, r, "clear your login's overrides", err)
				return
			}
		}
	} else {
		current, _ := c.cookieEntries(r, c.snapshot())
		c.codec.Delete(w, r)
		removed := make([]browserChange, 0, len(current))
		for _, e := range current {
			removed = append(removed, browserChange{flag: e.flag, before: e.value, reason: "overrides cleared from this browser in the console"})
		}
		c.auditBrowser(r.Context(), q, removed)
	}
	c.log.Info("admin: overrides cleared", "scope", r.PostForm.Get("scope"), "user", q.principal.Name)
	c.redirect(w, r, q, backToOverrides(r), "cleared")
}

// browserChange is one flag's override changed in this browser's cookie:
// before is the value it held (nil for none), after the new value (nil
// when removed), reason the audit entry's.
type browserChange struct {
	flag          string
	before, after any
	reason        string
}

// auditBrowser appends an audit entry for each change to this browser's
// override cookie, when the console has a store: a cookie is no stored
// record, so no store write audits it. A failure is logged; the cookie is
// written already. The console does not call Overrides.OnOverride, which
// is the override link's.
func (c *Console) auditBrowser(ctx context.Context, q *request, changes []browserChange) {
	if c.opts.Audit == nil {
		return
	}
	for _, ch := range changes {
		e := flagon.AuditEntry{
			Actor: q.principal.Name, Action: ActionBrowserOverrideSet, Target: ch.flag,
			Environment: c.opts.Environment, Reason: ch.reason,
		}
		if ch.after == nil {
			e.Action = ActionBrowserOverrideRemove
		}
		var err error
		if e.Before, err = valueJSON(ch.before); err == nil {
			e.After, err = valueJSON(ch.after)
		}
		if err == nil {
			err = c.opts.Audit.AppendAudit(ctx, e)
		}
		if err != nil {
			c.log.Error("admin: audit a browser override", "flag", ch.flag, "user", q.principal.Name, "action", e.Action, "err", err)
		}
	}
}

// The audit actions of overrides set in and removed from a browser's
// cookie, by the console or by an override link.
const (
	ActionBrowserOverrideSet    = "override.browser.set"
	ActionBrowserOverrideRemove = "override.browser.remove"
)

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
