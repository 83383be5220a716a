-- peer.lua — the wrk script for the Django peer (test/bench/peer.py):
-- POSTs to Django's stock PasswordResetView, one request at a time per
-- connection.
--
--   wrk ... -s peer.lua URL -- MODE NTHREADS MEMBERS KNOWN_PCT ADDRS
--                              COOKIE TOKEN
--
-- MODE is "django" (the argument layout is load.lua's, so bench.py's wrk()
-- can pass it the same way).  Each request posts
-- csrfmiddlewaretoken=TOKEN&email=<address> with "Cookie: COOKIE" (one
-- pair from a GET of the form: Django's CSRF check compares the cookie's
-- secret with the token's, so a fixed pair is valid for every POST).
-- The address is a known member's, bench<N>@example.test with N in
-- 1..MEMBERS, for KNOWN_PCT % of requests, else nobody<N>@example.test,
-- the same addresses bench.py gives pwreset's members.  Both answer 302
-- to .../password_reset/done/.  Every request carries an
-- X-Forwarded-For of one of ADDRS addresses, as load.lua's do, so the
-- requests have the same shape (Django ignores it).
-- done() prints one line "BENCH {json}", load.lua's format.

local mode, nthreads
local members, known_pct, addrs = 10000, 50, 10000
local cookie, token
tid = 0 -- global: setup() sets it with thread:set()
ok, bad, exhausted = 0, 0, 0
bad_sample = ""

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

local function opt(args, i, default)
	if args[i] == nil or args[i] == "" then
		return default
	end
	return args[i]
end

function init(args)
	mode = args[1]
	nthreads = tonumber(args[2])
	members = tonumber(opt(args, 3, members))
	known_pct = tonumber(opt(args, 4, known_pct))
	addrs = tonumber(opt(args, 5, addrs))
	cookie = args[6]
	token = args[7]
	if mode ~= "django" or cookie == nil or token == nil then
		error("usage: peer.lua django NTHREADS MEMBERS KNOWN_PCT ADDRS " ..
		    "COOKIE TOKEN")
	end
	math.randomseed(os.time() * 1000 + tid * 7919)
	wrk.method = "POST"
end

local function xff()
	local a = math.random(0, addrs - 1)
	return string.format("127.1.%d.%d", math.floor(a / 256) % 256, a % 256)
end

function request()
	local n = math.random(1, members)
	local who = "nobody"
	if math.random(1, 100) <= known_pct then
		who = "bench"
	end
	local body = "csrfmiddlewaretoken=" .. token .. "&email=" .. who .. n ..
	    "%40example.test"
	-- wrk.format() takes these headers instead of wrk.headers.
	return wrk.format(nil, nil, {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["Cookie"] = cookie,
		["X-Forwarded-For"] = xff(),
	}, body)
end

function response(status, headers, body)
	local loc = headers["Location"] or headers["location"] or ""
	if status == 302 and loc:find("/password_reset/done/", 1, true) then
		ok = ok + 1
	else
		bad = bad + 1
		if bad_sample == "" then
			bad_sample = status .. " " .. loc .. " " ..
			    (body or ""):sub(1, 160)
		end
	end
end

function done(summary, latency, requests)
	local tok, tbad, tex, sample = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		tok = tok + t:get("ok")
		tbad = tbad + t:get("bad")
		tex = tex + t:get("exhausted")
		if sample == "" then
			sample = t:get("bad_sample")
		end
	end
	-- JSON string: keep printable ASCII, escape quotes and backslashes.
	sample = sample:gsub("[^%w%p ]", " "):gsub("[\\\"]", "'")
	local e = summary.errors
	io.write(string.format(
	    'BENCH {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, ' ..
	    '"exhausted": %d, "socket_errors": %d, "status_errors": %d, ' ..
	    '"timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
	    '"bad_sample": "%s"}\n',
	    summary.requests, summary.duration, tok, tbad, tex,
	    e.connect + e.read + e.write, e.status, e.timeout,
	    latency:percentile(50), latency:percentile(99), latency.max,
	    sample))
end
