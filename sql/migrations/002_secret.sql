-- Secrets shared by every pwreset process on every host, made once by the
-- database.  'ratelimit' keys the HMAC of identifiers and client addresses
-- in rate_limit, so that table never holds a guessable hash of an email.
-- gen_random_uuid() draws from PostgreSQL's strong random source; two of
-- them give 32 bytes (244 random bits).
CREATE TABLE pwreset_secret (
	name text PRIMARY KEY,
	value bytea NOT NULL CHECK (octet_length(value) = 32)
);

INSERT INTO pwreset_secret (name, value)
VALUES ('ratelimit',
	decode(replace(gen_random_uuid()::text || gen_random_uuid()::text,
		       '-', ''), 'hex'));
