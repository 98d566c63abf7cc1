package ofprovider

import (
	"reflect"

	"github.com/flagon/flagon"
)

// changedFlags returns the keys of the flags whose evaluation can differ
// between snapshots old and s: flags added or removed, flags whose
// normalized definition differs, and flags whose rules or override policy
// name an audience whose definition differs. With no old snapshot, or one
// for another environment, every flag of s is named. A definition that
// differs only in a description still counts: the diff is of
// definitions, not of results, so it never misses a change.
func changedFlags(old, s *flagon.Snapshot) []string {
	if old == nil || old.Environment() != s.Environment() {
		return s.Keys()
	}
	audChanged := map[string]bool{}
	audienceChanged := func(name string) bool {
		if c, ok := audChanged[name]; ok {
			return c
		}
		a, okA := old.Audience(name)
		b, okB := s.Audience(name)
		c := okA != okB || !reflect.DeepEqual(a, b)
		audChanged[name] = c
		return c
	}
	var out []string
	for _, key := range s.Keys() {
		f, _ := s.Flag(key)
		g, ok := old.Flag(key)
		if !ok || !reflect.DeepEqual(f, g) {
			out = append(out, key)
			continue
		}
		if f.Override.Audience != "" && audienceChanged(f.Override.Audience) {
			out = append(out, key)
			continue
		}
	rules:
		for _, r := range f.Rules {
			for _, name := range r.Audiences {
				if audienceChanged(name) {
					out = append(out, key)
					break rules
				}
			}
		}
	}
	for _, key := range old.Keys() {
		if !s.Has(key) {
			out = append(out, key)
		}
	}
	return out
}
