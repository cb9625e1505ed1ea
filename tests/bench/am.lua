-- wrk script: POST Alertmanager webhook bodies of 10 alerts each to crierd.
-- Every request carries 1 new alert (10%) and 9 repeats of alerts from a
-- fixed pool that the warm-up run already sent, the mix a busy Alertmanager
-- produces (it re-sends whole groups).
--
--   wrk -t2 -c64 -d15s -s am.lua http://127.0.0.1:9095 -- RUN
--
-- RUN (4 hex digits) prefixes the fingerprints of the new alerts so that the
-- alerts of one run can be counted in the store afterwards. done() prints one
-- line "BENCH key=value ..." for tests/bench/bench.py.

local threads = {}
local next_tid = 0

function setup(thread)
	next_tid = next_tid + 1
	thread:set("tid", next_tid)
	table.insert(threads, thread)
end

local run = "0001"
local counter = 0
local pool = {}
local pool_size = 200
local pool_pos = 0
new_sent = 0 -- global: read by done() through thread:get

local function alert(fp, service, n)
	return '{"status":"firing","labels":{"alertname":"BenchAlert","service":"' .. service .. '","instance":"i-' .. n
		.. '","severity":"warning"},"annotations":{"summary":"bench alert ' .. n
		.. '"},"startsAt":"2026-11-21T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"'
		.. fp .. '"}'
end

function init(args)
	run = args[1] or run
	for i = 1, pool_size do
		local fp = string.format("ffff%02x%010x", tid, i)
		pool[i] = alert(fp, "pool" .. (i % 10), fp)
	end
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
end

local head = '{"receiver":"crier","status":"firing","alerts":['
local tail = '],"groupLabels":{"alertname":"BenchAlert"},"commonLabels":{"alertname":"BenchAlert"},'
	.. '"commonAnnotations":{},"externalURL":"http://bench:9093","version":"4",'
	.. '"groupKey":"{}:{alertname=\\"BenchAlert\\"}","truncatedAlerts":0}'

function request()
	counter = counter + 1
	new_sent = counter
	local fp = string.format("%s%02x%010x", run, tid, counter)
	local parts = { alert(fp, "svc" .. (counter % 50), fp) }
	for _ = 1, 9 do
		pool_pos = pool_pos % pool_size + 1
		parts[#parts + 1] = pool[pool_pos]
	end
	return wrk.format(nil, "/api/v1/alertmanager", nil, head .. table.concat(parts, ",") .. tail)
end

function done(summary, latency, requests)
	local sent = 0
	for _, t in ipairs(threads) do
		sent = sent + (t:get("new_sent") or 0)
	end
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d bytes=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d "
			.. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f new_sent=%d\n",
		summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, sent))
end
