-- wrk script: every request is a different, pre-built (pre-signed) raw HTTP request read from a file.
--
-- bench/loadgen.py writes the file as records "<byte length>\n<raw request>" and runs
--   wrk -s bench/distinct_requests.lua ... -- <file> <threads>
-- Thread t sends records t, t+T, t+2T, ... so no two requests in a run are the same. When a thread runs out of
-- records it wraps around and counts it: a run that replayed requests is reported as such (and fails the bench).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   local step = tonumber(args[2])
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   requests_list = {}
   local pos, index = 1, 0
   while pos <= #data do
      local newline = string.find(data, "\n", pos, true)
      local length = tonumber(string.sub(data, pos, newline - 1))
      local raw = string.sub(data, newline + 1, newline + length)
      if index % step == id then
         table.insert(requests_list, raw)
      end
      index = index + 1
      pos = newline + length + 1
   end
   next_index = 1
   sent = 0
   wrapped = 0
end

function request()
   if next_index > #requests_list then
      next_index = 1
      wrapped = wrapped + 1
   end
   local raw = requests_list[next_index]
   next_index = next_index + 1
   sent = sent + 1
   return raw
end

function done(summary, latency, requests)
   local sent_total, wrapped_total, per_thread_max = 0, 0, 0
   for _, thread in ipairs(threads) do
      local thread_sent = thread:get("sent") or 0
      sent_total = sent_total + thread_sent
      wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
      if thread_sent > per_thread_max then per_thread_max = thread_sent end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "sent": %d, "per_thread_max": %d, "wrapped": %d, ' ..
      '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
      summary.requests, summary.duration, sent_total, per_thread_max, wrapped_total,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
