-- 0005: push approval (issue 6). The devices that receive pushes, the
-- one-time tokens that enrol them from the account page's QR code, and the
-- challenges a sign-in sends to them.
--
-- Same conventions as 0001.

-- id is the RFC 7638 thumbprint of the device's P-256 key, unique across
-- users: the device API learns device and user from the key that signed a
-- request. public_key is the JWK JSON, byte for byte. token is the push
-- token or Web Push subscription JSON: it can only send a content-free
-- push, so it is stored as is. token_valid is false after a permanent push
-- error for that token (unregistered_at: when), until a heartbeat brings
-- another token; MarkPushDeviceUnregistered is a conditional UPDATE on the
-- token, so a late error never undoes a newer token. last_seen_at is NULL
-- until the first heartbeat.
CREATE TABLE push_devices (
    id              text        NOT NULL PRIMARY KEY,
    user_id         text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key      bytea       NOT NULL,
    name            text        NOT NULL,
    platform        text        NOT NULL,
    channel         text        NOT NULL,
    token           text        NOT NULL,
    permission      text        NOT NULL,
    token_valid     boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz,
    unregistered_at timestamptz
);

-- ListPushDevices and the cascade from users look devices up by user.
CREATE INDEX push_devices_user_id ON push_devices (user_id);

-- One row per enrolment token, keyed by a keyed hash of the token (never
-- the token). used_at is the single-use rule's conditional UPDATE.
CREATE TABLE push_enrolments (
    token_hash text        NOT NULL PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX push_enrolments_expires_at ON push_enrolments (expires_at);
-- The cascade from users looks tokens up by user.
CREATE INDEX push_enrolments_user_id ON push_enrolments (user_id);

-- One row per push. status is the state machine the answer, the wrong
-- number count and supersession are conditional UPDATEs on: pending and
-- delivered are open, every other status is final. number is the
-- two-digit number shown only on the sign-in page; context is what the
-- device shows (JSON), byte for byte, so bytea rather than jsonb. reason
-- says why a challenge failed or expired ('' otherwise). tx_id is the
-- login transaction ('' outside one), without a foreign key: the sweeper
-- may remove a transaction while the sign-in page still reads its push's
-- outcome. A device's challenges go with the device (an answer to one is
-- then refused), and a user's with the user.
CREATE TABLE push_challenges (
    id            text        NOT NULL PRIMARY KEY,
    tx_id         text        NOT NULL,
    user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id     text        NOT NULL REFERENCES push_devices (id) ON DELETE CASCADE,
    number        integer     NOT NULL,
    nonce         text        NOT NULL,
    status        text        NOT NULL,
    wrong_numbers integer     NOT NULL CHECK (wrong_numbers >= 0),
    reason        text        NOT NULL,
    context       bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    delivered_at  timestamptz,
    ended_at      timestamptz
);

-- LatestPushChallenge and SupersedePushChallenges look challenges up by
-- transaction, newest first.
CREATE INDEX push_challenges_tx_id ON push_challenges (tx_id, created_at);
-- CountPushChallenges counts a user's recent pushes; the cascade from
-- users uses the same index.
CREATE INDEX push_challenges_user_id ON push_challenges (user_id, created_at);
-- The cascade from push_devices looks challenges up by device.
CREATE INDEX push_challenges_device_id ON push_challenges (device_id);
CREATE INDEX push_challenges_expires_at ON push_challenges (expires_at);
