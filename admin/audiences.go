package admin

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/flagon/flagon"
)

// audienceForm is the audience editor's form as typed.
type audienceForm struct {
	New         bool
	Name        string
	Description string
	Clauses     string
	Version     int64
	Reason      string
	Confirm     bool
	Errors      map[string]string
}

type audienceRow struct {
	flagon.Audience
	Version int64
	Clauses []string
	UsedBy  []string
}

type audiencesData struct {
	Rows        []audienceRow
	Form        *audienceForm // the new-audience form, or the one being edited
	Editing     bool
	NeedConfirm bool
}

// audiencesPage lists the audiences, with the form for a new one.
func (c *Console) audiencesPage(w http.ResponseWriter, r *http.Request, q *request) {
	c.renderAudiences(w, r, q, http.StatusOK, &audienceForm{New: true, Errors: map[string]string{}})
}

// audiencePage shows one audience in the editor.
func (c *Console) audiencePage(w http.ResponseWriter, r *http.Request, q *request) {
	name := r.PathValue("name")
	a, version, ok, err := c.findAudience(r, name)
	if err != nil {
		c.serverError(w, r, "read the audiences", err)
		return
	}
	if !ok {
		c.fail(w, r, flagon.ErrNotFound, audienceSubject(name), "")
		return
	}
	lines := make([]string, len(a.Clauses))
	for i, cl := range a.Clauses {
		lines[i] = clauseText(cl)
	}
	c.renderAudiences(w, r, q, http.StatusOK, &audienceForm{Name: a.Name, Description: a.Description,
		Clauses: strings.Join(lines, "\n"), Version: version, Errors: map[string]string{}})
}

func (c *Console) findAudience(r *http.Request, name string) (flagon.Audience, int64, bool, error) {
	if c.opts.Store == nil {
		a, ok := c.snapshot().Audience(name)
		return a, 0, ok, nil
	}
	auds, err := c.opts.Store.Audiences(r.Context())
	if err != nil {
		return flagon.Audience{}, 0, false, err
	}
	for _, a := range auds {
		if a.Name == name {
			return a.Audience, a.Version, true, nil
		}
	}
	return flagon.Audience{}, 0, false, nil
}

func (c *Console) renderAudiences(w http.ResponseWriter, r *http.Request, q *request, status int, form *audienceForm) {
	d := &audiencesData{Form: form, Editing: !form.New, NeedConfirm: c.production("")}
	var auds []flagon.StoredAudience
	if c.opts.Store != nil {
		var err error
		if auds, err = c.opts.Store.Audiences(r.Context()); err != nil {
			c.serverError(w, r, "read the audiences", err)
			return
		}
	} else {
		for _, a := range c.snapshot().Definitions().Audiences {
			auds = append(auds, flagon.StoredAudience{Audience: a})
		}
	}
	flags, err := c.storedFlags(r.Context())
	if err != nil {
		c.serverError(w, r, "read the flags", err)
		return
	}
	for _, a := range auds {
		row := audienceRow{Audience: a.Audience, Version: a.Version}
		for _, cl := range a.Clauses {
			row.Clauses = append(row.Clauses, clauseText(cl))
		}
		for _, sf := range flags {
			if !sf.Archived && usesAudience(sf.Flag, a.Name) {
				row.UsedBy = append(row.UsedBy, sf.Key)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	title := "Audiences"
	if d.Editing {
		title = "Audience " + form.Name
	}
	p := c.newPage(r, title, "audiences", d)
	if len(form.Errors) > 0 {
		p.Error = "Nothing was saved: fix the marked fields."
	}
	c.render(w, status, "audiences", p)
}

// usesAudience reports whether a flag's rules or policy, in any
// environment, name the audience.
func usesAudience(f flagon.Flag, name string) bool {
	check := func(rules []flagon.Rule) bool {
		for _, r := range rules {
			for _, a := range r.Audiences {
				if a == name {
					return true
				}
			}
		}
		return false
	}
	if check(f.Rules) || f.Override.Audience == name {
		return true
	}
	for _, e := range f.Environments {
		if e.Rules != nil && check(*e.Rules) {
			return true
		}
	}
	return false
}

// ErrAt returns the message for a field of the audience form.
func (f *audienceForm) ErrAt(field string) string { return f.Errors[field] }

// saveAudience creates (POST audiences/new) or updates an audience.
func (c *Console) saveAudience(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Audiences")
		return
	}
	pf := r.PostForm
	form := &audienceForm{
		New:         r.PathValue("name") == "",
		Name:        strings.TrimSpace(pf.Get("name")),
		Description: strings.TrimSpace(pf.Get("description")),
		Clauses:     pf.Get("clauses"),
		Reason:      strings.TrimSpace(pf.Get("reason")),
		Confirm:     pf.Get("confirm") != "",
		Errors:      map[string]string{},
	}
	if !form.New {
		form.Name = r.PathValue("name")
		// Flags of every environment share an audience, so changing one
		// changes what protected environments serve without review:
		// there, it takes an admin (docs/decisions/0173).
		if env := c.unprivileged(q); env != "" {
			c.fail(w, r, ErrForbidden, "audience "+form.Name+", shared by the protected environment "+env, "change the audience")
			return
		}
	}
	form.Version, _ = strconv.ParseInt(pf.Get("version"), 10, 64)
	a := flagon.Audience{Name: form.Name, Description: form.Description}
	n := 0
	for _, line := range strings.Split(form.Clauses, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cl, err := parseClauseLine(line)
		if err != nil {
			form.Errors[fmt.Sprintf("clauses[%d]", n)] = err.Error()
		}
		a.Clauses = append(a.Clauses, cl)
		n++
	}
	if err := a.Validate(); err != nil {
		mapAudienceErrors(form, err)
	}
	c.checkConfirm(c.production(""), form.Confirm, form.Reason, form.Errors)
	if len(form.Errors) > 0 {
		c.renderAudiences(w, r, q, statusOf(flagon.ErrInvalid), form)
		return
	}
	version := form.Version
	if form.New {
		version = 0
	}
	_, err := c.opts.Store.PutAudience(r.Context(), a, version, c.change(q, form.Reason))
	switch {
	case errors.Is(err, flagon.ErrConflict):
		if form.New {
			form.Errors["name"] = "an audience with this name already exists"
		} else {
			_, v, _, _ := c.findAudience(r, form.Name)
			form.Errors[""] = fmt.Sprintf("someone else saved version %d of this audience while you were editing; nothing of yours was saved. Your input is below: save again to replace theirs", v)
			form.Version = v
		}
		c.renderAudiences(w, r, q, statusOf(err), form)
		return
	case errors.Is(err, flagon.ErrInvalid):
		mapAudienceErrors(form, err)
		c.renderAudiences(w, r, q, statusOf(err), form)
		return
	case err != nil:
		c.fail(w, r, err, audienceSubject(form.Name), "save the audience")
		return
	}
	c.log.Info("admin: audience saved", "audience", a.Name, "by", q.principal.Name)
	c.redirect(w, r, q, "audiences", "audience-saved")
}

// audienceSubject names an audience in the sentences of error pages.
func audienceSubject(name string) string { return "audience " + strconv.Quote(name) }

var clauseIndexRe = regexp.MustCompile(`^clauses\[\d+\]`)

func mapAudienceErrors(form *audienceForm, err error) {
	fes := flagon.FieldErrorsOf(err)
	if fes == nil {
		form.Errors[""] = err.Error()
		return
	}
	for _, fe := range fes {
		field := fe.Field
		if fe.Flag != "" {
			field = ""
		}
		if old, ok := form.Errors[field]; ok {
			form.Errors[field] = old + "; " + fe.Msg
		} else {
			form.Errors[field] = fe.Msg
		}
	}
}

// ClauseErrors returns the messages about clauses.
func (f *audienceForm) ClauseErrors() string {
	var msgs []string
	for k, v := range f.Errors {
		if k == "clauses" || clauseIndexRe.MatchString(k) {
			msgs = append(msgs, v)
		}
	}
	return strings.Join(msgs, " ")
}

// deleteAudience deletes an audience that no live flag uses.
func (c *Console) deleteAudience(w http.ResponseWriter, r *http.Request, q *request) {
	if c.opts.Store == nil {
		c.readOnly(w, r, "Audiences")
		return
	}
	name := r.PathValue("name")
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if c.needsConfirmation(w, r, "", "audiences/"+name+"/delete", "Delete audience "+name+".", map[string]string{"version": strconv.FormatInt(version, 10)}) {
		return
	}
	err := c.opts.Store.DeleteAudience(r.Context(), name, version, c.change(q, strings.TrimSpace(r.PostForm.Get("reason"))))
	if errors.Is(err, flagon.ErrInvalid) {
		// The store refuses to delete an audience that flags still use.
		err = fmt.Errorf("%w: %w", errInUse, err)
	}
	if err != nil {
		c.fail(w, r, err, audienceSubject(name), "delete the audience")
		return
	}
	c.log.Info("admin: audience deleted", "audience", name, "by", q.principal.Name)
	c.redirect(w, r, q, "audiences", "audience-deleted")
}
