-- 0006: authenticator apps set up before their default name moved into the
-- page's language were stored with the English default. Clear it, so the
-- account page shows the default in the reader's language; names users
-- chose are kept.
UPDATE totp_credentials SET name = '' WHERE name = 'Authenticator app';
