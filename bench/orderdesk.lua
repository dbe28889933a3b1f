-- wrk script for orderdesk: `wrk -s bench/orderdesk.lua URL -- MODE SESSIONS_FILE`
-- MODE: update | detail | list | send. SESSIONS_FILE (written by bench/run.py) returns
-- {users = U, orders = N, sessions = {{token = "...", user_id = 1}, ...}}.
-- Order k belongs to user ((k - 1) % U) + 1, so each request can pick an order the
-- caller owns. Any answer other than HTTP 200 with code 0 counts as an error.

local mode, sessions, users, per_user
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
  sessions, users = data.sessions, data.users
  per_user = math.floor(data.orders / data.users)
  math.randomseed(os.time() * 1000 + thread_seed)
end

local function pick()
  local session = sessions[math.random(#sessions)]
  return session, session.user_id + users * math.random(0, per_user - 1)
end

function request()
  counter = counter + 1
  local session, id = pick()
  local headers = { ["Token"] = session.token, ["Content-Type"] = "application/json" }
  if mode == "update" then
    local body = string.format('{"id":%d,"order_extra":{"k%d":"v%d"}}', id, counter % 20, counter)
    return wrk.format("POST", "/api/communication/order/update", headers, body)
  elseif mode == "detail" then
    return wrk.format("GET", "/api/communication/order/detail?id=" .. id, headers)
  elseif mode == "list" then
    return wrk.format("GET", "/api/communication/orders?current=1&page_size=10", headers)
  elseif mode == "send" then
    local body = string.format(
      '{"comm_order_id":%d,"message_type":"text","content":"hello %d"}', id, counter)
    return wrk.format("POST", "/api/communication/message/send", headers, body)
  end
  error("unknown mode " .. tostring(mode))
end

function response(status, headers, body)
  if status ~= 200 or string.sub(body, 1, 10) ~= '{"code":0,' then
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
