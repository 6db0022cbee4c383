-- 0002: second factors (issue 3). TOTP credentials, recovery codes,
-- remembered browsers, the stored MFA policy, and the proofs a session
-- holds, so that step-up can add a factor to a session instead of
-- replacing it.
--
-- Same conventions as 0001. Opaque documents (session factors, the policy)
-- are BLOBs: the store hands back exactly the bytes it was given.

-- Existing sessions hold no proofs beyond their AMR: empty.
ALTER TABLE sessions ADD COLUMN factors BLOB NOT NULL DEFAULT X'';

-- secret is sealed by the caller (AES-GCM). last_step is the highest TOTP
-- time step ever accepted: the replay rule is one conditional UPDATE on
-- it. A credential is pending while confirmed_at is NULL.
CREATE TABLE totp_credentials (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    secret       BLOB    NOT NULL,
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX totp_credentials_user_id ON totp_credentials (user_id);

-- hash is a keyed hash of the code; the code itself is never stored.
CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

-- id is a hash of the cookie value, never the value.
CREATE TABLE remembered_browsers (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX remembered_browsers_user_id ON remembered_browsers (user_id);
CREATE INDEX remembered_browsers_expires_at ON remembered_browsers (expires_at);

-- One policy document for the whole installation: the CHECK keeps it to
-- one row.
CREATE TABLE mfa_policy (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    data       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
