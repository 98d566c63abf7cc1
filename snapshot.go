package flagon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Definitions is a whole flag configuration: the flags and the audiences
// they refer to. It is what config files, stores and servers exchange.
type Definitions struct {
	Audiences []Audience `json:"audiences,omitempty"`
	Flags     []Flag     `json:"flags"`
}

// Flag returns the flag with the given key and whether there is one.
func (d *Definitions) Flag(key string) (Flag, bool) {
	for _, f := range d.Flags {
		if f.Key == key {
			return f, true
		}
	}
	return Flag{}, false
}

// Validate reports every problem with d: invalid flags and audiences,
// duplicate keys, and references to missing audiences or variants. The
// error is a FieldErrors.
func (d *Definitions) Validate() error {
	var errs FieldErrors
	auds := make(map[string]bool, len(d.Audiences))
	for _, a := range d.Audiences {
		if auds[a.Name] {
			errs = append(errs, &FieldError{Audience: a.Name, Field: "name", Msg: fmt.Sprintf("duplicate audience %q", a.Name)})
		}
		auds[a.Name] = true
		if err := a.Validate(); err != nil {
			errs = append(errs, err.(FieldErrors)...)
		}
	}
	seen := make(map[string]bool, len(d.Flags))
	for _, f := range d.Flags {
		if seen[f.Key] {
			errs = append(errs, &FieldError{Flag: f.Key, Field: "key", Msg: fmt.Sprintf("duplicate flag %q", f.Key)})
		}
		seen[f.Key] = true
		if err := f.Normalize().Validate(auds); err != nil {
			errs = append(errs, err.(FieldErrors)...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// SnapshotOptions says which environment a snapshot is for and what to
// call its revision.
type SnapshotOptions struct {
	// Environment selects each flag's per-environment settings; empty
	// means the flags' own settings.
	Environment string
	// Revision names the snapshot; empty means a hash of the definitions,
	// so equal definitions get equal revisions on every instance.
	Revision string
	// Created is when the snapshot's data was read; zero means now.
	Created time.Time
}

// A Snapshot is an immutable, validated and compiled set of flags for one
// environment. Sources produce snapshots; clients evaluate them. It is safe
// for any number of goroutines.
type Snapshot struct {
	revision  string
	env       string
	created   time.Time
	defs      Definitions // as given, before environments were applied
	flags     map[string]*cflag
	audiences map[string]*caudience
	keys      []string // sorted
	list      []*cflag // in key order
	nattrs    int      // distinct attribute names in clauses
	usageLen  int      // counters in a usage table (see layoutUsage)
}

// cflag is a compiled flag: what Evaluate reads.
type cflag struct {
	key              string
	def              Flag // normalized, in the snapshot's environment
	typ              Type
	saltHash         uint64 // the salt's part of every bucket hash
	variants         []cvariant
	deflt            int
	disabled         bool
	rules            []crule
	fall             cserve
	overrideVariants []bool // by variant index; nil when the policy allows any value
	usage            int    // offset of the flag's counters in a usage table
	// fixed is the variant that every evaluation without an override
	// serves, for reason fixedReason, when the context cannot change it:
	// the flag is disabled, or has no rules and no split. It is nil
	// otherwise. fixedSlot is the counter such an evaluation counts into.
	fixed       *cvariant
	fixedReason Reason
	fixedSlot   int
}

type cvariant struct {
	name  string
	value any // canonical, boxed once here so that evaluation does not allocate
}

type crule struct {
	id        string
	audiences []*caudience
	clauses   []clause
	defs      []Clause // clauses as defined, for Explain
	serve     cserve
}

type cserve struct {
	variant int
	by      string
	split   []cshare
}

// cshare is one share of a split: buckets below upto (and above the
// previous share's upto) get the variant.
type cshare struct {
	upto    uint32
	variant int
}

type caudience struct {
	name    string
	clauses []clause
	defs    []Clause // clauses as defined, for Explain
}

// NewSnapshot validates and compiles defs. It rejects the whole set if any
// part is invalid, returning a FieldErrors that names every problem.
//
// Large sets are validated and compiled on several goroutines: each flag
// is independent once the audiences are compiled.
func NewSnapshot(defs Definitions, opts SnapshotOptions) (*Snapshot, error) {
	s := &Snapshot{
		revision: opts.Revision,
		env:      opts.Environment,
		created:  opts.Created,
		defs:     defs,
		flags:    make(map[string]*cflag, len(defs.Flags)),
		keys:     make([]string, 0, len(defs.Flags)),
	}
	if s.created.IsZero() {
		s.created = time.Now()
	}

	// Audiences first: flags refer to them.
	var errs FieldErrors
	audNames := make(map[string]bool, len(defs.Audiences))
	auds := make(map[string]*caudience, len(defs.Audiences))
	for _, a := range defs.Audiences {
		if audNames[a.Name] {
			errs = append(errs, &FieldError{Audience: a.Name, Field: "name", Msg: fmt.Sprintf("duplicate audience %q", a.Name)})
		}
		audNames[a.Name] = true
		if err := a.Validate(); err != nil {
			errs = append(errs, err.(FieldErrors)...)
			continue
		}
		ca := &caudience{name: a.Name, defs: a.Clauses}
		for _, c := range a.Clauses {
			cc, _ := compileClause(c) // Validate compiled it without error
			ca.clauses = append(ca.clauses, cc)
		}
		auds[a.Name] = ca
	}
	s.audiences = auds

	// Then each flag: normalize, validate, compile, and hash it for the
	// revision if none was given.
	type result struct {
		cf   *cflag
		errs FieldErrors
		hash [sha256.Size]byte
	}
	results := make([]result, len(defs.Flags))
	hashing := s.revision == ""
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f := defs.Flags[i]
			r := &results[i]
			if hashing {
				r.hash = hashFlag(&f)
			}
			nf := f.Normalize()
			// When no environment replaces the rules, compiling the
			// flag compiles every clause it has: validation need not
			// compile them first.
			compiled := !replacesRules(&nf)
			if err := nf.validate(audNames, !compiled); err != nil {
				r.errs = err.(FieldErrors)
				continue
			}
			cf, err := compileFlag(nf.In(opts.Environment), auds)
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) {
					fe = &FieldError{Flag: f.Key, Msg: err.Error()}
				}
				r.errs = FieldErrors{fe}
				continue
			}
			r.cf = cf
		}
	}
	parallel(len(defs.Flags), work)

	h := sha256.New()
	if hashing {
		h.Write([]byte(opts.Environment))
		h.Write([]byte{0})
		for _, a := range defs.Audiences {
			hashJSON(h, a)
		}
	}
	for i, f := range defs.Flags {
		r := &results[i]
		if _, dup := s.flags[f.Key]; dup {
			errs = append(errs, &FieldError{Flag: f.Key, Field: "key", Msg: fmt.Sprintf("duplicate flag %q", f.Key)})
		}
		errs = append(errs, r.errs...)
		if hashing {
			h.Write(r.hash[:])
		}
		if r.cf != nil {
			s.flags[f.Key] = r.cf
			s.keys = append(s.keys, f.Key)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if hashing {
		s.revision = hex.EncodeToString(h.Sum(nil)[:8])
	}
	slices.Sort(s.keys)
	s.list = make([]*cflag, len(s.keys))
	for i, k := range s.keys {
		s.list[i] = s.flags[k]
	}
	s.numberAttributes()
	s.layoutUsage()
	return s, nil
}

// numberAttributes gives each attribute name that clauses compare an ID,
// the index of its slot in attrs' memo.
func (s *Snapshot) numberAttributes() {
	ids := map[string]int{}
	number := func(cs []clause) {
		for i := range cs {
			id, ok := ids[cs[i].attr]
			if !ok {
				id = len(ids)
				ids[cs[i].attr] = id
			}
			cs[i].id = id
		}
	}
	for _, a := range s.audiences {
		number(a.clauses)
	}
	for _, f := range s.list {
		for i := range f.rules {
			number(f.rules[i].clauses)
		}
	}
	s.nattrs = len(ids)
}

// replacesRules reports whether an environment of f has rules of its own.
func replacesRules(f *Flag) bool {
	for _, e := range f.Environments {
		if e.Rules != nil {
			return true
		}
	}
	return false
}

// parallelMin is the number of flags below which NewSnapshot works on one
// goroutine: starting more costs more than it saves.
const parallelMin = 512

// parallel calls work over [0, n) in contiguous ranges, one per processor
// when n is large, and waits for all of them.
func parallel(n int, work func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		work(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(lo, hi)
		}()
	}
	wg.Wait()
}

// hashFlag returns the SHA-256 of f's JSON encoding.
func hashFlag(f *Flag) [sha256.Size]byte {
	h := sha256.New()
	hashJSON(h, f)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// hashJSON writes v's JSON encoding to h. Values that JSON cannot encode
// (NaN, channels) are refused by validation; Go syntax stands in for them
// so that hashing never fails.
func hashJSON(h io.Writer, v any) {
	if err := json.NewEncoder(h).Encode(v); err != nil {
		fmt.Fprintf(h, "%#v", v)
	}
}

// MustSnapshot is NewSnapshot for definitions known to be valid, such as
// those in tests and examples. It panics on error.
func MustSnapshot(defs Definitions, opts SnapshotOptions) *Snapshot {
	s, err := NewSnapshot(defs, opts)
	if err != nil {
		panic(err)
	}
	return s
}

func compileFlag(f Flag, auds map[string]*caudience) (*cflag, error) {
	cf := &cflag{key: f.Key, def: f, typ: f.Type, disabled: f.Disabled}
	salt := f.Salt
	if salt == "" {
		salt = f.Key
	}
	cf.saltHash = saltHash(salt)
	for _, v := range f.Variants {
		val, err := ConvertValue(f.Type, v.Value)
		if err != nil {
			return nil, fmt.Errorf("flag %q: variant %q: %w", f.Key, v.Name, err)
		}
		cf.variants = append(cf.variants, cvariant{name: v.Name, value: val})
	}
	if cf.deflt = cf.variantNamed(f.Default); cf.deflt < 0 {
		return nil, fmt.Errorf("flag %q: unknown default variant %q", f.Key, f.Default)
	}
	compileServe := func(s Serve) (cserve, error) {
		cs := cserve{variant: cf.deflt, by: s.By}
		if s.Variant != "" {
			cs.variant = cf.variantNamed(s.Variant)
		}
		upto := 0
		for _, sp := range s.Split {
			upto += int(math.Round(sp.Percent * 1000))
			cs.split = append(cs.split, cshare{upto: uint32(upto), variant: cf.variantNamed(sp.Variant)})
		}
		if len(cs.split) > 0 && upto != Buckets {
			return cs, fmt.Errorf("flag %q: split adds up to %d buckets", f.Key, upto)
		}
		return cs, nil
	}
	for i, r := range f.Rules {
		cr := crule{id: r.ID, defs: r.Clauses}
		for _, a := range r.Audiences {
			ca, ok := auds[a]
			if !ok {
				return nil, fmt.Errorf("flag %q: rule %d: unknown audience %q", f.Key, i+1, a)
			}
			cr.audiences = append(cr.audiences, ca)
		}
		for j, c := range r.Clauses {
			cc, err := compileClause(c)
			if err != nil {
				return nil, &FieldError{Flag: f.Key, Field: indexed(indexed("rules", i)+".clauses", j), Msg: err.Error()}
			}
			cr.clauses = append(cr.clauses, cc)
		}
		var err error
		if cr.serve, err = compileServe(r.Serve); err != nil {
			return nil, err
		}
		cf.rules = append(cf.rules, cr)
	}
	var err error
	if cf.fall, err = compileServe(f.Fallthrough); err != nil {
		return nil, err
	}
	if len(f.Override.Variants) > 0 {
		cf.overrideVariants = make([]bool, len(cf.variants))
		for _, name := range f.Override.Variants {
			cf.overrideVariants[cf.variantNamed(name)] = true
		}
	}
	cf.fix()
	return cf, nil
}

// fix sets f.fixed and f.fixedReason when the flag serves the same
// variant to every context, as evaluate would serve it.
func (f *cflag) fix() {
	switch {
	case f.disabled:
		f.fixed, f.fixedReason = &f.variants[f.deflt], ReasonDisabled
	case len(f.rules) == 0 && len(f.fall.split) == 0:
		f.fixed, f.fixedReason = &f.variants[f.fall.variant], ReasonStatic
	}
}

// variantNamed returns the index of the variant with the given name, or -1.
func (f *cflag) variantNamed(name string) int {
	for i := range f.variants {
		if f.variants[i].name == name {
			return i
		}
	}
	return -1
}

// Revision returns the snapshot's revision.
func (s *Snapshot) Revision() string { return s.revision }

// Environment returns the environment the snapshot was compiled for.
func (s *Snapshot) Environment() string { return s.env }

// Created returns when the snapshot's data was read.
func (s *Snapshot) Created() time.Time { return s.created }

// Len returns the number of flags.
func (s *Snapshot) Len() int { return len(s.keys) }

// Keys returns the flag keys in sorted order. The caller must not modify
// the slice.
func (s *Snapshot) Keys() []string { return s.keys }

// Flag returns the definition of the flag with the given key as the
// snapshot's environment sees it, normalized.
func (s *Snapshot) Flag(key string) (Flag, bool) {
	if s == nil {
		return Flag{}, false
	}
	f, ok := s.flags[key]
	if !ok {
		return Flag{}, false
	}
	return f.def, true
}

// Has reports whether the snapshot has a flag with the given key.
func (s *Snapshot) Has(key string) bool {
	if s == nil {
		return false
	}
	_, ok := s.flags[key]
	return ok
}

// Definitions returns the definitions the snapshot was built from, with
// every environment's settings. The caller must not modify them.
func (s *Snapshot) Definitions() Definitions { return s.defs }

// Audience returns the named audience and whether it exists.
func (s *Snapshot) Audience(name string) (Audience, bool) {
	for _, a := range s.defs.Audiences {
		if a.Name == name {
			return a, true
		}
	}
	return Audience{}, false
}

// InAudience reports whether ec is in the named audience. An unknown
// audience holds no one.
func (s *Snapshot) InAudience(name string, ec EvalContext) bool {
	aud, ok := s.audiences[name]
	return ok && aud.match(&attrs{ec: &ec})
}

// CheckOverride reports whether v may override the flag with the given
// key: the flag exists, v has its type, and the flag's policy allows the
// value. It does not check who is asking; that is the HTTP layer's job.
// On success it returns v in canonical form (int64 for an int flag).
func (s *Snapshot) CheckOverride(key string, v any) (any, error) {
	f, ok := s.flags[key]
	if !ok {
		return nil, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	if f.def.Override.EffectiveWho() == WhoNone {
		return nil, fmt.Errorf("flag %q may not be overridden", key)
	}
	cv, err := ConvertValue(f.typ, v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTypeMismatch, err)
	}
	if !f.acceptsOverride(cv) {
		var allowed []string
		for i, ok := range f.overrideVariants {
			if ok {
				allowed = append(allowed, f.variants[i].name)
			}
		}
		return nil, fmt.Errorf("flag %q allows overrides only to %s", key, strings.Join(allowed, ", "))
	}
	return cv, nil
}

// VariantValue returns the value of the named variant of a flag.
func (s *Snapshot) VariantValue(key, variant string) (any, bool) {
	f, ok := s.flags[key]
	if !ok {
		return nil, false
	}
	for _, v := range f.variants {
		if v.name == variant {
			return v.value, true
		}
	}
	return nil, false
}
