-- 001_init.sql — the pwreset schema.
--
-- Applied by store_migrate() inside one transaction, recorded in
-- pwreset_schema; never edit a migration that has shipped: add 002_….
--
-- Text limits are CHECKs so that nothing the store reads back can overflow
-- the fixed buffers of sql/store.h (sizes in bytes there = limits here).
-- Tokens are stored only as SHA-256 hashes; no table holds a secret except
-- mail_outbox.message, which is wiped once the mail is sent or given up.

CREATE TABLE member (
	id bigserial PRIMARY KEY,
	-- PageSeeder's rule: 1-100 of [A-Za-z0-9_.-], not all digits (an
	-- all-digit value would be taken for an id).
	username text NOT NULL
		CHECK (username ~ '^[A-Za-z0-9_.-]{1,100}$'
		       AND username !~ '^[0-9]+$'),
	-- NULL: no email.  No control characters: it lands in a To: header.
	email text
		CHECK (char_length(email) BETWEEN 1 AND 99
		       AND email !~ '[[:cntrl:]]'),
	firstname text NOT NULL DEFAULT ''
		CHECK (char_length(firstname) <= 50
		       AND firstname !~ '[[:cntrl:]]'),
	lastname text NOT NULL DEFAULT ''
		CHECK (char_length(lastname) <= 50
		       AND lastname !~ '[[:cntrl:]]'),
	status text NOT NULL DEFAULT 'activated'
		CHECK (status IN ('activated', 'unactivated', 'disabled')),
	is_admin boolean NOT NULL DEFAULT false,
	is_api boolean NOT NULL DEFAULT false,
	locked_until timestamptz,
	failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	password_hash text CHECK (octet_length(password_hash) <= 255),
	password_changed_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
-- Lookups are case-insensitive: the store compares lower(x) = lower($n),
-- which these expression indexes serve, and they make uniqueness
-- case-insensitive too.
CREATE UNIQUE INDEX member_username_key ON member (lower(username));
CREATE UNIQUE INDEX member_email_key ON member (lower(email));

CREATE TABLE member_group (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,100}$'),
	description text NOT NULL DEFAULT ''
		CHECK (octet_length(description) <= 1000),
	-- A directory name under template_dir: never a path.
	template_set text CHECK (template_set ~ '^[A-Za-z0-9_-]{1,64}$')
);
CREATE UNIQUE INDEX member_group_name_key ON member_group (lower(name));

CREATE TABLE group_membership (
	group_id bigint NOT NULL REFERENCES member_group (id) ON DELETE CASCADE,
	member_id bigint NOT NULL REFERENCES member (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, member_id)
);
-- For ON DELETE CASCADE from member.
CREATE INDEX group_membership_member_idx ON group_membership (member_id);

CREATE TABLE reset_token (
	id bigserial PRIMARY KEY,
	member_id bigint NOT NULL REFERENCES member (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
	issued_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	invalidated_at timestamptz
);
-- "The member's unused tokens": what step 1 and step 2 invalidate.
CREATE INDEX reset_token_live_idx ON reset_token (member_id)
	WHERE used_at IS NULL AND invalidated_at IS NULL;

CREATE TABLE admin_token (
	id bigserial PRIMARY KEY,
	member_id bigint NOT NULL REFERENCES member (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);
CREATE INDEX admin_token_member_idx ON admin_token (member_id);

CREATE TABLE mail_outbox (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind ~ '^[a-z-]{1,31}$'),
	member_id bigint REFERENCES member (id) ON DELETE SET NULL,
	recipient text NOT NULL CHECK (recipient !~ '[[:cntrl:]]'),
	subject text NOT NULL,
	-- The whole RFC 5322 message; it may hold a token, so it is set to
	-- NULL once sent or given up.
	message text,
	created_at timestamptz NOT NULL DEFAULT now(),
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	-- A mailer's lease: nobody else claims the row before it ends, and a
	-- crashed mailer's row becomes due again after it.
	claimed_until timestamptz,
	attempts integer NOT NULL DEFAULT 0,
	sent_at timestamptz,
	failed_at timestamptz,
	last_error text
);
-- The mailer's queue: pending rows in the order they are claimed.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id)
	WHERE sent_at IS NULL AND failed_at IS NULL;

-- Wake the mailers (LISTEN pwreset_mail) when mail is queued.  Delivered at
-- commit, so a mailer never looks before the row is visible; identical
-- notifications of one transaction are folded into one.
CREATE FUNCTION pwreset_mail_notify() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('pwreset_mail', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER mail_outbox_notify AFTER INSERT ON mail_outbox
	FOR EACH ROW EXECUTE FUNCTION pwreset_mail_notify();

-- Fixed-window counters keyed on an HMAC of the identifier or address.
-- window_end lets store_purge() drop finished windows whatever their size.
CREATE TABLE rate_limit (
	key bytea NOT NULL CHECK (octet_length(key) = 32),
	window_start timestamptz NOT NULL,
	window_end timestamptz NOT NULL,
	hits integer NOT NULL,
	PRIMARY KEY (key, window_start)
);

-- What happened, to whom, from where.  Never a token, hash or password.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	event text NOT NULL,
	member_id bigint, -- no FK: the trail outlives the member
	client text NOT NULL DEFAULT '',
	detail text NOT NULL DEFAULT ''
);
