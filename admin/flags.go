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
)

type flagRow struct {
	Key         string
	Description string
	Owner       string
	Tags        []string
	Type        flagon.Type
	Killed      bool
	Archived    bool
	Expires     time.Time
	Expired     bool
	Version     int64
	UpdatedAt   time.Time
	UpdatedBy   string
	Serving     string // what it serves, in one line
	Rules       int
	// Envs is the flag's state in each of Options.EnvironmentLinks.
	Envs []envCell
	// With a usage store: the last hour with counts, and the
	// evaluations of the last listDays days.
	LastEvaluated time.Time
	Week          int64
	Seen          seen
}

// envCell is a flag's state in one environment, for the flags list.
type envCell struct {
	Env     string
	Serving string
	Killed  bool
	Own     bool // the environment has settings of its own
}

type flagsData struct {
	Rows         []flagRow
	Envs         []EnvironmentLink
	Q            string
	Tag          string
	Owner        string
	ShowArchived bool
	Tags         []string
	Owners       []string
	Total        int
	// With a usage store: the usage columns, their sort, and how many
	// flags look ready to remove.
	HasUsage  bool
	UsageErr  bool // the counts could not be read
	Sort      string
	Sorts     []struct{ Value, Label string }
	Headers   map[string]sortHeader
	Removable int
}

// storedFlags returns every flag: the store's, archived ones included, or
// the snapshot's when there is no store.
func (c *Console) storedFlags(ctx context.Context) ([]flagon.StoredFlag, error) {
	if c.opts.Store != nil {
		return c.opts.Store.Flags(ctx)
	}
	defs := c.snapshot().Definitions()
	out := make([]flagon.StoredFlag, 0, len(defs.Flags))
	for _, f := range defs.Flags {
		out = append(out, flagon.StoredFlag{Flag: f})
	}
	slices.SortFunc(out, func(a, b flagon.StoredFlag) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// storedFlag returns one flag, or flagon.ErrNotFound.
func (c *Console) storedFlag(ctx context.Context, key string) (flagon.StoredFlag, error) {
	if c.opts.Store != nil {
		return c.opts.Store.Flag(ctx, key)
	}
	defs := c.snapshot().Definitions()
	if f, ok := defs.Flag(key); ok {
		return flagon.StoredFlag{Flag: f}, nil
	}
	return flagon.StoredFlag{}, flagon.ErrNotFound
}

// audienceNames returns the names of every audience.
func (c *Console) audienceNames(ctx context.Context) ([]string, error) {
	var names []string
	if c.opts.Store != nil {
		auds, err := c.opts.Store.Audiences(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range auds {
			names = append(names, a.Name)
		}
		return names, nil
	}
	for _, a := range c.snapshot().Definitions().Audiences {
		names = append(names, a.Name)
	}
	return names, nil
}

// flagsPage lists every flag.
func (c *Console) flagsPage(w http.ResponseWriter, r *http.Request, q *request) {
	fq := r.URL.Query()
	d := &flagsData{Q: strings.TrimSpace(fq.Get("q")), Tag: fq.Get("tag"), Owner: fq.Get("owner"), ShowArchived: fq.Get("archived") != "",
		HasUsage: c.opts.Usage != nil, Envs: c.opts.EnvironmentLinks}
	if d.HasUsage {
		if _, ok := flagSorts[fq.Get("sort")]; ok {
			d.Sort = fq.Get("sort")
		}
		d.Sorts = sortOptions
		d.Headers = sortHeaders(q.base, fq, d.Sort)
	}
	flags, err := c.storedFlags(r.Context())
	if err != nil {
		c.serverError(w, r, "read the flags", err)
		return
	}
	tags, owners := map[string]bool{}, map[string]bool{}
	for _, sf := range flags {
		f := sf.Flag.Normalize().In(c.opts.Environment)
		for _, t := range f.Tags {
			tags[t] = true
		}
		if f.Owner != "" {
			owners[f.Owner] = true
		}
		d.Total++
		if sf.Archived && !d.ShowArchived || !matchFilter(f, d.Q, d.Tag, d.Owner) {
			continue
		}
		row := flagRow{
			Key: f.Key, Description: f.Description, Owner: f.Owner, Tags: f.Tags, Type: f.Type,
			Killed: f.Disabled, Archived: sf.Archived, Expires: f.Expires, Expired: f.Expired(q.now),
			Version: sf.Version, UpdatedAt: sf.UpdatedAt, UpdatedBy: sf.UpdatedBy, Rules: len(f.Rules),
		}
		row.Serving = servingText(f)
		for _, l := range c.opts.EnvironmentLinks {
			fe := sf.Flag.Normalize().In(l.Name)
			_, own := sf.Flag.Environments[l.Name]
			row.Envs = append(row.Envs, envCell{Env: l.Name, Serving: servingText(fe), Killed: fe.Disabled, Own: own})
		}
		d.Rows = append(d.Rows, row)
	}
	d.Tags, d.Owners = sortedKeys(tags), sortedKeys(owners)
	if d.HasUsage {
		counts, err := c.allUsage(r.Context(), q.now.Add(-listDays*24*time.Hour), q.now.Add(-DefaultRemovableDays*24*time.Hour))
		if err != nil {
			// The list is still worth showing without its usage columns.
			c.log.Warn("admin: read usage", "err", err)
			d.HasUsage, d.UsageErr = false, true
		} else {
			d.Removable = addUsage(d.Rows, flags, counts, q.now)
			sortFlags(d.Rows, d.Sort)
		}
	}
	c.render(w, http.StatusOK, "flags", c.newPage(r, "Flags", "flags", d))
}

// servingText sums up what a flag serves in one line.
func servingText(f flagon.Flag) string {
	if f.Disabled {
		return f.Default + " (killed)"
	}
	s := serveText(f.Fallthrough, f.Default)
	if n := len(f.Rules); n > 0 {
		return fmt.Sprintf("%d rule%s, else %s", n, plural(n), s)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// flagData is what the flag page shows beside the form.
type flagData struct {
	Form    *flagForm
	History []flagon.AuditEntry
	Stored  *flagon.StoredFlag
	Usage   *flagUsageData // nil without a usage store, and for a new flag
	// Schedules are the flag's scheduled changes, pending first, then the
	// most recent others.
	Schedules []flagon.ScheduledChange
	// Requests are the flag's change requests that wait for review.
	Requests []flagon.ChangeRequest
	// Reviewed names the protected environment where the signed-in
	// editor's changes become change requests, if any.
	Reviewed string
	// StepRows numbers the scheduling form's rows.
	StepRows []int
}

// environments returns the environments the editor offers for f.
func (c *Console) environments(f flagon.Flag) []string {
	set := map[string]bool{}
	if c.opts.Environment != "" {
		set[c.opts.Environment] = true
	}
	for _, e := range c.opts.Environments {
		set[e] = true
	}
	for e := range f.Environments {
		set[e] = true
	}
	return sortedKeys(set)
}

// flagPage shows a flag in the editor (read-only without a store).
func (c *Console) flagPage(w http.ResponseWriter, r *http.Request, q *request) {
	key := r.PathValue("key")
	sf, err := c.storedFlag(r.Context(), key)
	if err != nil {
		c.fail(w, r, err, flagSubject(key), "read the flag")
		return
	}
	env := r.URL.Query().Get("env")
	if env != "" && !flagon.ValidKey(env) {
		env = ""
	}
	if _, given := r.URL.Query()["env"]; !given && len(c.opts.EnvironmentLinks) > 0 {
		env = c.opts.Environment // one environment at a time: this console's
	}
	ff := formFromFlag(sf, env)
	ff.Errors = map[string]string{}
	c.renderFlag(w, r, q, http.StatusOK, ff, &sf)
}

// renderFlag renders the flag editor with ff.
func (c *Console) renderFlag(w http.ResponseWriter, r *http.Request, q *request, status int, ff *flagForm, sf *flagon.StoredFlag) {
	ctx := r.Context()
	ff.ReadOnly = c.opts.Store == nil || q.principal.Role < RoleEditor
	ff.NeedConfirm = c.production(ff.Env)
	var err error
	if ff.Audiences, err = c.audienceNames(ctx); err != nil {
		c.serverError(w, r, "read the audiences", err)
		return
	}
	base := flagon.Flag{}
	if sf != nil {
		base = sf.Flag
	}
	ff.Envs = c.environments(base)
	if ff.Env != "" && !slices.Contains(ff.Envs, ff.Env) {
		ff.Envs = append(ff.Envs, ff.Env)
	}
	if !ff.ReadOnly {
		ff.addBlanks()
	}
	d := &flagData{Form: ff, Stored: sf}
	if sf != nil && !ff.New {
		d.Usage = c.flagUsage(ctx, sf.Flag, ff.Env, q.now)
	}
	if c.opts.Schedules != nil && !ff.New {
		d.Schedules = c.flagSchedules(ctx, ff.Key)
		for i := range maxFormSteps {
			d.StepRows = append(d.StepRows, i)
		}
	}
	if c.opts.ChangeRequests != nil && !ff.New {
		d.Requests = c.flagRequests(ctx, ff.Key)
	}
	if !ff.ReadOnly {
		d.Reviewed = c.unprivileged(q)
	}
	if c.opts.Audit != nil && !ff.New {
		d.History, err = c.opts.Audit.Audit(ctx, flagon.AuditQuery{Target: ff.Key, Limit: 10})
		if err != nil {
			c.log.Warn("admin: read flag history", "flag", ff.Key, "err", err)
		}
	}
	title := "Flag " + ff.Key
	if ff.New {
		title = "New flag"
	}
	p := c.newPage(r, title, "flags", d)
	if len(ff.Errors) > 0 && ff.Conflict == nil {
		p.Error = "Nothing was saved: fix the marked fields and save again."
	}
	c.render(w, status, "flag", p)
}

// newFlagPage shows an empty flag form.
func (c *Console) newFlagPage(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Flags")
		return
	}
	ff := &flagForm{New: true, Type: "bool", Errors: map[string]string{},
		Variants: []variantRow{{Name: "on", Value: "true"}, {Name: "off", Value: "false", Default: true}}}
	if t := r.URL.Query().Get("type"); slices.Contains(ff.Types(), t) && t != "bool" {
		ff.Type, ff.Variants = t, nil
	}
	c.renderFlag(w, r, q, http.StatusOK, ff, nil)
}

// createFlag creates a flag from the new-flag form.
func (c *Console) createFlag(w http.ResponseWriter, r *http.Request, q *request) {
	c.saveFlag(w, r, q, true)
}

// updateFlag saves the flag editor's form.
func (c *Console) updateFlag(w http.ResponseWriter, r *http.Request, q *request) {
	c.saveFlag(w, r, q, false)
}

// saveFlag saves the flag form: parse, check, then apply onto the stored
// flag and write it. A refused form comes back as sent, its errors beside
// the fields.
func (c *Console) saveFlag(w http.ResponseWriter, r *http.Request, q *request, isNew bool) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Flags")
		return
	}
	ctx := r.Context()
	ff := formFromPost(r.PostForm, isNew)
	var stored *flagon.StoredFlag
	base := flagon.Flag{}
	if !isNew {
		ff.Key = r.PathValue("key")
		sf, err := c.opts.Store.Flag(ctx, ff.Key)
		if err != nil {
			c.fail(w, r, err, flagSubject(ff.Key), "read the flag")
			return
		}
		stored, base = &sf, sf.Flag
	}
	auds, err := c.audienceNames(ctx)
	if err != nil {
		c.serverError(w, r, "read the audiences", err)
		return
	}
	d := ff.parse()
	f := ff.apply(base, d)
	ff.check(f, d, auds)
	c.checkConfirm(c.production(ff.Env), ff.Confirm, ff.Reason, ff.Errors)
	if len(ff.Errors) > 0 {
		c.renderFlag(w, r, q, statusOf(flagon.ErrInvalid), ff, stored)
		return
	}
	version := ff.Version
	if isNew {
		version = 0
	} else if sameJSON(f.Normalize(), stored.Flag.Normalize()) {
		c.redirect(w, r, q, flagPath(ff.Key, ff.Env), "nothing-to-do")
		return
	}
	review := c.reviewEnv(q, base, f)
	if review != "" && !flagon.OnlyKills(base, f, review) {
		c.propose(w, r, q, flagon.ChangeRequest{Flag: f.Key, BaseVersion: version, Proposed: f}, review, ff.Reason)
		return
	}
	nv, err := c.opts.Store.PutFlag(ctx, f, version, c.change(q, ff.Reason))
	if err == nil && review != "" {
		c.recordEmergency(ctx, q, flagon.ChangeRequest{Flag: f.Key, BaseVersion: version, Proposed: f, Emergency: true}, review, ff.Reason)
	}
	switch {
	case errors.Is(err, flagon.ErrConflict):
		c.conflict(w, r, q, ff, f, isNew)
		return
	case errors.Is(err, flagon.ErrInvalid):
		ff.mapErrors(err, d.idx)
		c.renderFlag(w, r, q, statusOf(err), ff, stored)
		return
	case err != nil:
		c.fail(w, r, err, flagSubject(ff.Key), "save the flag")
		return
	}
	c.log.Info("admin: flag saved", "flag", f.Key, "version", nv, "by", q.principal.Name, "reason", ff.Reason)
	done := "flag-saved"
	if isNew {
		done = "flag-created"
	}
	c.redirect(w, r, q, flagPath(f.Key, ff.Env), done)
}

// flagSubject names a flag in the sentences of error pages.
func flagSubject(key string) string { return "flag " + strconv.Quote(key) }

// flagPath is the editor's path for a flag and environment.
func flagPath(key, env string) string {
	if env != "" {
		return "flags/" + key + "?env=" + url.QueryEscape(env)
	}
	return "flags/" + key
}

// production reports whether a change to env's settings of a flag asks
// for a confirmation and a reason; env "" is what every environment
// shares, production-like if any environment is.
func (c *Console) production(env string) bool {
	if c.opts.Production {
		return true
	}
	for _, l := range c.opts.EnvironmentLinks {
		if l.Production && (env == "" || l.Name == env) {
			return true
		}
	}
	return false
}

// checkConfirm records the errors of a production change (prod) that
// lacks its confirmation or reason.
func (c *Console) checkConfirm(prod, confirm bool, reason string, errs map[string]string) {
	if !prod {
		return
	}
	if !confirm {
		errs["confirm"] = "this is a production change: tick the box to confirm it"
	}
	if strings.TrimSpace(reason) == "" {
		errs["reason"] = "say why: the reason goes in the audit log"
	}
	if len(reason) > 1000 {
		errs["reason"] = "keep the reason under 1000 characters"
	}
}

// conflict answers a save that lost to a newer version: the form comes
// back as typed, with the newer version shown beside it. The form now
// names the newer version, so saving again replaces it knowingly.
func (c *Console) conflict(w http.ResponseWriter, r *http.Request, q *request, ff *flagForm, yours flagon.Flag, isNew bool) {
	theirs, err := c.opts.Store.Flag(r.Context(), ff.Key)
	if err != nil {
		c.serverError(w, r, "read the newer version of the flag", err)
		return
	}
	if isNew {
		ff.Errors["key"] = "a flag with this key already exists (it may be archived); choose another key"
		c.renderFlag(w, r, q, statusOf(flagon.ErrConflict), ff, nil)
		return
	}
	tj, _ := json.MarshalIndent(theirs.Flag, "", "  ")
	ff.Conflict = &conflictInfo{
		Version: theirs.Version, UpdatedBy: theirs.UpdatedBy, UpdatedAt: theirs.UpdatedAt,
		Diffs: diffFlags(theirs.Flag, yours), Theirs: string(tj),
	}
	ff.Version = theirs.Version
	ff.Errors[""] = fmt.Sprintf("someone else saved version %d of this flag while you were editing; nothing of yours was saved", theirs.Version)
	c.renderFlag(w, r, q, statusOf(flagon.ErrConflict), ff, &theirs)
}

// diffFlags lists the top-level fields in which two flags differ.
func diffFlags(theirs, yours flagon.Flag) []fieldDiff {
	var a, b map[string]json.RawMessage
	ja, _ := json.Marshal(theirs.Normalize())
	jb, _ := json.Marshal(yours.Normalize())
	json.Unmarshal(ja, &a)
	json.Unmarshal(jb, &b)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []fieldDiff
	for _, k := range sortedKeys(keys) {
		if string(a[k]) != string(b[k]) {
			out = append(out, fieldDiff{Field: k, Theirs: rawText(a[k]), Yours: rawText(b[k])})
		}
	}
	return out
}

func rawText(m json.RawMessage) string {
	if len(m) == 0 {
		return "—"
	}
	return string(m)
}

// confirmData is the production confirmation page of a one-click change.
type confirmData struct {
	Action  string // the path to POST to, relative to the console
	What    string
	Fields  map[string]string
	Reason  string
	Errors  map[string]string
	Confirm bool
}

// needsConfirmation shows the confirmation page when a one-click change
// in production lacks its confirmation or reason, and reports whether it
// did.
func (c *Console) needsConfirmation(w http.ResponseWriter, r *http.Request, env, action, what string, fields map[string]string) bool {
	if !c.production(env) {
		return false
	}
	d := &confirmData{Action: action, What: what, Fields: fields, Reason: strings.TrimSpace(r.PostForm.Get("reason")),
		Confirm: r.PostForm.Get("confirm") != "", Errors: map[string]string{}}
	c.checkConfirm(true, d.Confirm, d.Reason, d.Errors)
	if len(d.Errors) == 0 {
		return false
	}
	status := http.StatusOK
	if r.PostForm.Get("confirming") != "" {
		status = statusOf(flagon.ErrInvalid)
	} else {
		d.Errors = map[string]string{} // a first view asks; it does not scold
	}
	c.render(w, status, "confirm", c.newPage(r, "Confirm a production change", "flags", d))
	return true
}

// archiveFlag archives or restores a flag.
func (c *Console) archiveFlag(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Flags")
		return
	}
	key := r.PathValue("key")
	archive := r.PostForm.Get("archived") != "0"
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	what := "Archive flag " + key + ": it stops being served, and code that reads it gets its default."
	if !archive {
		what = "Restore flag " + key + "."
	}
	if c.needsConfirmation(w, r, "", "flags/"+key+"/archive", what, map[string]string{"version": strconv.FormatInt(version, 10), "archived": boolDigit(archive)}) {
		return
	}
	if c.unprivileged(q) != "" {
		// Archiving changes every environment and is no emergency:
		// in a protected one it takes an admin there (docs/decisions/0173).
		c.fail(w, r, ErrForbidden, flagSubject(key)+" in a protected environment", "archive the flag")
		return
	}
	_, err := c.opts.Store.ArchiveFlag(r.Context(), key, archive, version, c.change(q, strings.TrimSpace(r.PostForm.Get("reason"))))
	if c.writeFailed(w, r, key, err) {
		return
	}
	c.log.Info("admin: flag archived", "flag", key, "archived", archive, "by", q.principal.Name)
	done := "flag-archived"
	if !archive {
		done = "flag-restored"
	}
	c.redirect(w, r, q, "flags/"+key, done)
}

// killFlag turns a flag's kill switch on or off in the console's
// environment. It takes no confirmation outside production, so its flash
// offers an Undo: the same POST with the state before and the version the
// kill made (undo=1), which the version check refuses if anything changed
// the flag since. Both are audited.
func (c *Console) killFlag(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Flags")
		return
	}
	ctx := r.Context()
	key := r.PathValue("key")
	kill := r.PostForm.Get("disabled") != "0"
	undo := r.PostForm.Get("undo") != ""
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	what := "Turn on the kill switch of " + key + ": everyone gets its default variant."
	if !kill {
		what = "Turn off the kill switch of " + key + ": its rules apply again."
	}
	fields := map[string]string{"version": strconv.FormatInt(version, 10), "disabled": boolDigit(kill), "back": r.PostForm.Get("back")}
	if undo {
		fields["undo"] = "1"
	}
	if c.needsConfirmation(w, r, c.opts.Environment, "flags/"+key+"/kill", what, fields) {
		return
	}
	sf, err := c.opts.Store.Flag(ctx, key)
	if c.writeFailed(w, r, key, err) {
		return
	}
	if sf.Version != version {
		c.writeFailed(w, r, key, flagon.ErrConflict)
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if undo && reason == "" {
		reason = "undo"
	}
	nf := setKill(sf.Flag, c.opts.Environment, kill)
	review := c.reviewEnv(q, sf.Flag, nf)
	if review != "" && !flagon.OnlyKills(sf.Flag, nf, review) {
		// Turning a flag back on is no emergency: it waits for approval.
		c.propose(w, r, q, flagon.ChangeRequest{Flag: key, BaseVersion: version, Proposed: nf}, review, reason)
		return
	}
	nv, err := c.opts.Store.PutFlag(ctx, nf, version, c.change(q, reason))
	if c.writeFailed(w, r, key, err) {
		return
	}
	if review != "" {
		c.recordEmergency(ctx, q, flagon.ChangeRequest{Flag: key, BaseVersion: version, Proposed: nf, Emergency: true}, review, reason)
		c.redirect(w, r, q, "flags/"+key, "flag-killed-review")
		return
	}
	c.log.Info("admin: kill switch", "flag", key, "disabled", kill, "undo", undo, "by", q.principal.Name)
	back := r.PostForm.Get("back")
	if !localPath(back) || back == "" {
		back = "flags/" + key
	}
	switch {
	case undo:
		c.redirect(w, r, q, back, "kill-undone")
	case kill:
		c.redirect(w, r, q, withUndo(back, key, nv), "flag-killed")
	default:
		c.redirect(w, r, q, withUndo(back, key, nv), "flag-unkilled")
	}
}

// withUndo adds to path the query that makes its flash offer to undo the
// kill switch change that made version v of flag key.
func withUndo(path, key string, v int64) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "undo=" + url.QueryEscape(key) + "&v=" + strconv.FormatInt(v, 10)
}

// setKill returns f with its kill switch set as env sees it: the flag's
// own when env is empty, else env's setting (removed when it would equal
// the flag's own).
func setKill(f flagon.Flag, env string, kill bool) flagon.Flag {
	if env == "" {
		f.Disabled = kill
		return f
	}
	envs := make(map[string]flagon.EnvSettings, len(f.Environments)+1)
	for k, v := range f.Environments {
		envs[k] = v
	}
	es := envs[env]
	if kill == f.Disabled {
		es.Disabled = nil
	} else {
		es.Disabled = &kill
	}
	if es == (flagon.EnvSettings{}) {
		delete(envs, env)
	} else {
		envs[env] = es
	}
	if len(envs) == 0 {
		envs = nil
	}
	f.Environments = envs
	return f
}

// writeFailed answers a failed one-click write to a flag and reports
// whether it failed.
func (c *Console) writeFailed(w http.ResponseWriter, r *http.Request, key string, err error) bool {
	if err == nil {
		return false
	}
	c.fail(w, r, err, flagSubject(key), "change the flag")
	return true
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
