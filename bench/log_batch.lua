-- wrk script: POST runs/log-batch with 1,000 metrics per request. Every request of every
-- thread carries new points (a timestamp unique to it), so no point is a duplicate the
-- store could skip.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local template
local counter = 0
init = function(args)
  local parts = {}
  for i = 1, 1000 do
    parts[#parts + 1] = string.format('{"key":"m%d","value":%d.5,"timestamp":TS,"step":%d}', i % 20, i, i)
  end
  template = string.format('{"run_id":"%s","metrics":[%s]}', os.getenv("RUN_ID"), table.concat(parts, ","))
end
request = function()
  counter = counter + 1
  local body = template:gsub("TS", tostring(counter * 64 + id))
  return wrk.format("POST", os.getenv("API_PATH"), {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
