-- 0002: second factors (issue 3). TOTP credentials, recovery codes,
-- remembered browsers, the stored MFA policy, and the proofs a session
-- holds, so that step-up can add a factor to a session instead of
-- replacing it.
--
-- Same conventions as 0001. Opaque documents (session factors, the policy)
-- are bytea, not jsonb: jsonb would reorder keys and reformat, and the
-- store hands back exactly the bytes it was given.

-- Existing sessions hold no proofs beyond their AMR: empty. A constant
-- default makes this a catalogue change, not a table rewrite.
ALTER TABLE sessions ADD COLUMN factors bytea NOT NULL DEFAULT '\x';

-- secret is sealed by the caller (AES-GCM). last_step is the highest TOTP
-- time step ever accepted: the replay rule is one conditional UPDATE on
-- it. A credential is pending while confirmed_at is NULL.
CREATE TABLE totp_credentials (
    id           text        NOT NULL PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    secret       bytea       NOT NULL,
    last_step    bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,
    last_used_at timestamptz
);

CREATE INDEX totp_credentials_user_id ON totp_credentials (user_id);

-- hash is a keyed hash of the code; the code itself is never stored.
CREATE TABLE recovery_codes (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       text        NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- id is a hash of the cookie value, never the value.
CREATE TABLE remembered_browsers (
    id           text        NOT NULL PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX remembered_browsers_user_id ON remembered_browsers (user_id);
CREATE INDEX remembered_browsers_expires_at ON remembered_browsers (expires_at);

-- One policy document for the whole installation: the CHECK keeps it to
-- one row.
CREATE TABLE mfa_policy (
    id         integer     NOT NULL PRIMARY KEY CHECK (id = 1),
    data       bytea       NOT NULL,
    updated_at timestamptz NOT NULL
);
