package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

const clientColumns = `id, name, secret_hash, public, first_party, redirect_uris,
	post_logout_redirect_uris, grant_types, response_types, scopes,
	token_endpoint_auth_method, id_token_signing_alg, created_at`

// CreateClient inserts a client; ErrConflict if the id exists.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.ID, c.Name, c.SecretHash, c.Public, c.FirstParty, encList(c.RedirectURIs),
		encList(c.PostLogoutRedirectURIs), encList(c.GrantTypes), encList(c.ResponseTypes),
		encList(c.Scopes), c.TokenEndpointAuthMethod, c.IDTokenSigningAlg, tm(c.CreatedAt))
	return mapErr("create client", err)
}

// GetClient returns one client; ErrNotFound if absent.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id)
	c, err := scanClient(row)
	if err != nil {
		return storage.Client{}, mapErr("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id, in byte order whatever
// the database's collation.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	const op = "list clients"
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	return out, mapErr(op, rows.Err())
}

// DeleteClient removes a client (and, by foreign key, its consents);
// ErrNotFound if absent.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete client", `DELETE FROM clients WHERE id = $1`, id)
}

func scanClient(sc scanner) (storage.Client, error) {
	var (
		c                                                storage.Client
		redirects, postLogout, grants, responses, scopes string
		created                                          time.Time
	)
	err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.FirstParty, &redirects,
		&postLogout, &grants, &responses, &scopes, &c.TokenEndpointAuthMethod,
		&c.IDTokenSigningAlg, &created)
	if err != nil {
		return storage.Client{}, err
	}
	c.CreatedAt = fromTm(created)
	for _, f := range []struct {
		dst    *[]string
		column string
		src    string
	}{
		{&c.RedirectURIs, "redirect_uris", redirects},
		{&c.PostLogoutRedirectURIs, "post_logout_redirect_uris", postLogout},
		{&c.GrantTypes, "grant_types", grants},
		{&c.ResponseTypes, "response_types", responses},
		{&c.Scopes, "scopes", scopes},
	} {
		if *f.dst, err = decList(f.column, f.src); err != nil {
			return storage.Client{}, fmt.Errorf("client %s: %w", c.ID, err)
		}
	}
	return c, nil
}
