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
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number         BLOB    NOT NULL,
    number_hash    TEXT    NOT NULL,
    country        TEXT    NOT NULL,
    masked         TEXT    NOT NULL,
    line_type      TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    consent_at     INTEGER NOT NULL,
    verified_at    INTEGER,
    sim_checked_at INTEGER,
    sim_swapped_at INTEGER,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    -- Also the index the cascade from users and ListPhones use.
    UNIQUE (user_id, number_hash)
) STRICT;

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
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone_id     TEXT    NOT NULL REFERENCES phones (id) ON DELETE CASCADE,
    tx_id        TEXT    NOT NULL,
    purpose      TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    lang         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    sends        INTEGER NOT NULL CHECK (sends >= 0),
    last_sent_at INTEGER,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) STRICT;

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
    sid        TEXT    NOT NULL PRIMARY KEY,
    code_id    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    phone_id   TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    country    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    error_code INTEGER NOT NULL,
    price      TEXT    NOT NULL,
    price_unit TEXT    NOT NULL,
    segments   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX phone_messages_code_id ON phone_messages (code_id);

-- Send budgets: one counter per key in a fixed window that began at
-- window_start. The window's length is the caller's, given with each
-- charge, so it is not stored. SpendBudgets reads and writes a call's
-- counters in one transaction.
CREATE TABLE budgets (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL CHECK (used >= 0)
) STRICT;

-- DeleteStaleBudgets sweeps by window start.
CREATE INDEX budgets_window_start ON budgets (window_start);
