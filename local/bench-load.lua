-- wrk script for `bench load` (bench/src/load/): counts responses by status and writes the run's
-- numbers as one JSON line to BENCH_RESULT_FILE (stdout without it). Configured from the
-- environment (wrk runs one Lua state per thread):
--   BENCH_METHOD   request method (GET by default)
--   BENCH_BODY     request body, sent as JSON (none by default)
--   BENCH_BODIES   a file of request bodies, one a line: thread N sends line N (sign-in: one
--                  account per connection, as from different users)
--   BENCH_BEARER   a fixed bearer token (the access token of GET /api/dashboard)
--   BENCH_REFRESH_TOKENS  a file of refresh tokens, one a line: thread N starts with line N and
--                  then presents the token each answer hands back, as a client rotating its
--                  refresh token does. Run with as many threads as connections, so each
--                  connection (one request at a time) carries one chain.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

counts = {}
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local bearer = os.getenv("BENCH_BEARER")
local chain_file = os.getenv("BENCH_REFRESH_TOKENS")
local chain_token = nil
local bodies_file = os.getenv("BENCH_BODIES")

-- Line `id` of a file, for this thread.
local function own_line(file)
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if n == id then return line end
  end
  error("fewer lines than threads in " .. file)
end

function init(args)
  if bodies_file then body = own_line(bodies_file) end
  if chain_file then
    chain_token = own_line(chain_file)
  end
end

function request()
  local headers = {}
  if body then headers["Content-Type"] = "application/json" end
  local token = chain_token or bearer
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format(method, nil, headers, body)
end

function response(status, headers, response_body)
  counts[status] = (counts[status] or 0) + 1
  if chain_token and status == 200 then
    local rotated = response_body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if rotated then chain_token = rotated end
  end
end

function done(summary, latency, requests)
  local status_counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      status_counts[status] = (status_counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(status_counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  local json = string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"status_counts":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ","))
  local path = os.getenv("BENCH_RESULT_FILE")
  if path then
    local file = assert(io.open(path, "w"))
    file:write(json)
    file:close()
  else
    io.write(json)
  end
end
