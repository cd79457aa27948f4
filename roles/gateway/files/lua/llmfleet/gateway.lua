-- llmfleet API gateway: OpenAI-compatible front door inside nginx (Debian's libnginx-mod-http-lua).
-- docs/gateway.md. One module, four phases:
--   access       path allow-list, Bearer key (sha256, exact), model routing, per-key limits, audit gate
--   balancer     least in-flight healthy backend of the model; a failed one is retried on the next (no byte sent yet)
--   body_filter  time to first byte, the response's usage (head and tail kept, nothing buffered)
--   log          tokens charged to the key's bucket, metrics, one audit JSON line
-- State shared by every worker lives in lua_shared_dict zones (limits, health, metrics), which survive a reload.
-- The configuration is read once per (re)load by the master process (root): /etc/llmfleet-gateway/gateway.json
-- (backends, engine keys: 0600 root). The hashed key store (written by the role, never a key in clear, 0640
-- root:www-data) is read there too and then re-read by each worker every second: keys change without a reload.

local cjson = require("cjson.safe")
local ffi = require("ffi")

local M = {}

ffi.cdef([[
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
int access(const char *path, int amode);
unsigned int umask(unsigned int mask);
]])

local W_OK = 2
local STATE = ngx.shared.llmfleet_gw
local METRICS = ngx.shared.llmfleet_gw_metrics
local ROUTES = {
    ["/v1/models"] = "models",
    ["/v1/chat/completions"] = "chat",
    ["/v1/completions"] = "completions",
    ["/v1/embeddings"] = "embeddings",
}
local BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 }
local HEAD_MAX, TAIL_MAX = 4096, 8192

local CONF = { models = {}, model_names = {}, backends = {} }
local KEYS = {}

local digest = ffi.new("unsigned char[32]")
local function sha256_hex(s)
    ffi.C.SHA256(s, #s, digest)
    local out = {}
    for i = 0, 31 do
        out[i + 1] = string.format("%02x", digest[i])
    end
    return table.concat(out)
end
M.sha256_hex = sha256_hex

local function read_json(path)
    local fh, err = io.open(path, "rb")
    if not fh then
        return nil, err
    end
    local text = fh:read("*a")
    fh:close()
    local doc, derr = cjson.decode(text)
    if type(doc) ~= "table" then
        return nil, path .. ": " .. tostring(derr)
    end
    return doc
end

-- init_by_lua (master, root): configuration and key store; an error here fails `nginx -t` / the reload.
function M.init(conf_path)
    local conf, err = read_json(conf_path)
    if not conf then
        error("llmfleet gateway: cannot read " .. conf_path .. ": " .. tostring(err))
    end
    CONF = conf
    CONF.backends = {}
    CONF.model_names = {}
    for name, model in pairs(conf.models or {}) do
        CONF.model_names[#CONF.model_names + 1] = name
        for _, b in ipairs(model.backends or {}) do
            b.model = name
            CONF.backends[#CONF.backends + 1] = b
        end
    end
    table.sort(CONF.model_names)
    local ok, kerr = M.load_keys()
    if not ok then
        ngx.log(ngx.WARN, "llmfleet gateway: ", kerr, ": every request is refused (401)")
    end
end

-- The key store is re-read by every worker each second (a small file): adding or revoking a key is a new file,
-- never a reload, so no connection is closed for it. A store that cannot be read or parsed keeps the last one.
local KEYS_TEXT = nil
M.keys_digest = ""
function M.load_keys()
    local fh, err = io.open(CONF.keys_file or "", "rb")
    if not fh then
        return false, "no key store at " .. tostring(CONF.keys_file) .. " (" .. tostring(err) .. ")"
    end
    local text = fh:read("*a")
    fh:close()
    if text == KEYS_TEXT then
        return true
    end
    local store = cjson.decode(text)
    if type(store) ~= "table" or type(store.keys) ~= "table" then
        return false, "the key store " .. CONF.keys_file .. " is not a key list: the previous one is kept"
    end
    local keys = {}
    for _, row in ipairs(store.keys) do
        local allowed = {}
        for _, m in ipairs(row.models or {}) do
            allowed[m] = true
        end
        row.allowed = allowed
        local hash = (row.sha256 or ""):gsub("^sha256:", "")
        if hash ~= "" then
            keys[hash] = row
        end
    end
    KEYS, KEYS_TEXT, M.keys_digest = keys, text, sha256_hex(text)
    return true, "loaded"
end

local function reload_keys(premature)
    if premature then
        return
    end
    local ok, msg = M.load_keys()
    if not ok then
        ngx.log(ngx.ERR, "llmfleet gateway: ", msg)
    elseif msg == "loaded" then
        ngx.log(ngx.NOTICE, "llmfleet gateway: key store re-read, sha256 ", M.keys_digest)
    end
end

-- ---------------------------------------------------------------------------------------------------------------
-- errors in OpenAI's shape
local function send_error(status, message, etype, code, headers)
    ngx.ctx.error_code = code
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    for k, v in pairs(headers or {}) do
        ngx.header[k] = v
    end
    ngx.print(cjson.encode({ error = { message = message, type = etype, param = cjson.null, code = code } }))
end

-- in the access phase: answer the error and end the request there
local function fail(status, message, etype, code, headers)
    send_error(status, message, etype, code, headers)
    return ngx.exit(ngx.HTTP_OK)
end
M.fail = fail

-- error_page targets (413 from nginx itself, 502/504 when every backend failed)
local ERROR_PAGES = {
    [413] = { "Request body too large for the gateway (client_max_body_size).", "invalid_request_error",
        "request_too_large" },
    [502] = { "Every backend serving this model failed.", "api_error", "backend_failed" },
    [504] = { "The backend did not answer in time.", "api_error", "backend_timeout" },
}

function M.error_page(status)
    local t = ERROR_PAGES[status] or { "Gateway error.", "api_error", "gateway_error" }
    send_error(status, t[1], t[2], t[3])
end

-- ---------------------------------------------------------------------------------------------------------------
-- keys
local function presented_key()
    local auth = ngx.var.http_authorization
    if auth then
        local token = auth:match("^[Bb]earer +([^ ]+) *$")
        return token
    end
    return ngx.var.http_x_api_key
end

-- ---------------------------------------------------------------------------------------------------------------
-- token buckets shared by every worker: level refilled at admission under a short lock; charges after a response
-- (log phase, where no lock can wait) are added to a pending counter with an atomic incr and folded in here.
local function lock(name)
    for _ = 1, 200 do
        if STATE:add("lock:" .. name, true, 0.05) then
            return true
        end
        ngx.sleep(0.001)
    end
    return false
end

local function unlock(name)
    STATE:delete("lock:" .. name)
end

-- admit: returns ok, seconds until admissible. cost 1 (requests) needs a level >= 1; cost 0 (tokens) a level > 0.
local function take(name, per_minute, cost)
    if not per_minute or per_minute <= 0 then
        return true
    end
    local rate = per_minute / 60
    if not lock(name) then
        return false, 1
    end
    local now = ngx.now()
    local level = STATE:get("lvl:" .. name) or per_minute
    local ts = STATE:get("ts:" .. name) or now
    level = math.min(per_minute, level + (now - ts) * rate)
    local pending = STATE:get("pend:" .. name) or 0
    if pending ~= 0 then
        STATE:incr("pend:" .. name, -pending, 0)
        level = level - pending
    end
    local ok = (cost > 0 and level >= cost) or (cost == 0 and level > 0)
    if ok then
        level = level - cost
    end
    STATE:set("lvl:" .. name, level)
    STATE:set("ts:" .. name, now)
    unlock(name)
    if ok then
        return true
    end
    local need = (cost > 0 and cost or 1e-3) - level
    return false, math.max(1, math.ceil(need / rate))
end

-- ---------------------------------------------------------------------------------------------------------------
-- audit: one JSON line per request in dated files (UTC), fail-closed by default
local audit_fh, audit_day

local function audit_path(day)
    return CONF.audit_dir .. "/audit-" .. day .. ".jsonl"
end

local function audit_writable()
    if STATE:get("audit_error") then
        return false
    end
    local path = audit_path(os.date("!%Y-%m-%d"))
    if ffi.C.access(path, W_OK) == 0 then
        return true
    end
    -- not there yet (first request of the day): the directory must take it
    return ffi.C.access(path, 0) ~= 0 and ffi.C.access(CONF.audit_dir, W_OK) == 0
end

local function audit_write(line)
    local day = os.date("!%Y-%m-%d")
    if day ~= audit_day or not audit_fh then
        if audit_fh then
            audit_fh:close()
        end
        audit_fh, audit_day = io.open(audit_path(day), "a"), day
        if not audit_fh then
            audit_day = nil
        end
    end
    local ok, err
    if audit_fh then
        ok, err = audit_fh:write(line, "\n")
        if ok then
            ok, err = audit_fh:flush()
        end
    end
    if not ok then
        if audit_fh then
            audit_fh:close()
        end
        audit_fh, audit_day = nil, nil
        -- later requests answer 503 for a while (fail-closed), then the gateway tries again
        STATE:set("audit_error", true, CONF.audit_retry_sec or 5)
        METRICS:incr("audit_errors", 1, 0)
        ngx.log(ngx.ERR, "llmfleet gateway: audit write failed: ", tostring(err))
    end
end

-- ---------------------------------------------------------------------------------------------------------------
-- backends: active health checks from worker 0, passive marks from the balancer, least in-flight choice
local function backend_id(b)
    return b.model .. "|" .. b.name
end

local function healthy(model)
    local out = {}
    for _, b in ipairs(model.backends or {}) do
        if STATE:get("up:" .. backend_id(b)) == 1 then
            out[#out + 1] = b
        end
    end
    return out
end

local function probe(b)
    local sock = ngx.socket.tcp()
    local timeout = (CONF.health_timeout_sec or 2) * 1000
    sock:settimeouts(timeout, timeout, timeout)
    local ok = sock:connect(b.address, b.port)
    local up = 0
    if ok then
        local sent = sock:send("GET " .. (b.health_path or "/health") .. " HTTP/1.0\r\nHost: " .. b.address
            .. "\r\n\r\n")
        if sent then
            local status = sock:receive("*l")
            if status and status:match("^HTTP/%d%.%d 200") then
                up = 1
            end
        end
        sock:close()
    end
    local id = backend_id(b)
    if STATE:get("up:" .. id) ~= up then
        ngx.log(up == 1 and ngx.NOTICE or ngx.WARN, "llmfleet gateway: backend ", id, " ",
            up == 1 and "up" or "DOWN")
    end
    STATE:set("up:" .. id, up)
end

local function check_all(premature)
    if premature then
        return
    end
    local threads = {}
    for _, b in ipairs(CONF.backends) do
        threads[#threads + 1] = ngx.thread.spawn(probe, b)
    end
    for _, t in ipairs(threads) do
        ngx.thread.wait(t)
    end
end

function M.init_worker()
    ffi.C.umask(tonumber("027", 8))  -- audit files 0640
    if ngx.worker.id() == 0 then
        ngx.timer.at(0, check_all)
        ngx.timer.every(CONF.health_interval_sec or 2, check_all)
    end
    ngx.timer.every(1, reload_keys)
end

-- ---------------------------------------------------------------------------------------------------------------
local function list_models(row)
    local data = {}
    for _, name in ipairs(CONF.model_names) do
        if row.allowed["*"] or row.allowed[name] then
            data[#data + 1] = { id = name, object = "model", created = 0, owned_by = "llmfleet" }
        end
    end
    ngx.ctx.status_note = "local"
    ngx.header["Content-Type"] = "application/json"
    ngx.print(cjson.encode({ object = "list", data = (#data > 0) and data or cjson.empty_array }))
    return ngx.exit(ngx.HTTP_OK)
end

local function read_body()
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then
        local file = ngx.req.get_body_file()
        if file then
            local fh = io.open(file, "rb")
            if fh then
                body = fh:read("*a")
                fh:close()
            end
        end
    end
    return body
end

function M.access()
    ngx.update_time()
    local ctx = ngx.ctx
    ctx.t0 = ngx.now()
    local route = ROUTES[ngx.var.uri]
    if not route then
        return fail(404, "Unknown path " .. ngx.var.uri .. ": the gateway serves /v1/models, /v1/chat/completions, "
            .. "/v1/completions and /v1/embeddings.", "invalid_request_error", "unknown_url")
    end
    local want = route == "models" and "GET" or "POST"
    if ngx.req.get_method() ~= want then
        return fail(405, ngx.var.uri .. " takes " .. want .. ".", "invalid_request_error", "method_not_allowed")
    end
    local key = presented_key()
    local row = key and key ~= "" and KEYS[sha256_hex(key)] or nil
    if not row then
        return fail(401, "Incorrect API key provided. Send it as Authorization: Bearer <key>.",
            "invalid_request_error", "invalid_api_key")
    end
    ctx.key = row.name
    ngx.var.llmfleet_key = row.name
    if not audit_writable() and CONF.audit_fail_closed ~= false then
        return fail(503, "The gateway cannot write its audit log and refuses to serve unaudited requests.",
            "api_error", "audit_unavailable")
    end
    if route == "models" then
        return list_models(row)
    end
    local body = read_body()
    local req = body and cjson.decode(body)
    if type(req) ~= "table" or type(req.model) ~= "string" then
        return fail(400, "The body must be a JSON object with a \"model\".", "invalid_request_error",
            "invalid_body")
    end
    ctx.model = req.model
    ngx.var.llmfleet_model = req.model
    local model = CONF.models[req.model]
    if not model then
        return fail(404, "The model `" .. req.model .. "` does not exist.", "invalid_request_error",
            "model_not_found")
    end
    if not (row.allowed["*"] or row.allowed[req.model]) then
        return fail(403, "This key may not use the model `" .. req.model .. "`.", "permission_error",
            "model_not_allowed")
    end
    -- tokens: admitted on the bucket's level (charged after the response); requests: one each
    local ok, wait = take("tpm:" .. row.name, row.tokens_per_minute, 0)
    if not ok then
        ctx.limit = "tokens"
        return fail(429, "Rate limit reached for tokens per minute of key " .. row.name .. ".", "requests",
            "rate_limit_exceeded", { ["Retry-After"] = tostring(wait) })
    end
    ok, wait = take("rpm:" .. row.name, row.requests_per_minute, 1)
    if not ok then
        ctx.limit = "requests"
        return fail(429, "Rate limit reached for requests per minute of key " .. row.name .. ".", "requests",
            "rate_limit_exceeded", { ["Retry-After"] = tostring(wait) })
    end
    local backends = healthy(model)
    if #backends == 0 then
        return fail(503, "No healthy backend serves the model `" .. req.model .. "` right now.", "api_error",
            "no_healthy_backend")
    end
    ctx.backends = backends
    ctx.tries = 0
    ctx.stream = req.stream == true and route ~= "embeddings"
    ctx.head, ctx.tail, ctx.events = "", "", 0
    if ctx.stream then
        if req.stream_options == nil then
            -- ask the engine for the usage of the stream (its last chunk); JSON objects keep their order here
            ngx.req.set_body_data((body:gsub("^%s*{", '{"stream_options":{"include_usage":true},', 1)))
            ctx.usage_asked = true
        elseif type(req.stream_options) == "table" and req.stream_options.include_usage then
            ctx.usage_asked = true
        end
    end
    ngx.var.llmfleet_engine_auth = "Bearer " .. (model.engine_key or "")
end

function M.balance()
    local balancer = require("ngx.balancer")
    local ctx = ngx.ctx
    local backends = ctx.backends
    if ctx.tries > 0 then
        -- the last one failed before a byte reached the client (a refused connection, or an idle keep-alive
        -- connection the engine had closed): retried; out until the next probe once it failed max_fails times
        local id = backend_id(ctx.current)
        STATE:incr("inflight:" .. id, -1, 1)
        METRICS:incr("retry|" .. ctx.current.model .. "|" .. ctx.current.name, 1, 0)
        if STATE:incr("fails:" .. id, 1, 0, CONF.health_interval_sec or 2) >= (CONF.max_fails or 3) then
            STATE:set("up:" .. id, 0)
        end
    else
        -- every other backend once, and at least one retry (on the same backend when it is the only one)
        balancer.set_more_tries(math.max(#backends, 2) - 1)
    end
    -- least in-flight among those not tried yet; ties broken by a shared round-robin counter
    local rr = STATE:incr("rr:" .. (ctx.model or ""), 1, 0)
    local best, best_n
    for i = 1, #backends do
        local b = backends[((rr + i) % #backends) + 1]
        if not (ctx.tried and ctx.tried[b.name]) then
            local n = STATE:get("inflight:" .. backend_id(b)) or 0
            if not best or n < best_n then
                best, best_n = b, n
            end
        end
    end
    best = best or backends[1]
    ctx.tried = ctx.tried or {}
    ctx.tried[best.name] = true
    ctx.tries = ctx.tries + 1
    ctx.current = best
    STATE:incr("inflight:" .. backend_id(best), 1, 0)
    ngx.var.llmfleet_backend = backend_id(best)
    local ok, err = balancer.set_current_peer(best.address, best.port)
    if not ok then
        ngx.log(ngx.ERR, "llmfleet gateway: set_current_peer ", best.name, ": ", err)
    end
end

function M.body_filter()
    local ctx = ngx.ctx
    local chunk = ngx.arg[1]
    if not ctx.head or chunk == "" then
        return
    end
    if not ctx.ttfb then
        ngx.update_time()
        ctx.ttfb = ngx.now() - ctx.t0
    end
    if #ctx.head < HEAD_MAX then
        ctx.head = ctx.head .. chunk:sub(1, HEAD_MAX - #ctx.head)
    end
    local tail = ctx.tail .. chunk
    if #tail > 2 * TAIL_MAX then
        tail = tail:sub(-TAIL_MAX)
    end
    ctx.tail = tail
    if ctx.stream then
        local _, n = chunk:gsub("data: {", "")
        ctx.events = ctx.events + n
    end
end

local function last_number(text, field)
    local value
    for v in text:gmatch('"' .. field .. '"%s*:%s*(%d+)') do
        value = v
    end
    return value and tonumber(value)
end

local function usage(ctx)
    for _, text in ipairs({ ctx.tail or "", ctx.head or "" }) do
        local p, c = last_number(text, "prompt_tokens"), last_number(text, "completion_tokens")
        if p or c then
            return p or 0, c or 0, "engine"
        end
    end
    if ctx.stream and (ctx.events or 0) > 0 then
        -- no usage chunk (the client set stream_options itself): one token per content event
        return 0, ctx.events, "counted"
    end
    return 0, 0, "none"
end

local function label(s)
    return (tostring(s or ""):gsub("[\\\"\n|]", "_"))
end

function M.log()
    local ctx = ngx.ctx
    ngx.update_time()
    local now = ngx.now()
    local status = tonumber(ngx.var.status) or 0
    local latency = now - (ctx.t0 or ngx.req.start_time())
    local tin, tout, source = 0, 0, "none"
    -- after an internal redirect (error page) ngx.ctx is new: the variables set in access still hold
    ctx.key = ctx.key or (ngx.var.llmfleet_key ~= "" and ngx.var.llmfleet_key) or nil
    ctx.model = ctx.model or (ngx.var.llmfleet_model ~= "" and ngx.var.llmfleet_model) or nil
    local backend = ngx.var.llmfleet_backend or ""
    if backend ~= "" then
        STATE:incr("inflight:" .. backend, -1, 1)
    end
    if ctx.current then
        tin, tout, source = usage(ctx)
        if ctx.key and tin + tout > 0 then
            STATE:incr("pend:tpm:" .. ctx.key, tin + tout, 0)
        end
    end
    local model, key = label(ctx.model), label(ctx.key)
    METRICS:incr("req|" .. model .. "|" .. key .. "|" .. status, 1, 0)
    if tin > 0 then
        METRICS:incr("tok|" .. model .. "|" .. key .. "|prompt", tin, 0)
    end
    if tout > 0 then
        METRICS:incr("tok|" .. model .. "|" .. key .. "|completion", tout, 0)
    end
    if ctx.current then
        for _, le in ipairs(BUCKETS) do
            if latency <= le then
                METRICS:incr("lat|" .. model .. "|" .. le, 1, 0)
            end
        end
        METRICS:incr("lat|" .. model .. "|+Inf", 1, 0)
        METRICS:incr("latsum|" .. model, latency, 0)
        if ctx.ttfb then
            for _, le in ipairs(BUCKETS) do
                if ctx.ttfb <= le then
                    METRICS:incr("ttfb|" .. model .. "|" .. le, 1, 0)
                end
            end
            METRICS:incr("ttfb|" .. model .. "|+Inf", 1, 0)
            METRICS:incr("ttfbsum|" .. model, ctx.ttfb, 0)
        end
    end
    local rid = ngx.var.http_x_request_id
    if rid and (#rid > 128 or rid:find("[^%w._:-]")) then
        rid = nil
    end
    audit_write(cjson.encode({
        time = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(now)) .. string.format(".%03dZ", (now % 1) * 1000),
        key = ctx.key or cjson.null,
        model = ctx.model or cjson.null,
        path = ngx.var.uri,
        backend = (backend ~= "" and backend:gsub("^[^|]*|", "")) or cjson.null,
        tries = ctx.tries or 0,
        status = status,
        error = ctx.error_code or cjson.null,
        limit = ctx.limit or cjson.null,
        stream = ctx.stream or false,
        tokens_in = tin,
        tokens_out = tout,
        usage = source,
        latency_s = math.floor(latency * 1000 + 0.5) / 1000,
        ttfb_s = ctx.ttfb and math.floor(ctx.ttfb * 1000 + 0.5) / 1000 or cjson.null,
        bytes_in = tonumber(ngx.var.request_length) or 0,
        bytes_out = tonumber(ngx.var.bytes_sent) or 0,
        client = ngx.var.remote_addr,
        request_id = rid or ngx.var.request_id,
        nginx_id = ngx.var.request_id,
    }))
end

-- ---------------------------------------------------------------------------------------------------------------
-- Prometheus text exposition (the monitoring role scrapes it)
function M.metrics()
    local out = {}
    local function add(s)
        out[#out + 1] = s
    end
    local keys = METRICS:get_keys(0)
    table.sort(keys)
    add("# HELP llmfleet_gateway_requests_total Requests answered by the gateway, by model, key and status.")
    add("# TYPE llmfleet_gateway_requests_total counter")
    for _, k in ipairs(keys) do
        local model, key, code = k:match("^req|([^|]*)|([^|]*)|(%d+)$")
        if model then
            add(string.format('llmfleet_gateway_requests_total{model="%s",key="%s",code="%s"} %d', model, key,
                code, METRICS:get(k)))
        end
    end
    add("# HELP llmfleet_gateway_tokens_total Tokens by model, key and direction (from the engines' usage).")
    add("# TYPE llmfleet_gateway_tokens_total counter")
    for _, k in ipairs(keys) do
        local model, key, dir = k:match("^tok|([^|]*)|([^|]*)|(%a+)$")
        if model then
            add(string.format('llmfleet_gateway_tokens_total{model="%s",key="%s",type="%s"} %d', model, key, dir,
                METRICS:get(k)))
        end
    end
    for _, h in ipairs({ { "lat", "request_duration_seconds", "Time from request to the last byte." },
        { "ttfb", "time_to_first_byte_seconds", "Time from request to the first byte of the response." } }) do
        local metric = "llmfleet_gateway_" .. h[2]
        add("# HELP " .. metric .. " " .. h[3])
        add("# TYPE " .. metric .. " histogram")
        for _, name in ipairs(CONF.model_names) do
            local count = METRICS:get(h[1] .. "|" .. name .. "|+Inf")
            if count then
                for _, le in ipairs(BUCKETS) do
                    add(string.format('%s_bucket{model="%s",le="%s"} %d', metric, name, le,
                        METRICS:get(h[1] .. "|" .. name .. "|" .. le) or 0))
                end
                add(string.format('%s_bucket{model="%s",le="+Inf"} %d', metric, name, count))
                add(string.format('%s_sum{model="%s"} %.6f', metric, name, METRICS:get(h[1] .. "sum|" .. name) or 0))
                add(string.format('%s_count{model="%s"} %d', metric, name, count))
            end
        end
    end
    add("# HELP llmfleet_gateway_backend_up Whether the gateway's health check finds the backend up.")
    add("# TYPE llmfleet_gateway_backend_up gauge")
    add("# HELP llmfleet_gateway_backend_retries_total Requests moved off a failed backend to another.")
    add("# TYPE llmfleet_gateway_backend_retries_total counter")
    add("# HELP llmfleet_gateway_model_healthy_backends Healthy backends per model (0: requests get 503).")
    add("# TYPE llmfleet_gateway_model_healthy_backends gauge")
    for _, name in ipairs(CONF.model_names) do
        local model = CONF.models[name]
        local up = 0
        for _, b in ipairs(model.backends or {}) do
            local v = STATE:get("up:" .. backend_id(b)) == 1 and 1 or 0
            up = up + v
            add(string.format('llmfleet_gateway_backend_up{model="%s",backend="%s"} %d', name, b.name, v))
            add(string.format('llmfleet_gateway_backend_retries_total{model="%s",backend="%s"} %d', name, b.name,
                METRICS:get("retry|" .. name .. "|" .. b.name) or 0))
        end
        add(string.format('llmfleet_gateway_model_healthy_backends{model="%s"} %d', name, up))
    end
    add("# HELP llmfleet_gateway_audit_write_errors_total Audit lines that could not be written.")
    add("# TYPE llmfleet_gateway_audit_write_errors_total counter")
    add("llmfleet_gateway_audit_write_errors_total " .. (METRICS:get("audit_errors") or 0))
    add("# HELP llmfleet_gateway_keys Keys in the gateway's store.")
    add("# TYPE llmfleet_gateway_keys gauge")
    local n = 0
    for _ in pairs(KEYS) do
        n = n + 1
    end
    add("llmfleet_gateway_keys " .. n)
    add("# HELP llmfleet_gateway_key_store_info The key store this worker serves (sha256 of the file).")
    add("# TYPE llmfleet_gateway_key_store_info gauge")
    add('llmfleet_gateway_key_store_info{sha256="' .. M.keys_digest .. '"} 1')
    ngx.header["Content-Type"] = "text/plain; version=0.0.4"
    ngx.print(table.concat(out, "\n") .. "\n")
end

return M
