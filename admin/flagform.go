package admin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// blankRows is how many empty variant rows the flag form offers, so that
// variants can be added without script.
const blankRows = 2

// maxFormRows bounds the rows a posted flag form may claim.
const maxFormRows = 200

// flagForm is the flag editor's form as text, so that a form that fails
// validation comes back exactly as typed.
type flagForm struct {
	New      bool
	ReadOnly bool
	Archived bool

	Key         string
	Description string
	Owner       string
	Tags        string
	Expires     string
	Type        string
	Salt        string
	Version     int64

	Env      string   // the environment whose targeting is edited; "" is the base
	Envs     []string // environments to choose from
	EnvOwn   bool     // Env has settings of its own
	EnvReset bool     // drop Env's own settings
	EnvNote  string

	Variants []variantRow
	Disabled bool
	Rules    []ruleForm
	Fall     serveForm

	Who            string
	PolicyAudience string
	PolicyVariants []string
	MaxDuration    string

	Audiences []string // every audience, for the rule checkboxes

	Reason      string
	Confirm     bool
	NeedConfirm bool

	Errors   map[string]string
	Conflict *conflictInfo
}

type variantRow struct {
	Name    string
	Value   string
	Default bool
}

type ruleForm struct {
	ID          string
	Description string
	Audiences   []string
	Clauses     string
	Serve       serveForm
	Order       string
	Delete      bool
	Blank       bool // the empty rule offered for adding one
}

// serveForm is what a rule or the fallthrough serves: Mode is a variant
// name, "split", or "" (the default variant; fallthrough only).
type serveForm struct {
	Mode  string
	Split []splitRow
	By    string
}

type splitRow struct {
	Variant string
	Percent string
}

// conflictInfo describes the newer version that beat a save.
type conflictInfo struct {
	Version   int64
	UpdatedBy string
	UpdatedAt time.Time
	Diffs     []fieldDiff
	Theirs    string // their flag as JSON
}

type fieldDiff struct {
	Field  string
	Theirs string
	Yours  string
}

// ErrAt returns the message for exactly the field path p.
func (f *flagForm) ErrAt(p string) string { return f.Errors[p] }

// ErrUnder returns the messages for p and the fields under it.
func (f *flagForm) ErrUnder(p string) string {
	var msgs []string
	for _, k := range f.errorKeys() {
		if k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[") {
			msgs = append(msgs, f.Errors[k])
		}
	}
	return strings.Join(msgs, " ")
}

// AllErrors lists every error as "field: message", sorted.
func (f *flagForm) AllErrors() []string {
	var out []string
	for _, k := range f.errorKeys() {
		out = append(out, fieldLabel(k)+": "+f.Errors[k])
	}
	return out
}

func (f *flagForm) errorKeys() []string {
	keys := make([]string, 0, len(f.Errors))
	for k := range f.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// VariantNames returns the names in the variant rows.
func (f *flagForm) VariantNames() []string {
	var out []string
	for _, v := range f.Variants {
		if v.Name != "" {
			out = append(out, v.Name)
		}
	}
	return out
}

// Types lists the flag types for the type select.
func (f *flagForm) Types() []string {
	return []string{"bool", "string", "int", "float", "object"}
}

// fieldLabel turns a field path into words for the error summary.
func fieldLabel(p string) string {
	r := strings.NewReplacer("rules[", "rule ", "variants[", "variant ", "split[", "share ", "clauses[", "clause ", "audiences[", "audience ", "]", "", ".", " › ", "_", " ")
	s := r.Replace(p)
	// Form indexes are 0-based; people count from 1.
	return numRe.ReplaceAllStringFunc(s, func(n string) string {
		i, _ := strconv.Atoi(strings.TrimSpace(n))
		return " " + strconv.Itoa(i+1)
	})
}

var numRe = regexp.MustCompile(` \d+`)

// formFromFlag fills a form from a stored flag, showing env's targeting.
func formFromFlag(sf flagon.StoredFlag, env string) *flagForm {
	f := sf.Flag.Normalize()
	ff := &flagForm{
		Key: f.Key, Description: f.Description, Owner: f.Owner, Tags: strings.Join(f.Tags, ", "),
		Type: string(f.Type), Salt: f.Salt, Version: sf.Version, Archived: sf.Archived, Env: env,
		Who: string(f.Override.Who), PolicyAudience: f.Override.Audience, PolicyVariants: f.Override.Variants,
	}
	if !f.Expires.IsZero() {
		ff.Expires = f.Expires.UTC().Format("2006-01-02")
	}
	if f.Override.MaxDuration > 0 {
		ff.MaxDuration = formatDuration(f.Override.MaxDuration)
	}
	if env != "" {
		_, ff.EnvOwn = f.Environments[env]
	}
	t := f.In(env)
	for _, v := range f.Variants {
		ff.Variants = append(ff.Variants, variantRow{Name: v.Name, Value: valueText(v.Value), Default: v.Name == t.Default})
	}
	ff.Disabled = t.Disabled
	names := ff.VariantNames()
	for i, r := range t.Rules {
		ff.Rules = append(ff.Rules, ruleForm{
			ID: r.ID, Description: r.Description, Audiences: r.Audiences,
			Clauses: clauseLines(r.Clauses), Serve: serveFormOf(r.Serve, names), Order: strconv.Itoa(i + 1),
		})
	}
	ff.Fall = serveFormOf(t.Fallthrough, names)
	return ff
}

// addBlanks tops the form up with the empty rows that let it grow without
// script: blankRows empty variant rows at the end and one empty rule. A
// form posted back keeps the blanks it was sent with, so a refused form
// comes back as sent however often it is refused.
func (ff *flagForm) addBlanks() {
	trailing := 0
	for i := len(ff.Variants) - 1; i >= 0 && ff.Variants[i].blank(); i-- {
		trailing++
	}
	for range blankRows - min(trailing, blankRows) {
		ff.Variants = append(ff.Variants, variantRow{})
	}
	if ff.New {
		return
	}
	names := ff.VariantNames()
	if !slices.ContainsFunc(ff.Rules, func(r ruleForm) bool { return r.Blank && r.empty() }) {
		ff.Rules = append(ff.Rules, ruleForm{Blank: true, Order: strconv.Itoa(len(ff.Rules) + 1), Serve: serveFormOf(flagon.Serve{}, names)})
	}
	ff.Fall = withSplitRows(ff.Fall, names)
	for i := range ff.Rules {
		ff.Rules[i].Serve = withSplitRows(ff.Rules[i].Serve, names)
	}
}

// blank reports whether a variant row is empty: one offered for adding a
// variant, or one cleared to remove it.
func (v variantRow) blank() bool {
	return v.Name == "" && strings.TrimSpace(v.Value) == "" && !v.Default
}

// serveFormOf shows s with a split row for each variant.
func serveFormOf(s flagon.Serve, names []string) serveForm {
	sf := serveForm{By: s.By}
	switch {
	case len(s.Split) > 0:
		sf.Mode = "split"
		for _, sp := range s.Split {
			sf.Split = append(sf.Split, splitRow{Variant: sp.Variant, Percent: trimFloat(sp.Percent)})
		}
	case s.Variant != "":
		sf.Mode = s.Variant
	}
	return withSplitRows(sf, names)
}

// withSplitRows adds an empty split row for each variant that has none.
func withSplitRows(sf serveForm, names []string) serveForm {
	for _, n := range names {
		if !slices.ContainsFunc(sf.Split, func(r splitRow) bool { return r.Variant == n }) {
			sf.Split = append(sf.Split, splitRow{Variant: n})
		}
	}
	return sf
}

func clauseLines(cs []flagon.Clause) string {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = clauseText(c)
	}
	return strings.Join(lines, "\n")
}

// clauseText writes a clause for the conditions textarea: in the
// shorthand ParseClause reads when it reads back the same, else as a JSON
// object (a value of another type, say), which parseClauseLine reads too.
func clauseText(c flagon.Clause) string {
	s := c.String()
	if back, err := flagon.ParseClause(s); err == nil && sameJSON(back, c) {
		return s
	}
	b, err := json.Marshal(c)
	if err != nil {
		return s
	}
	return string(b)
}

// parseClauseLine reads one line of the conditions textarea: the
// shorthand, or a clause as a JSON object.
func parseClauseLine(line string) (flagon.Clause, error) {
	if !strings.HasPrefix(line, "{") {
		return flagon.ParseClause(line)
	}
	var c flagon.Clause
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("clause %s: not a JSON clause {\"attribute\", \"op\", \"values\"}: %v", line, err)
	}
	if op, ok := flagon.ParseOperator(string(c.Op)); ok {
		c.Op = op
	} else {
		return c, fmt.Errorf("clause %s: unknown operator %q", line, c.Op)
	}
	for i, v := range c.Values {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			c.Values[i] = int64(f)
		}
	}
	return c, nil
}

// valueText writes a variant value for a text input.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// parseValue reads a variant value of type t from a text input.
func parseValue(t flagon.Type, s string) (any, error) {
	switch t {
	case flagon.TypeBool, "":
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", s)
	case flagon.TypeString:
		return s, nil
	case flagon.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", s)
		}
		return n, nil
	case flagon.TypeFloat:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || n != n || n > 1e308 || n < -1e308 {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return n, nil
	case flagon.TypeObject:
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, fmt.Errorf("not a JSON object")
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// formatDuration writes d in days when it is whole days, else as Go does.
func formatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// parseDuration reads "30d", "12h", "90m" and other Go durations.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30d or 12h", s)
	}
	return d, nil
}

// formFromPost reads a posted flag form. It keeps the text as typed.
func formFromPost(v url.Values, isNew bool) *flagForm {
	ff := &flagForm{
		New:            isNew,
		Key:            strings.TrimSpace(v.Get("key")),
		Description:    strings.TrimSpace(v.Get("description")),
		Owner:          strings.TrimSpace(v.Get("owner")),
		Tags:           v.Get("tags"),
		Expires:        strings.TrimSpace(v.Get("expires")),
		Type:           v.Get("type"),
		Salt:           strings.TrimSpace(v.Get("salt")),
		Env:            v.Get("env"),
		Disabled:       v.Get("disabled") != "",
		EnvReset:       v.Get("envreset") != "",
		Who:            v.Get("who"),
		PolicyAudience: v.Get("paud"),
		PolicyVariants: v["pvar"],
		MaxDuration:    strings.TrimSpace(v.Get("pmax")),
		Reason:         strings.TrimSpace(v.Get("reason")),
		Confirm:        v.Get("confirm") != "",
		Errors:         map[string]string{},
	}
	ff.Version, _ = strconv.ParseInt(v.Get("version"), 10, 64)
	def := v.Get("default")
	for i := range boundedCount(v.Get("vars")) {
		p := "var." + strconv.Itoa(i) + "."
		row := variantRow{Name: strings.TrimSpace(v.Get(p + "name")), Value: v.Get(p + "value")}
		row.Default = def == strconv.Itoa(i)
		ff.Variants = append(ff.Variants, row)
	}
	for i := range boundedCount(v.Get("rules")) {
		p := "rule." + strconv.Itoa(i) + "."
		ff.Rules = append(ff.Rules, ruleForm{
			ID:          strings.TrimSpace(v.Get(p + "id")),
			Description: strings.TrimSpace(v.Get(p + "desc")),
			Audiences:   v[p+"aud"],
			Clauses:     v.Get(p + "clauses"),
			Serve:       serveFromPost(v, p),
			Order:       strings.TrimSpace(v.Get(p + "order")),
			Delete:      v.Get(p+"delete") != "",
			Blank:       v.Get(p+"blank") != "",
		})
	}
	ff.Fall = serveFromPost(v, "fall.")
	return ff
}

func boundedCount(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, maxFormRows)
}

func serveFromPost(v url.Values, p string) serveForm {
	sf := serveForm{Mode: v.Get(p + "serve"), By: strings.TrimSpace(v.Get(p + "by"))}
	for i := range boundedCount(v.Get(p + "splits")) {
		q := p + "split." + strconv.Itoa(i) + "."
		sf.Split = append(sf.Split, splitRow{Variant: v.Get(q + "variant"), Percent: strings.TrimSpace(v.Get(q + "pct"))})
	}
	return sf
}

// indexMaps records, for each flag part built from the form, the form row
// it came from, so that validation errors land on the right inputs.
type indexMaps struct {
	variants []int
	rules    []int
	splits   map[string][]int // by serve path in form terms, such as "rules[2].serve"
}

// A flag form is saved in three steps, each reading the one before:
// parse reads the form's text into a flagDraft of typed values, recording
// what does not parse; check validates the flag the draft makes, putting
// its errors on the form's inputs; apply puts the draft onto the stored
// flag. (formFromPost reads the posted text before all three.)

// flagDraft is a flag form's text read into typed values.
type flagDraft struct {
	Tags     []string
	Expires  time.Time
	Type     flagon.Type
	Variants []flagon.Variant
	Default  string
	Rules    []flagon.Rule
	Fall     flagon.Serve
	Override flagon.OverridePolicy
	idx      *indexMaps
}

// parse reads the form into a draft, recording in ff.Errors what does not
// parse. The draft holds what could be read of the rest.
func (ff *flagForm) parse() *flagDraft {
	d := &flagDraft{Type: flagon.Type(ff.Type), idx: &indexMaps{splits: map[string][]int{}}}
	if d.Type == "" {
		d.Type = flagon.TypeBool
	}
	if ff.Env != "" && !flagon.ValidKey(ff.Env) {
		ff.Errors["env"] = fmt.Sprintf("invalid environment name %q", ff.Env)
	}
	for _, t := range strings.Split(ff.Tags, ",") {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(d.Tags, t) {
			continue
		}
		if len(t) > 64 {
			ff.Errors["tags"] = fmt.Sprintf("tag %q is longer than 64 characters", t)
		}
		d.Tags = append(d.Tags, t)
	}
	if ff.Expires != "" {
		t, err := time.Parse("2006-01-02", ff.Expires)
		if err != nil {
			ff.Errors["expires"] = fmt.Sprintf("%q is not a date such as 2026-12-31", ff.Expires)
		}
		d.Expires = t
	}
	ff.parseVariants(d)
	ff.parseRules(d)
	d.Fall = ff.serve(ff.Fall, "fallthrough", d.idx, true)
	d.Override = flagon.OverridePolicy{Who: flagon.Who(ff.Who), Audience: ff.PolicyAudience, Variants: ff.PolicyVariants}
	if ff.MaxDuration != "" {
		var err error
		if d.Override.MaxDuration, err = parseDuration(ff.MaxDuration); err != nil {
			ff.Errors["override.max_duration"] = err.Error()
		}
	}
	return d
}

// parseVariants reads the variant rows into d, skipping empty ones.
func (ff *flagForm) parseVariants(d *flagDraft) {
	for i, row := range ff.Variants {
		if row.Name == "" && strings.TrimSpace(row.Value) == "" {
			if row.Default {
				ff.Errors["default"] = "the default variant has no name"
			}
			continue
		}
		val, err := parseValue(d.Type, row.Value)
		if err != nil {
			ff.Errors[fmt.Sprintf("variants[%d].value", i)] = err.Error()
		}
		d.idx.variants = append(d.idx.variants, i)
		d.Variants = append(d.Variants, flagon.Variant{Name: row.Name, Value: val})
		if row.Default {
			d.Default = row.Name
		}
	}
}

// parseRules reads the rule forms into d in the order their positions
// give, skipping deleted rules and an untouched blank one.
func (ff *flagForm) parseRules(d *flagDraft) {
	type ordered struct {
		order, idx int
		rule       flagon.Rule
	}
	var ord []ordered
	for i, rf := range ff.Rules {
		if rf.Delete || rf.Blank && rf.empty() {
			continue
		}
		p := fmt.Sprintf("rules[%d]", i)
		r := flagon.Rule{ID: rf.ID, Description: rf.Description, Audiences: rf.Audiences}
		for _, line := range strings.Split(rf.Clauses, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			c, err := parseClauseLine(line)
			if err != nil {
				ff.Errors[fmt.Sprintf("%s.clauses[%d]", p, len(r.Clauses))] = err.Error()
			}
			r.Clauses = append(r.Clauses, c)
		}
		r.Serve = ff.serve(rf.Serve, p+".serve", d.idx, false)
		order, err := strconv.Atoi(rf.Order)
		if err != nil {
			if rf.Order != "" {
				ff.Errors[p+".order"] = fmt.Sprintf("%q is not a position", rf.Order)
			}
			order = i + 1
		}
		ord = append(ord, ordered{order, i, r})
	}
	sort.SliceStable(ord, func(a, b int) bool { return ord[a].order < ord[b].order })
	for _, o := range ord {
		d.Rules = append(d.Rules, o.rule)
		d.idx.rules = append(d.idx.rules, o.idx)
	}
}

// check validates f, the flag the draft d made, against the audiences
// that exist, putting its errors on the form's inputs. It reports whether
// the form is fit to save (parse errors included).
func (ff *flagForm) check(f flagon.Flag, d *flagDraft, audiences []string) bool {
	set := make(map[string]bool, len(audiences))
	for _, a := range audiences {
		set[a] = true
	}
	if err := f.Normalize().Validate(set); err != nil {
		ff.mapErrors(err, d.idx)
	}
	return len(ff.Errors) == 0
}

// apply returns base (the stored flag, or the zero flag for a new one)
// changed as the draft says: the flag's own fields, the targeting of
// ff.Env (the shared targeting when ff.Env is empty) and the override
// policy.
func (ff *flagForm) apply(base flagon.Flag, d *flagDraft) flagon.Flag {
	// Normalized, the base's implicit parts (a bool flag's variants and
	// default) stay what they were when the form makes them explicit.
	f := base.Normalize()
	if ff.New {
		f.Key = ff.Key
	}
	f.Description, f.Owner, f.Salt = ff.Description, ff.Owner, ff.Salt
	f.Tags, f.Expires, f.Type, f.Variants, f.Override = d.Tags, d.Expires, d.Type, d.Variants, d.Override
	rules, fall, disabled := d.Rules, d.Fall, ff.Disabled
	switch {
	case ff.Env == "":
		f.Default, f.Disabled, f.Rules, f.Fallthrough = d.Default, disabled, rules, fall
	case ff.EnvReset:
		f.Environments = withEnv(base.Environments, ff.Env, nil)
	default:
		cur := base.Normalize().In(ff.Env)
		same := cur.Default == d.Default && cur.Disabled == disabled &&
			sameJSON(cur.Rules, rules) && sameJSON(cur.Fallthrough, fall)
		if !same || ff.EnvOwn {
			es := flagon.EnvSettings{Default: &d.Default, Disabled: &disabled, Rules: &rules, Fallthrough: &fall}
			f.Environments = withEnv(base.Environments, ff.Env, &es)
		}
	}
	return f
}

// withEnv returns a copy of envs with env's settings set to es, or
// removed when es is nil.
func withEnv(envs map[string]flagon.EnvSettings, env string, es *flagon.EnvSettings) map[string]flagon.EnvSettings {
	out := make(map[string]flagon.EnvSettings, len(envs)+1)
	for k, v := range envs {
		if k != env {
			out[k] = v
		}
	}
	if es != nil {
		out[env] = *es
	}
	return out
}

func (rf ruleForm) empty() bool {
	if rf.ID != "" || rf.Description != "" || len(rf.Audiences) > 0 || strings.TrimSpace(rf.Clauses) != "" {
		return false
	}
	return true
}

// serve reads a serve form; p is its field path in form terms.
func (ff *flagForm) serve(sf serveForm, p string, im *indexMaps, optional bool) flagon.Serve {
	s := flagon.Serve{By: sf.By}
	switch sf.Mode {
	case "":
		if !optional {
			ff.Errors[p] = "choose what the rule serves"
		}
	case "split":
		var rows []int
		for i, row := range sf.Split {
			if row.Percent == "" {
				continue
			}
			pct, err := strconv.ParseFloat(strings.TrimSuffix(row.Percent, "%"), 64)
			if err != nil {
				ff.Errors[fmt.Sprintf("%s.split[%d].percent", p, i)] = fmt.Sprintf("%q is not a percentage", row.Percent)
			}
			s.Split = append(s.Split, flagon.Split{Variant: row.Variant, Percent: pct})
			rows = append(rows, i)
		}
		if len(s.Split) == 0 {
			ff.Errors[p+".split"] = "give each variant of the rollout a percentage"
		}
		im.splits[p] = rows
	default:
		s.Variant = sf.Mode
	}
	return s
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

var (
	reIndexed = regexp.MustCompile(`^(variants|rules)\[(\d+)\]`)
	reSplit   = regexp.MustCompile(`^(.*\.serve|fallthrough)\.split\[(\d+)\]`)
)

// mapErrors records validation errors of the built flag on the form,
// turning the flag's indexes into the form's.
func (ff *flagForm) mapErrors(err error, im *indexMaps) {
	fes := flagon.FieldErrorsOf(err)
	if fes == nil {
		ff.addErr("", err.Error())
		return
	}
	prefix := ""
	if ff.Env != "" {
		prefix = "environments." + ff.Env + "."
	}
	for _, e := range fes {
		field := e.Field
		if prefix != "" && strings.HasPrefix(field, prefix) {
			field = strings.TrimPrefix(field, prefix)
		} else if strings.HasPrefix(field, "environments.") {
			ff.addErr(field, e.Msg)
			continue
		}
		field = reIndexed.ReplaceAllStringFunc(field, func(m string) string {
			sub := reIndexed.FindStringSubmatch(m)
			i, _ := strconv.Atoi(sub[2])
			idx := im.rules
			if sub[1] == "variants" {
				idx = im.variants
			}
			if i < len(idx) {
				i = idx[i]
			}
			return fmt.Sprintf("%s[%d]", sub[1], i)
		})
		if sub := reSplit.FindStringSubmatch(field); sub != nil {
			i, _ := strconv.Atoi(sub[2])
			if rows := im.splits[sub[1]]; i < len(rows) {
				i = rows[i]
			}
			field = fmt.Sprintf("%s.split[%d]", sub[1], i) + field[len(sub[0]):]
		}
		ff.addErr(field, e.Msg)
	}
}

func (ff *flagForm) addErr(field, msg string) {
	if old, ok := ff.Errors[field]; ok {
		msg = old + "; " + msg
	}
	ff.Errors[field] = msg
}

// serveView is a serve form ready for the template: its input names,
// the variants to choose from and its errors.
type serveView struct {
	Name     string // input name prefix, such as "rule.0." or "fall."
	ID       string // element ID prefix
	Optional bool   // the fallthrough may serve the default variant
	Mode     string
	By       string
	Variants []string
	Rows     []splitView
	ModeErr  string
	SplitErr string
	ByErr    string
}

type splitView struct {
	Idx     int
	Variant string
	Percent string
	Err     string
}

func (ff *flagForm) serveView(sf serveForm, name, path, id string, optional bool) serveView {
	sv := serveView{Name: name, ID: id, Optional: optional, Mode: sf.Mode, By: sf.By, Variants: ff.VariantNames()}
	if sf.Mode != "" && sf.Mode != "split" && !slices.Contains(sv.Variants, sf.Mode) {
		sv.Variants = append(sv.Variants, sf.Mode)
	}
	for i, r := range sf.Split {
		sv.Rows = append(sv.Rows, splitView{Idx: i, Variant: r.Variant, Percent: r.Percent, Err: ff.ErrUnder(fmt.Sprintf("%s.split[%d]", path, i))})
	}
	sv.ModeErr = strings.TrimSpace(ff.ErrAt(path) + " " + ff.ErrAt(path+".variant"))
	sv.SplitErr = ff.ErrAt(path + ".split")
	sv.ByErr = ff.ErrAt(path + ".by")
	return sv
}

// ruleView is a rule form ready for the template.
type ruleView struct {
	ruleForm
	Idx       int
	Num       int
	Serve     serveView
	Err       string
	ClauseErr string
	AudErr    string
	OrderErr  string
	Audiences []choice
}

// RuleViews returns the rules ready for the template.
func (ff *flagForm) RuleViews() []ruleView {
	out := make([]ruleView, len(ff.Rules))
	for i, rf := range ff.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		rv := ruleView{ruleForm: rf, Idx: i, Num: i + 1,
			Serve:     ff.serveView(rf.Serve, fmt.Sprintf("rule.%d.", i), p+".serve", fmt.Sprintf("rule-%d-", i), false),
			Err:       ff.ErrAt(p),
			ClauseErr: ff.ErrUnder(p + ".clauses"),
			AudErr:    ff.ErrUnder(p + ".audiences"),
			OrderErr:  ff.ErrAt(p + ".order"),
		}
		names := slices.Clone(ff.Audiences)
		for _, a := range rf.Audiences {
			if !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
		for _, a := range names {
			rv.Audiences = append(rv.Audiences, choice{Value: a, Label: a, Selected: slices.Contains(rf.Audiences, a)})
		}
		out[i] = rv
	}
	return out
}

// FallView returns the fallthrough ready for the template.
func (ff *flagForm) FallView() serveView {
	return ff.serveView(ff.Fall, "fall.", "fallthrough", "fall-", true)
}

// PolicyVariantChoices returns the checkboxes of the override policy's
// variants.
func (ff *flagForm) PolicyVariantChoices() []choice {
	var out []choice
	for _, n := range ff.VariantNames() {
		out = append(out, choice{Value: n, Label: n, Selected: slices.Contains(ff.PolicyVariants, n)})
	}
	return out
}

// Action returns the path the form posts to, relative to the console.
func (ff *flagForm) Action() string {
	if ff.New {
		return "flags/new"
	}
	return "flags/" + ff.Key
}
