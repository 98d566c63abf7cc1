package flagon

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// A Declaration is a flag that code declared with NewBool, NewString,
// NewInt or NewFloat: the key, the type, the default the code serves when
// the flag is missing, and a description.
type Declaration struct {
	Key         string
	Type        Type
	Default     any
	Description string
}

var registry struct {
	sync.Mutex
	decls map[string]Declaration
}

// declare records a handle's declaration. Declaring a key twice with the
// same type is allowed (two packages may read one flag); with different
// types, or with an invalid key, it panics, as http.Handle does for a bad
// pattern: the mistake is in the program, and shows at start-up.
func declare(d Declaration) {
	if !ValidKey(d.Key) {
		panic(fmt.Sprintf("flagon: invalid flag key %q", d.Key))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.decls == nil {
		registry.decls = make(map[string]Declaration)
	}
	if old, ok := registry.decls[d.Key]; ok && old.Type != d.Type {
		panic(fmt.Sprintf("flagon: flag %q declared as %s and as %s", d.Key, old.Type, d.Type))
	}
	registry.decls[d.Key] = d
}

// Declared returns the flags declared in code, sorted by key.
func Declared() []Declaration {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Declaration, 0, len(registry.decls))
	for _, d := range registry.decls {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Declaration) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

// CheckDeclared compares the flags declared in code with s: a declared
// flag that s lacks, or has with another type, is an error. The code
// default is served for such flags. Clients log these once at start-up.
func CheckDeclared(s *Snapshot) []error {
	var errs []error
	for _, d := range Declared() {
		f, ok := s.Flag(d.Key)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("flag %q is declared in code but missing from the source; serving the code default %v", d.Key, d.Default))
		case f.Type != d.Type:
			errs = append(errs, fmt.Errorf("flag %q is declared in code as %s but the source has %s; serving the code default %v", d.Key, d.Type, f.Type, d.Default))
		}
	}
	return errs
}

// BoolFlag is a typed handle on a bool flag, declared once in code:
//
//	var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")
//
//	if NewHomePage.Enabled(ctx) { … }
type BoolFlag struct {
	key string
	def bool
}

// NewBool declares a bool flag and returns its handle. It panics if key is
// invalid or declared before with another type.
func NewBool(key string, def bool, description string) *BoolFlag {
	declare(Declaration{Key: key, Type: TypeBool, Default: def, Description: description})
	return &BoolFlag{key: key, def: def}
}

// Key returns the flag's key.
func (f *BoolFlag) Key() string { return f.key }

// Enabled returns the flag's value from the default client for the context
// ctx carries; the code default when there is none.
func (f *BoolFlag) Enabled(ctx context.Context) bool { return Default().Bool(ctx, f.key, f.def) }

// EnabledIn is Enabled, evaluated by client c.
func (f *BoolFlag) EnabledIn(ctx context.Context, c *Client) bool { return c.Bool(ctx, f.key, f.def) }

// StringFlag is a typed handle on a string flag.
type StringFlag struct{ key, def string }

// NewString declares a string flag and returns its handle.
func NewString(key string, def string, description string) *StringFlag {
	declare(Declaration{Key: key, Type: TypeString, Default: def, Description: description})
	return &StringFlag{key: key, def: def}
}

// Key returns the flag's key.
func (f *StringFlag) Key() string { return f.key }

// Get returns the flag's value from the default client.
func (f *StringFlag) Get(ctx context.Context) string { return Default().String(ctx, f.key, f.def) }

// GetIn returns the flag's value from client c.
func (f *StringFlag) GetIn(ctx context.Context, c *Client) string {
	return c.String(ctx, f.key, f.def)
}

// IntFlag is a typed handle on an int flag.
type IntFlag struct {
	key string
	def int64
}

// NewInt declares an int flag and returns its handle.
func NewInt(key string, def int64, description string) *IntFlag {
	declare(Declaration{Key: key, Type: TypeInt, Default: def, Description: description})
	return &IntFlag{key: key, def: def}
}

// Key returns the flag's key.
func (f *IntFlag) Key() string { return f.key }

// Get returns the flag's value from the default client.
func (f *IntFlag) Get(ctx context.Context) int64 { return Default().Int(ctx, f.key, f.def) }

// GetIn returns the flag's value from client c.
func (f *IntFlag) GetIn(ctx context.Context, c *Client) int64 { return c.Int(ctx, f.key, f.def) }

// FloatFlag is a typed handle on a float flag.
type FloatFlag struct {
	key string
	def float64
}

// NewFloat declares a float flag and returns its handle.
func NewFloat(key string, def float64, description string) *FloatFlag {
	declare(Declaration{Key: key, Type: TypeFloat, Default: def, Description: description})
	return &FloatFlag{key: key, def: def}
}

// Key returns the flag's key.
func (f *FloatFlag) Key() string { return f.key }

// Get returns the flag's value from the default client.
func (f *FloatFlag) Get(ctx context.Context) float64 { return Default().Float(ctx, f.key, f.def) }

// GetIn returns the flag's value from client c.
func (f *FloatFlag) GetIn(ctx context.Context, c *Client) float64 {
	return c.Float(ctx, f.key, f.def)
}
