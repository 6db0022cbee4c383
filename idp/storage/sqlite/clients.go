package sqlite

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/idp/storage"
)

const clientColumns = `id, name, secret_hash, public, first_party, redirect_uris,
	post_logout_redirect_uris, grant_types, response_types, scopes,
	token_endpoint_auth_method, id_token_signing_alg, created_at`

// CreateClient inserts a client; ErrConflict if the id exists.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.SecretHash, c.Public, c.FirstParty, encList(c.RedirectURIs),
		encList(c.PostLogoutRedirectURIs), encList(c.GrantTypes), encList(c.ResponseTypes),
		encList(c.Scopes), c.TokenEndpointAuthMethod, c.IDTokenSigningAlg, tm(c.CreatedAt))
	return mapErr("create client", err)
}

// GetClient returns one client; ErrNotFound if absent.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id)
	c, err := scanClient(row)
	if err != nil {
		return storage.Client{}, mapErr("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, mapErr("list clients", err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, mapErr("list clients", err)
		}
		out = append(out, c)
	}
	return out, mapErr("list clients", rows.Err())
}

// DeleteClient removes a client (and, by foreign key, its consents);
// ErrNotFound if absent.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete client", `DELETE FROM clients WHERE id = ?`, id)
}

func scanClient(sc scanner) (storage.Client, error) {
	var (
		c                                                storage.Client
		redirects, postLogout, grants, responses, scopes string
		created                                          int64
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
