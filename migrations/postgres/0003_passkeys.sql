-- 0003: passkeys (issue 4). WebAuthn credentials, and the server-side state
-- of each WebAuthn ceremony (registration or assertion) between the
-- options the browser gets and the answer it sends back.
--
-- Same conventions as 0001.

-- credential_id is the authenticator's id, raw bytes: unique across all
-- users, since discoverable sign-in learns the user from it. WebAuthn caps
-- it at 1023 bytes. sign_count is the authenticator's unsigned 32-bit
-- counter (bigint: integer is signed); the clone check is one conditional
-- UPDATE on it. transports is a JSON list.
CREATE TABLE passkeys (
    credential_id    bytea       NOT NULL PRIMARY KEY
                                 CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    user_id          text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    public_key       bytea       NOT NULL,
    attestation_type text        NOT NULL,
    aaguid           bytea       NOT NULL,
    sign_count       bigint      NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    transports       jsonb       NOT NULL,
    user_verified    boolean     NOT NULL,
    backup_eligible  boolean     NOT NULL,
    backed_up        boolean     NOT NULL,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);

CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- One row per ceremony in flight, taken (deleted) by the answer: single
-- use. user_id is NULL for a discoverable sign-in, where no user is known
-- yet; otherwise a deleted user's ceremonies go with the user. tx_id is
-- the login transaction ('' on the account page), without a foreign key:
-- the sweeper may remove a transaction while its ceremony is in flight,
-- and whoever takes the ceremony checks the transaction anyway.
-- data is the WebAuthn library's session data: bytea, not jsonb, so it
-- comes back byte for byte.
CREATE TABLE ceremonies (
    id         text        NOT NULL PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    text        REFERENCES users (id) ON DELETE CASCADE,
    tx_id      text        NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX ceremonies_expires_at ON ceremonies (expires_at);
-- The cascade from users looks ceremonies up by user.
CREATE INDEX ceremonies_user_id ON ceremonies (user_id);
