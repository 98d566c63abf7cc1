package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/server"
)

// runKeys manages the keys that sign override cookies, share links and
// console sessions, kept in the store (unless flagon serve is given
// FLAGON_COOKIE_KEYS): list shows each key (signing, verifying, or
// pending); rotate adds a key that starts to sign after -activate-after,
// once every instance has read it, while older keys keep verifying;
// retire ID retires a key, so that what it signed no longer verifies.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("keys", "list | rotate | retire ID", stderr)
	var sf storeFlags
	sf.register(fs, false)
	after := fs.Duration("activate-after", server.DefaultKeyActivation, "rotate: how long until the new key signs; every instance rereads keys every "+server.DefaultKeyRefresh.String())
	kek := registerSecret(fs, "", "KEY_ENCRYPTION_KEY", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: want list, rotate or retire", errUsage)
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	switch {
	case verb == "retire" && len(rest) != 1:
		return fmt.Errorf("%w: retire takes the ID of one key", errUsage)
	case verb != "retire" && len(rest) != 0:
		return fmt.Errorf("%w: %s takes no arguments", errUsage, verb)
	}
	st, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	change := flagon.Change{Actor: "flagon keys " + verb, Reason: "key rotation from the command line"}
	switch verb {
	case "list":
		stored, err := st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(stored) == 0 {
			fmt.Fprintln(stdout, "no signing keys in the store; flagon serve generates the first")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tACTIVE FROM\tCREATED")
		for _, k := range server.DescribeKeys(stored, time.Now()) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.State, k.ActiveFrom.Format(time.RFC3339), k.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "rotate":
		v, err := kek.resolve(fs, stderr)
		if err != nil {
			return err
		}
		var box *server.SecretBox
		if v != "" {
			if box, err = server.NewSecretBox(v); err != nil {
				return fmt.Errorf("FLAGON_KEY_ENCRYPTION_KEY: %w", err)
			}
		}
		at := time.Now().Add(*after).UTC().Truncate(time.Second)
		id, err := server.AddSigningKey(ctx, st, box, at, change)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added key %s: it verifies now and signs from %s\n", id, at.Format(time.RFC3339))
		return nil
	case "retire":
		id := rest[0]
		stored, err := st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		states := server.DescribeKeys(stored, time.Now())
		if len(states) == 1 && states[0].ID == id {
			return errors.New("that is the only key; run flagon keys rotate first, and retire it once the new key signs")
		}
		if err := st.RetireSigningKey(ctx, id, change); err != nil {
			return fmt.Errorf("retire %s: %w", id, err)
		}
		for _, k := range states {
			if k.ID == id && k.State == "signing" {
				fmt.Fprintf(stdout, "retired %s, the signing key: cookies, links and sessions it signed no longer verify\n", id)
				return nil
			}
		}
		fmt.Fprintf(stdout, "retired %s\n", id)
		return nil
	}
	return fmt.Errorf("%w: unknown keys command %q (want list, rotate or retire)", errUsage, verb)
}
