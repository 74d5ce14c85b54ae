-- B2's load from wrk: pre-signed deliveries read from B2_REQUESTS, each sent once.
-- The file holds records "<length>\n<raw HTTP/1.1 request>": the client only sends bytes,
-- so its CPU per delivery is a fraction of the server's (no JSON, no HMAC while timing).
-- done() prints "B2 <answers> <not 202> <exhausted> <duration µs>"; `exhausted` counts
-- requests asked for after the file ran out (then the run is too short to mean anything).
local file, last
-- Globals: done() reads them from each thread with thread:get.
answers, refused, exhausted = 0, 0, 0

function init(args)
  file = assert(io.open(os.getenv("B2_REQUESTS"), "rb"))
end

function request()
  local length = file:read("*l")
  if length == nil then
    exhausted = exhausted + 1
    return last
  end
  last = file:read(tonumber(length))
  return last
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 202 then
    refused = refused + 1
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local a, r, e = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("answers")
    r = r + thread:get("refused")
    e = e + thread:get("exhausted")
  end
  io.write(string.format("B2 %d %d %d %d\n", a, r, e, summary.duration))
end
