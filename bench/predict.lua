-- wrk script for the serving benchmark: POSTs the one-row request in REQUEST_FILE.
local f = assert(io.open(os.getenv("REQUEST_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
