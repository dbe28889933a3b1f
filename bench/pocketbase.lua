-- wrk script for the PocketBase peer: `wrk -s bench/pocketbase.lua URL -- MODE DATA_FILE`
-- MODE: update | detail. DATA_FILE (written by bench/pocketbase.py) returns
-- {token = "...", ids = {"...", ...}}: the user's token and its orders' record ids.
-- Any answer other than HTTP 200 counts as an error.

local mode, token, ids
local counter = 0
errors = 0 -- global: read per thread by done()
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_seed", #threads)
end

function init(args)
  mode = args[1]
  local data = dofile(args[2])
  token, ids = data.token, data.ids
  math.randomseed(os.time() * 1000 + thread_seed)
end

function request()
  counter = counter + 1
  local path = "/api/collections/orders/records/" .. ids[math.random(#ids)]
  local headers = { ["Authorization"] = token, ["Content-Type"] = "application/json" }
  if mode == "update" then
    local body = string.format('{"order_extra":{"k%d":"v%d"}}', counter % 20, counter)
    return wrk.format("PATCH", path, headers, body)
  elseif mode == "detail" then
    return wrk.format("GET", path, headers)
  end
  error("unknown mode " .. tostring(mode))
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format("ORDERDESK_ERRORS %d\n", total))
end
