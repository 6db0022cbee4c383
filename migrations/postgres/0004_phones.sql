-- 0004: SMS and voice codes (issue 5). Users' phone numbers, the one-time
-- codes sent to them, the messages and calls that carried the codes, and
-- send budgets shared by every node.
--
-- Same conventions as 0001.

-- number is the E.164 number sealed by the caller (AES-GCM); number_hash
-- is a keyed hash of it, so a number can be found (duplicates, budgets)
-- without decrypting every row. A user has each number once; two users
-- may share one (a family landline). masked is the display form, so lists
-- need no decryption. verified_at is NULL until a code sent to the number
-- was entered; sim_checked_at and sim_swapped_at are NULL until a SIM-swap
-- lookup ran or reported a change.
CREATE TABLE phones (
    id             text        NOT NULL PRIMARY KEY,
    user_id        text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number         bytea       NOT NULL,
    number_hash    text        NOT NULL,
    country        text        NOT NULL,
    masked         text        NOT NULL,
    line_type      text        NOT NULL,
    status         text        NOT NULL,
    consent_at     timestamptz NOT NULL,
    verified_at    timestamptz,
    sim_checked_at timestamptz,
    sim_swapped_at timestamptz,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    -- Also the index the cascade from users and ListPhones use.
    UNIQUE (user_id, number_hash)
);

-- Every user who has a number, across users (budgets per number, reuse).
CREATE INDEX phones_number_hash ON phones (number_hash);

-- One row per code; hash is a keyed HMAC of the code, never the code.
-- lang is the page language the code was asked for in, so a call placed
-- later (after an undelivered SMS) speaks it too.
-- attempts and sends are the counters the single-use rules are conditional
-- UPDATEs on. tx_id is the login transaction ('' outside one), without a
-- foreign key: the sweeper may remove a transaction while its code is live.
-- The phone's codes go with the phone, and a user's with the user.
CREATE TABLE phone_codes (
    id           text        NOT NULL PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone_id     text        NOT NULL REFERENCES phones (id) ON DELETE CASCADE,
    tx_id        text        NOT NULL,
    purpose      text        NOT NULL,
    hash         text        NOT NULL,
    channel      text        NOT NULL,
    lang         text        NOT NULL,
    attempts     integer     NOT NULL CHECK (attempts >= 0),
    sends        integer     NOT NULL CHECK (sends >= 0),
    last_sent_at timestamptz,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- FindPhoneCode looks codes up by phone and transaction; phone_id first so
-- the same index serves the cascade from phones.
CREATE INDEX phone_codes_phone_id_tx_id ON phone_codes (phone_id, tx_id);
CREATE INDEX phone_codes_expires_at ON phone_codes (expires_at);
-- The cascade from users looks codes up by user.
CREATE INDEX phone_codes_user_id ON phone_codes (user_id);

-- One row per SMS or call, keyed by the provider's id (Twilio SID). No
-- foreign keys: the record outlives its code (swept minutes later), its
-- phone and its user, for delivery metrics and audit. price is the
-- provider's decimal string, kept as text so nothing is rounded.
CREATE TABLE phone_messages (
    sid        text        NOT NULL PRIMARY KEY,
    code_id    text        NOT NULL,
    user_id    text        NOT NULL,
    phone_id   text        NOT NULL,
    channel    text        NOT NULL,
    country    text        NOT NULL,
    status     text        NOT NULL,
    error_code integer     NOT NULL,
    price      text        NOT NULL,
    price_unit text        NOT NULL,
    segments   integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX phone_messages_code_id ON phone_messages (code_id);

-- Send budgets: one counter per key in a fixed window that began at
-- window_start. The window's length is the caller's, given with each
-- charge, so it is not stored. SpendBudgets locks a call's counters (in key
-- order, so two calls never wait on each other in a cycle) and writes them
-- in one transaction.
CREATE TABLE budgets (
    key          text        NOT NULL PRIMARY KEY,
    window_start timestamptz NOT NULL,
    used         bigint      NOT NULL CHECK (used >= 0)
);

-- DeleteStaleBudgets sweeps by window start.
CREATE INDEX budgets_window_start ON budgets (window_start);
