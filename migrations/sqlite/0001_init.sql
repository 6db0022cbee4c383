-- 0001: the initial schema.
--
-- Conventions for SQLite (see idp/storage/sqlite):
--   * STRICT tables, so a value of the wrong type is an error, not a surprise.
--   * Times are INTEGER microseconds since the Unix epoch, UTC: the same
--     precision as PostgreSQL's timestamptz, so both backends return the same
--     instant. A required time that the caller left zero is stored as the
--     zero instant (0001-01-01, the distant past); an optional time is NULL
--     while unset.
--   * Booleans are INTEGER 0 or 1.
--   * Lists and maps are JSON text.

CREATE TABLE clients (
    id                         TEXT    NOT NULL PRIMARY KEY,
    name                       TEXT    NOT NULL,
    secret_hash                TEXT    NOT NULL,
    public                     INTEGER NOT NULL CHECK (public IN (0, 1)),
    first_party                INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    redirect_uris              TEXT    NOT NULL,
    post_logout_redirect_uris  TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    response_types             TEXT    NOT NULL,
    scopes                     TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    id_token_signing_alg       TEXT    NOT NULL,
    created_at                 INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL CHECK (email_verified IN (0, 1)),
    display_name   TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    disabled       INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    algorithm    TEXT    NOT NULL,
    private_key  BLOB    NOT NULL,
    public_jwk   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    remove_after INTEGER
) STRICT;

CREATE INDEX signing_keys_created_at ON signing_keys (created_at);

-- OAuth 2.0 token state. The token itself is never stored, only the
-- signature the token strategy derives from it.
CREATE TABLE oauth_tokens (
    kind         TEXT    NOT NULL,
    signature    TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    client_id    TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    active       INTEGER NOT NULL CHECK (active IN (0, 1)),
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (kind, signature)
) STRICT;

CREATE INDEX oauth_tokens_request_id ON oauth_tokens (request_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (subject, client_id);
CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);

-- Sessions and consents belong to a user: deleting the user deletes them.
CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    amr          TEXT    NOT NULL,
    acr          TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- user_id and session_id are empty until the steps set them, so they carry
-- no foreign key.
CREATE TABLE login_txs (
    id               TEXT    NOT NULL PRIMARY KEY,
    client_id        TEXT    NOT NULL,
    authorize_query  TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    session_id       TEXT    NOT NULL,
    authenticated_at INTEGER,
    consented_at     INTEGER,
    state            BLOB    NOT NULL,
    completed        INTEGER NOT NULL CHECK (completed IN (0, 1)),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX login_txs_expires_at ON login_txs (expires_at);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE throttles (
    key             TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
) STRICT;

-- The audit log outlives the users it mentions: no foreign keys.
-- AUTOINCREMENT so an id is never reused, even after the newest rows go.
CREATE TABLE audit_events (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    details    TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_events_user_time ON audit_events (user_id, time);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_type_time ON audit_events (type, time);
