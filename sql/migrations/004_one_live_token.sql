-- One live token per member (SPEC §4 "One live token"): enforced here, not
-- by the worker, so concurrent step 1s for one member cannot leave several
-- mailed tokens valid.  Expiry cannot be in the predicate (now() is not
-- immutable): an expired row stays "live" until step 1 replaces it, which
-- its upsert does in the same statement.
--
-- Rows left live by older versions: keep each member's newest.
UPDATE reset_token t SET invalidated_at = now()
WHERE t.used_at IS NULL AND t.invalidated_at IS NULL
	AND EXISTS (SELECT 1 FROM reset_token n
		WHERE n.member_id = t.member_id AND n.id > t.id
			AND n.used_at IS NULL AND n.invalidated_at IS NULL);
DROP INDEX reset_token_live_idx;
CREATE UNIQUE INDEX reset_token_live_idx ON reset_token (member_id)
	WHERE used_at IS NULL AND invalidated_at IS NULL;
