-- wrk script: each request uploads a JSON batch of `per` production records with IDs no request repeats
-- (thread number, request counter, record index), so every upload commits.
-- Usage: TOKEN=... PER=100 wrk -t2 -c8 -d20s -s Scripts/gateway-upload.lua 'https://127.0.0.1:PORT/v1/records?kind=production'
local counter = 0
local threads = {}
local per = tonumber(os.getenv("PER") or "100")
local token = os.getenv("TOKEN") or ""

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

-- Each request's records share a batch number, one of 1,000 (B-W0 ... B-W999), so a query by batch returns about
-- a hundred rows per thousand requests uploaded.
local function record(uid, batch)
  return '{"production_time":"2025-03-01T08:00:00Z","production_location":"Kunming plant 2, line 3","product_uid":"' .. uid ..
    '","pro_raw_material":{"pro_supplier":"Yunnan Copper Co.","pro_batch_number":"' .. batch .. '","pro_Report_qualify_eval":"QR-17: pass"},' ..
    '"propara":{"pro_temperature":"71.5","pro_humidity":"40","pro_pressure":"101.3"},' ..
    '"pro_op_info":{"pro_op_name":"Li Wei","pro_op_id":"OP-7","pro_op_record":"shift A"},"pro_factory_uid":"F-KM-02","device_id":"PRESS-04"}'
end

request = function()
  counter = counter + 1
  local parts = {}
  local batch = string.format("B-W%d", counter % 1000)
  for i = 1, per do parts[i] = record(string.format("W%d-%d-%d", id, counter, i), batch) end
  local body = '{"records":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("uploads: %d requests, %d non-2xx, records/s %.0f, p50 %.1f ms, p99 %.1f ms\n",
    summary.requests, summary.errors.status, summary.requests * per / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
