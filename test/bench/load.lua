-- load.lua — the wrk script of test/bench/run.sh: POST bodies for the
-- pwreset benchmarks, one request at a time per connection.
--
--   wrk ... -s load.lua URL -- MODE NTHREADS [MEMBERS KNOWN_PCT ADDRS
--                                            [TOKENS PASSWORD [EXTRA]]]
--
-- MODE step1: form member-username=<user>, a known member (bench<N>, N in
--             1..MEMBERS) for KNOWN_PCT % of requests, else an unknown
--             name (nobody<N>); expects request-successful.
-- MODE step2: member-username, token and member-password from the lines
--             "username token" of TOKENS, each used once; expects
--             password-changed.  A thread that runs out of tokens stops.
--             EXTRA (e.g. "&notify-async=true") is appended to the body.
-- MODE hello: the step-1 body to the transport ceiling (test/bench/hello.c).
--
-- Every request carries X-Forwarded-For: 127.1.x.y (one of ADDRS
-- addresses, pwreset trusts 127.0.0.1 as a proxy) so the per-address
-- counter is spread over many rows like real traffic, not one hot row.
-- done() prints one line "BENCH {json}" for run.sh's driver.

local mode, nthreads
local members, known_pct, addrs = 10000, 50, 10000
local tokens_path, password, extra = nil, nil, ""
local tokens = {}
local next_token = 1
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

local expect

function init(args)
	mode = args[1]
	nthreads = tonumber(args[2])
	members = tonumber(opt(args, 3, members))
	known_pct = tonumber(opt(args, 4, known_pct))
	addrs = tonumber(opt(args, 5, addrs))
	tokens_path = opt(args, 6, nil)
	password = opt(args, 7, nil)
	extra = opt(args, 8, "")
	math.randomseed(os.time() * 1000 + tid * 7919)
	wrk.method = "POST"
	if mode == "step2" then
		expect = "password-changed"
		local i = 0
		for line in io.lines(tokens_path) do
			if i % nthreads == tid then
				local u, t = line:match("^(%S+) (%S+)$")
				table.insert(tokens, {u, t})
			end
			i = i + 1
		end
	else
		expect = "request-successful"
	end
end

local function xff()
	local a = math.random(0, addrs - 1)
	return string.format("127.1.%d.%d", math.floor(a / 256) % 256, a % 256)
end

function request()
	local body
	if mode == "step2" then
		local t = tokens[next_token]
		if t == nil then
			exhausted = 1
			wrk.thread:stop()
			t = tokens[#tokens]
		else
			next_token = next_token + 1
		end
		body = "member-username=" .. t[1] .. "&token=" .. t[2] ..
		    "&member-password=" .. password .. extra
	else
		local n = math.random(1, members)
		if math.random(1, 100) <= known_pct then
			body = "member-username=bench" .. n
		else
			body = "member-username=nobody" .. n
		end
	end
	-- wrk.format() takes these headers instead of wrk.headers.
	return wrk.format(nil, nil, {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["X-Forwarded-For"] = xff(),
	}, body)
end

function response(status, headers, body)
	if status == 200 and body ~= nil and body:find(expect, 1, true) then
		ok = ok + 1
	else
		bad = bad + 1
		if bad_sample == "" then
			bad_sample = status .. " " .. (body or ""):sub(1, 160)
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
