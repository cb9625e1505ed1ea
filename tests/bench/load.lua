-- wrk script for tests/bench/bench.py and compare.py: the same alerts (10 per
-- request, 1 new and 9 repeats, the mix of an Alertmanager that re-sends whole
-- groups) in the shape each target expects:
--   wrk ... -s load.lua URL -- RUN webhook [PATH]  Alertmanager webhook body (crierd, nginx)
--   wrk ... -s load.lua URL -- RUN amv2            Alertmanager API v2 body (a JSON array of alerts)
-- RUN (4 hex digits) prefixes the fingerprints of the new alerts, so a run's
-- alerts can be counted in the store afterwards. done() prints one line
-- "BENCH key=value ..." for the scripts.
local threads = {}
local next_tid = 0
function setup(thread)
	next_tid = next_tid + 1
	thread:set("tid", next_tid)
	table.insert(threads, thread)
end

local run, mode, path = "0001", "webhook", "/"
local counter, pool, pool_pos, pool_size = 0, {}, 0, 200
new_sent = 0 -- global: read by done() through thread:get

local function labels(service, n)
	return '{"alertname":"BenchAlert","service":"' .. service .. '","instance":"i-' .. n .. '","severity":"warning"}'
end

local function alert(fp, service, n)
	if mode == "amv2" then
		return '{"labels":' .. labels(service, n) .. ',"annotations":{"summary":"bench alert ' .. n
			.. '"},"startsAt":"2026-11-21T12:00:00Z","generatorURL":"http://bench/' .. fp .. '"}'
	end
	return '{"status":"firing","labels":' .. labels(service, n) .. ',"annotations":{"summary":"bench alert ' .. n
		.. '"},"startsAt":"2026-11-21T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"'
		.. fp .. '"}'
end

function init(args)
	run = args[1] or run
	mode = args[2] or mode
	path = mode == "amv2" and "/api/v2/alerts" or (args[3] or "/api/v1/alertmanager")
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
	local body = table.concat(parts, ",")
	if mode == "amv2" then
		body = "[" .. body .. "]"
	else
		body = head .. body .. tail
	end
	return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
	local sent = 0
	for _, t in ipairs(threads) do
		sent = sent + (t:get("new_sent") or 0)
	end
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d "
			.. "errors=%d p50_us=%d p99_us=%d max_us=%d new_sent=%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
		e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), latency.max, sent))
end
