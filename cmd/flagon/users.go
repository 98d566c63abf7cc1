package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
)

// runUsers manages the people who sign in to the console, kept in the
// store: add NAME creates a user with a role (-role) and roles per
// environment (-env-role production=viewer,...), reading the password from
// FLAGON_USER_PASSWORD or FLAGON_USER_PASSWORD_FILE, or asking for it on a
// terminal (never from a flag); list shows them; set-role NAME ROLE sets the
// default role, or with -env ENV the role there ("none" keeps them out of
// it); remove NAME removes one. Once a user exists, the shared admin
// password of flagon serve no longer signs in (docs/decisions/0170).
func runUsers(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flagSet("users", "list | add NAME [-role ROLE] [-env-role ENV=ROLE,...] | set-role NAME ROLE [-env ENV] | remove NAME", stderr)
	var sf storeFlags
	sf.register(fs, false)
	role := fs.String("role", "viewer", "add: the role in every environment -env-role does not name: viewer, editor or admin")
	envRoles := fs.String("env-role", "", "add: roles per environment, as production=viewer,staging=editor (none keeps the user out)")
	password := registerSecret(fs, "", "USER_PASSWORD", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want list, add, set-role or remove", errUsage)
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	want := map[string]int{"list": 0, "add": 1, "set-role": 2, "remove": 1}
	n, known := want[verb]
	if !known {
		return fmt.Errorf("%w: unknown users command %q (want list, add, set-role or remove)", errUsage, verb)
	}
	if len(rest) != n {
		return fmt.Errorf("%w: %s takes %d argument(s)", errUsage, verb, n)
	}
	st, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	change := flagon.Change{Actor: "flagon users " + verb, Reason: "from the command line"}
	switch verb {
	case "list":
		users, err := st.Users(ctx)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			fmt.Fprintln(stdout, "no users; flagon serve's admin password signs in until one is added")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tPER ENVIRONMENT\tSTATE\tCREATED")
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, orDash(admin.FormatEnvRoles(u.EnvRoles)), state, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "add":
		name := rest[0]
		if err := flagon.ValidUserName(name); err != nil {
			return fmt.Errorf("%w: user name %s", errUsage, err)
		}
		if _, ok := admin.ParseRole(*role); !ok {
			return fmt.Errorf("%w: -role %q: want viewer, editor or admin", errUsage, *role)
		}
		roles, err := admin.ParseEnvRoles(*envRoles)
		if err != nil {
			return fmt.Errorf("%w: -env-role: %v", errUsage, err)
		}
		if _, err := st.User(ctx, name); err == nil {
			return fmt.Errorf("user %q exists; use set-role, or remove it first", name)
		} else if !errors.Is(err, flagon.ErrNotFound) {
			return err
		}
		pw, err := password.resolve(fs, stderr)
		if err != nil {
			return err
		}
		if pw == "" {
			if pw, err = promptPassword(stdin, stderr, name); err != nil {
				return err
			}
		}
		hash, err := admin.HashPassword(pw)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		u := flagon.User{Name: name, PasswordHash: hash, Role: *role, EnvRoles: roles}
		if err := st.PutUser(ctx, u, change); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s: %s%s\n", name, *role, envSuffix(roles))
		return nil
	case "set-role":
		name, r := rest[0], rest[1]
		var env string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "env" {
				env = sf.env
			}
		})
		if _, ok := admin.ParseRole(r); !ok && !(env != "" && r == "none") {
			return fmt.Errorf("%w: role %q: want viewer, editor or admin (or none, with -env)", errUsage, r)
		}
		u, err := st.User(ctx, name)
		if err != nil {
			return err
		}
		if env == "" {
			u.Role = r
		} else {
			if u.EnvRoles == nil {
				u.EnvRoles = map[string]string{}
			}
			u.EnvRoles[env] = r
		}
		if err := keepAnAdmin(ctx, st, name, &u); err != nil {
			return err
		}
		if err := st.PutUser(ctx, u, change); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s%s\n", name, u.Role, envSuffix(u.EnvRoles))
		return nil
	case "remove":
		if err := keepAnAdmin(ctx, st, rest[0], nil); err != nil {
			return err
		}
		if err := st.DeleteUser(ctx, rest[0], change); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", rest[0])
		return nil
	}
	return nil
}

// keepAnAdmin refuses a change to the user name (after is what the user
// becomes, nil for a removal) that would leave users in the store but no
// enabled admin among them: nobody could then manage users in the console,
// and the shared password no longer signs in once users exist. Removing
// the last user of all is allowed: the store is back to its bootstrap.
func keepAnAdmin(ctx context.Context, st flagon.UserStore, name string, after *flagon.User) error {
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	admins, others := 0, 0
	for _, u := range users {
		if u.Name == name {
			if after == nil {
				continue
			}
			u = *after
		}
		others++
		if !u.Disabled && u.Role == "admin" {
			admins++
		}
	}
	if others > 0 && admins == 0 {
		return fmt.Errorf("%s would leave no enabled admin to manage users; make another user admin first", name)
	}
	return nil
}

func envSuffix(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + admin.FormatEnvRoles(m) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// promptPassword asks for a password twice on the terminal, with echo off.
// Standard input that is not a terminal gives an error instead: scripts
// use FLAGON_USER_PASSWORD(_FILE).
func promptPassword(stdin io.Reader, stderr io.Writer, name string) (string, error) {
	f, ok := stdin.(*os.File)
	// A terminal is a character device that stty can set; /dev/null is
	// only the first.
	if !ok || !isCharDevice(f) || stty(f, "-echo") != nil {
		return "", errors.New("no password: set FLAGON_USER_PASSWORD or FLAGON_USER_PASSWORD_FILE, or run on a terminal to be asked")
	}
	defer stty(f, "echo")
	r := bufio.NewReader(f)
	read := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		line, err := r.ReadString('\n')
		fmt.Fprintln(stderr)
		if err != nil && line == "" {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := read("Password for " + name + ": ")
	if err != nil {
		return "", err
	}
	again, err := read("Again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}

// isCharDevice reports whether f is a character device, as a terminal is.
func isCharDevice(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// stty runs stty on the terminal f.
func stty(f *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = f
	return cmd.Run()
}
