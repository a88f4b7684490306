-- wrk script: POST runs/log-metric with a fresh step each request.
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"run_id":"%s","key":"loss","value":%f,"timestamp":%d,"step":%d}',
                             os.getenv("RUN_ID"), 1.0 / counter, counter, counter)
  return wrk.format("POST", os.getenv("API_PATH"), {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
