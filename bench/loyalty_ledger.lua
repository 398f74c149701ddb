-- wrk script for bench/loyalty_ledger.py --http: earn (adjust) and redeem alternating, 1-50 points, on members
-- drawn at random, each with a unique idempotency key; counts 200s, 409s (refused: short of points) and others.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  key, members = args[1], tonumber(args[2])
  counter, ok, refused, other = 0, 0, 0, 0
  math.randomseed(1000 + id)
end

function request()
  counter = counter + 1
  local kind = (counter % 2 == 1) and "adjust" or "redeem"
  local body = string.format('{"points":%d,"reason":"%s","idempotency_key":"wrk-%d-%d"}',
    math.random(1, 50), kind, id, counter)
  local path = string.format("/api/v1/loyalty/members/M%05d/%s", math.random(0, members - 1), kind)
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["X-API-Key"] = key}, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 409 then refused = refused + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_refused, total_other = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_refused = total_refused + thread:get("refused")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f\n", total_ok, total_refused, total_other,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
