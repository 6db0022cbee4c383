-- 0001: the initial schema.
--
-- Conventions for PostgreSQL (see idp/storage/postgres):
--   * Times are timestamptz (microsecond precision), always written in UTC.
--     A required time that the caller left zero is stored as the zero
--     instant (0001-01-01, the distant past); an optional time is NULL while
--     unset.
--   * Lists and maps are jsonb.

CREATE TABLE clients (
    id                         text        NOT NULL PRIMARY KEY,
    name                       text        NOT NULL,
    secret_hash                text        NOT NULL,
    public                     boolean     NOT NULL,
    first_party                boolean     NOT NULL,
    redirect_uris              jsonb       NOT NULL,
    post_logout_redirect_uris  jsonb       NOT NULL,
    grant_types                jsonb       NOT NULL,
    response_types             jsonb       NOT NULL,
    scopes                     jsonb       NOT NULL,
    token_endpoint_auth_method text        NOT NULL,
    id_token_signing_alg       text        NOT NULL,
    created_at                 timestamptz NOT NULL
);

CREATE TABLE users (
    id             text        NOT NULL PRIMARY KEY,
    email          text        NOT NULL UNIQUE,
    email_verified boolean     NOT NULL,
    display_name   text        NOT NULL,
    password_hash  text        NOT NULL,
    disabled       boolean     NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE signing_keys (
    id           text        NOT NULL PRIMARY KEY,
    algorithm    text        NOT NULL,
    private_key  bytea       NOT NULL,
    public_jwk   bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    retired_at   timestamptz,
    remove_after timestamptz
);

CREATE INDEX signing_keys_created_at ON signing_keys (created_at);

-- OAuth 2.0 token state. The token itself is never stored, only the
-- signature the token strategy derives from it.
CREATE TABLE oauth_tokens (
    kind         text        NOT NULL,
    signature    text        NOT NULL,
    request_id   text        NOT NULL,
    client_id    text        NOT NULL,
    subject      text        NOT NULL,
    active       boolean     NOT NULL,
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    data         bytea       NOT NULL,
    PRIMARY KEY (kind, signature)
);

CREATE INDEX oauth_tokens_request_id ON oauth_tokens (request_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (subject, client_id);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);

-- Sessions and consents belong to a user: deleting the user deletes them.
CREATE TABLE sessions (
    id           text        NOT NULL PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    timestamptz NOT NULL,
    amr          jsonb       NOT NULL,
    acr          text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- user_id and session_id are empty until the steps set them, so they carry
-- no foreign key.
CREATE TABLE login_txs (
    id               text        NOT NULL PRIMARY KEY,
    client_id        text        NOT NULL,
    authorize_query  text        NOT NULL,
    user_id          text        NOT NULL,
    session_id       text        NOT NULL,
    authenticated_at timestamptz,
    consented_at     timestamptz,
    state            bytea       NOT NULL,
    completed        boolean     NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);

CREATE INDEX login_txs_expires_at ON login_txs (expires_at);

CREATE TABLE consents (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     jsonb       NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE throttles (
    key             text        NOT NULL PRIMARY KEY,
    failures        integer     NOT NULL,
    last_failure_at timestamptz NOT NULL
);

-- The audit log outlives the users it mentions: no foreign keys.
CREATE TABLE audit_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time       timestamptz NOT NULL,
    type       text        NOT NULL,
    user_id    text        NOT NULL,
    client_id  text        NOT NULL,
    ip         text        NOT NULL,
    request_id text        NOT NULL,
    details    jsonb       NOT NULL
);

CREATE INDEX audit_events_user_time ON audit_events (user_id, time);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_type_time ON audit_events (type, time);
