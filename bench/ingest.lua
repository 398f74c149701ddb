-- wrk script for bench/survey_ingest.py: unique, valid relationship-NPS responses; counts what was accepted.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  counter, ok, bad = 0, 0, 0
end

function request()
  counter = counter + 1
  local score = (counter * 7 + id) % 11
  local extra = ""
  if score <= 6 then extra = ',"went_wrong":"送貨太慢"' end
  local body = string.format(
    '{"survey":"relationship_nps","client_key":"w%d-%d","locale":"zh-TW","customer_id":"C%05d",'
      .. '"answers":{"nps":%d,"reason":"送貨很快，茶很好喝","value_most":"price_value"%s}}',
    id, counter, (counter % 500) + 1, score, extra)
  local headers = {["Content-Type"] = "application/json"}
  if key and key ~= "" then headers["Authorization"] = "Bearer " .. key end
  return wrk.format("POST", "/api/v1/responses", headers, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
  end
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\n", total_ok, total_bad,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
