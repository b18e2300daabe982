-- wrk script: every request redeems a distinct PIN ("pin,card" lines of the file in args[1]).
-- Threads take interleaved lines, so no PIN is sent twice while the file lasts.
local next_thread_id = 0
local pins = {}
local sent = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

function init(args)
  for line in io.lines(args[1]) do
    pins[#pins + 1] = line
  end
  threads = tonumber(args[2])
end

function request()
  local index = thread_id + 1 + sent * threads
  sent = sent + 1
  local pin, card = pins[index]:match("([^,]+),([^,]+)")
  local body = '{"pin":"' .. pin .. '","card":"' .. card .. '"}'
  return wrk.format("POST", "/api/v1/redemptions", {["Content-Type"] = "application/json"}, body)
end
