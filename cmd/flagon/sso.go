package main

import (
	"errors"
	"flag"
	"strings"

	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/server"
)

// ssoFlags are serve's single sign-on settings: OpenID Connect and the
// headers of an authenticating proxy, both mapped to roles by -sso-roles
// (docs/decisions/0172).
type ssoFlags struct {
	issuer, clientID, redirectURL, scopes, groupsClaim *string
	roles                                              *string
	userHeader, emailHeader, groupsHeader, proxies     *string
	clientSecret                                       *secret
}

func registerSSO(fs *flag.FlagSet) *ssoFlags {
	return &ssoFlags{
		issuer:       fs.String("oidc-issuer", env("OIDC_ISSUER", ""), envHelp("OIDC_ISSUER", "OpenID Connect issuer URL; set, the console offers single sign-on (client secret in FLAGON_OIDC_CLIENT_SECRET or FLAGON_OIDC_CLIENT_SECRET_FILE)")),
		clientID:     fs.String("oidc-client-id", env("OIDC_CLIENT_ID", ""), envHelp("OIDC_CLIENT_ID", "the console's client ID at the OpenID provider")),
		redirectURL:  fs.String("oidc-redirect-url", env("OIDC_REDIRECT_URL", ""), envHelp("OIDC_REDIRECT_URL", "the redirect URI registered at the provider; empty means -public-url + /admin/"+admin.OIDCCallbackPath)),
		scopes:       fs.String("oidc-scopes", env("OIDC_SCOPES", strings.Join(admin.DefaultOIDCScopes, ",")), envHelp("OIDC_SCOPES", "scopes to ask for, comma-separated (add groups where the provider needs it)")),
		groupsClaim:  fs.String("oidc-groups-claim", env("OIDC_GROUPS_CLAIM", admin.DefaultOIDCGroupsClaim), envHelp("OIDC_GROUPS_CLAIM", "the ID token claim that lists groups")),
		roles:        fs.String("sso-roles", env("SSO_ROLES", ""), envHelp("SSO_ROLES", "roles for single sign-on, such as group:ops=admin,domain:example.com=viewer,group:devs=staging:editor; anyone given none is refused")),
		userHeader:   fs.String("auth-header-user", env("AUTH_HEADER_USER", ""), envHelp("AUTH_HEADER_USER", "header in which an authenticating proxy names the user, such as X-Forwarded-User")),
		emailHeader:  fs.String("auth-header-email", env("AUTH_HEADER_EMAIL", ""), envHelp("AUTH_HEADER_EMAIL", "header with the user's e-mail address, such as X-Forwarded-Email")),
		groupsHeader: fs.String("auth-header-groups", env("AUTH_HEADER_GROUPS", ""), envHelp("AUTH_HEADER_GROUPS", "header with the user's comma-separated groups, such as X-Forwarded-Groups")),
		proxies:      fs.String("auth-proxies", env("AUTH_PROXIES", ""), envHelp("AUTH_PROXIES", "CIDR prefixes or addresses of the authenticating proxies whose sign-in headers are believed, comma-separated")),
		clientSecret: registerSecret(fs, "", "OIDC_CLIENT_SECRET", ""),
	}
}

// options returns the server options the flags describe: nil for what is
// not configured.
func (f *ssoFlags) options(clientSecret string) (*admin.OIDCOptions, *admin.HeaderOptions, error) {
	headers := *f.userHeader != "" || *f.emailHeader != ""
	if !headers && *f.proxies != "" {
		return nil, nil, errors.New("-auth-proxies: given without -auth-header-user or -auth-header-email")
	}
	if *f.issuer == "" && !headers {
		return nil, nil, nil
	}
	roles, err := admin.ParseRoleMap(*f.roles)
	if err != nil {
		return nil, nil, errors.New("-sso-roles: " + err.Error())
	}
	if len(roles.Rules) == 0 {
		return nil, nil, errors.New("-sso-roles: single sign-on needs at least one rule, or no one it signs in gets a role")
	}
	var oidcOpts *admin.OIDCOptions
	if *f.issuer != "" {
		if *f.clientID == "" {
			return nil, nil, errors.New("-oidc-client-id: required with -oidc-issuer")
		}
		oidcOpts = &admin.OIDCOptions{
			Issuer: *f.issuer, ClientID: *f.clientID, ClientSecret: clientSecret,
			RedirectURL: *f.redirectURL, Scopes: splitList(*f.scopes), GroupsClaim: *f.groupsClaim, Roles: roles,
		}
	}
	var headerOpts *admin.HeaderOptions
	if headers {
		proxies, err := server.ParsePrefixes(*f.proxies)
		if err != nil {
			return nil, nil, errors.New("-auth-proxies: " + err.Error())
		}
		if len(proxies) == 0 {
			return nil, nil, errors.New("-auth-proxies: required with -auth-header-user or -auth-header-email: the headers are believed only from these addresses")
		}
		headerOpts = &admin.HeaderOptions{UserHeader: *f.userHeader, EmailHeader: *f.emailHeader, GroupsHeader: *f.groupsHeader, Proxies: proxies, Roles: roles}
	}
	return oidcOpts, headerOpts, nil
}
