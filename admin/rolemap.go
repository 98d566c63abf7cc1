package admin

import (
	"fmt"
	"strings"
)

// An Identity is what a single sign-on says about a person: the name the
// audit log records, an e-mail address (used by domain rules only when
// EmailVerified), and the groups they are in.
type Identity struct {
	Name          string
	Email         string
	EmailVerified bool
	Groups        []string
}

// A RoleRule gives Role to identities in group Group, or with a verified
// e-mail address in domain Domain (exactly one of the two is set), in
// environment Env, or in every environment when Env is empty.
type RoleRule struct {
	Group  string
	Domain string
	Env    string
	// Role is the role given; "none" (RoleNone) is allowed with Env, to
	// keep a group out of one environment.
	Role Role
}

// A RoleMap turns a single sign-on identity into roles, as a flagon.User's
// Role and EnvRoles do for a user of the store: an identity's role in an
// environment is the highest that the rules naming that environment give
// it, else the highest that the rules for every environment give it
// (docs/decisions/0172).
type RoleMap struct {
	Rules []RoleRule
}

// ParseRoleMap reads rules written as "group:NAME=ROLE",
// "domain:example.com=ROLE", or with an environment,
// "group:NAME=ENV:ROLE", separated by commas or spaces. ROLE is viewer,
// editor or admin; with an environment also none. Errors name the rule.
func ParseRoleMap(s string) (*RoleMap, error) {
	m := &RoleMap{}
	for _, rule := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		match, target, ok := strings.Cut(rule, "=")
		kind, value, ok2 := strings.Cut(match, ":")
		if !ok || !ok2 || value == "" || target == "" {
			return nil, fmt.Errorf("role rule %q: want group:NAME=ROLE or domain:DOMAIN=ROLE, optionally =ENV:ROLE", rule)
		}
		var rr RoleRule
		switch kind {
		case "group":
			rr.Group = value
		case "domain":
			rr.Domain = strings.ToLower(strings.TrimPrefix(value, "@"))
		default:
			return nil, fmt.Errorf("role rule %q: unknown kind %q (want group or domain)", rule, kind)
		}
		roleName := target
		if env, r, ok := strings.Cut(target, ":"); ok {
			rr.Env, roleName = env, r
		}
		role, ok := ParseRole(roleName)
		if !ok && !(roleName == "none" && rr.Env != "") {
			return nil, fmt.Errorf("role rule %q: unknown role %q (want viewer, editor or admin, or none for one environment)", rule, roleName)
		}
		rr.Role = role
		m.Rules = append(m.Rules, rr)
	}
	return m, nil
}

// matches reports whether rule r applies to id.
func (r *RoleRule) matches(id *Identity) bool {
	if r.Group != "" {
		for _, g := range id.Groups {
			if g == r.Group {
				return true
			}
		}
		return false
	}
	if !id.EmailVerified {
		return false
	}
	_, domain, ok := strings.Cut(id.Email, "@")
	return ok && strings.EqualFold(domain, r.Domain)
}

// Roles returns the roles the rules give id: its role in environments no
// matching rule names, and its role in each environment some matching
// rule names (like flagon.User's Role and EnvRoles). ok is false when no
// rule gives it any role above RoleNone anywhere: such an identity is
// refused at sign-in.
func (m *RoleMap) Roles(id *Identity) (global Role, envs map[string]Role, ok bool) {
	if m == nil {
		return RoleNone, nil, false
	}
	for i := range m.Rules {
		r := &m.Rules[i]
		if !r.matches(id) {
			continue
		}
		if r.Env == "" {
			global = max(global, r.Role)
			continue
		}
		if envs == nil {
			envs = make(map[string]Role)
		}
		envs[r.Env] = max(envs[r.Env], r.Role)
		ok = ok || r.Role > RoleNone
	}
	return global, envs, ok || global > RoleNone
}

// RoleIn returns id's role in environment env.
func (m *RoleMap) RoleIn(id *Identity, env string) Role {
	global, envs, _ := m.Roles(id)
	if r, ok := envs[env]; ok {
		return r
	}
	return global
}
