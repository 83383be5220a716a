-- Counters many workers update at once (every request from one busy
-- address, or from one proxy) are split into sub-rows: each worker adds to
-- its own shard and the count is the sum of the shards, so concurrent
-- workers do not queue on one row lock.  Counters that must be exact under
-- concurrency (identifier, member, token failures) keep to shard 0.
ALTER TABLE rate_limit
	ADD COLUMN shard smallint NOT NULL DEFAULT 0
		CHECK (shard BETWEEN 0 AND 63);
ALTER TABLE rate_limit DROP CONSTRAINT rate_limit_pkey;
ALTER TABLE rate_limit ADD PRIMARY KEY (key, window_start, shard);
