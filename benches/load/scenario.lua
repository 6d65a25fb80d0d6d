-- benches/load/scenario.lua: the requests of one loadbench scenario, for wrk.
--
-- loadbench.py runs `wrk -s scenario.lua` once per scenario and hands it everything through
-- the environment (wrk passes no arguments to the script's threads in a portable way):
--   LB_MODE   create | create_password | get | filter | member | page | cursor_first |
--             cursor_end | cursor_walk | put | provision
--   LB_BASE   the SCIM base path, e.g. /v1/tenants/default/realms/default/scim/v2
--   LB_TOKEN  a bearer token
--   LB_DATA   a directory with ids.txt and names.txt (same line = same user), pool.txt
--             (users outside the benchmark group) and cursors.txt (cursors near the end)
--   LB_RUN    a tag unique to this run, so created userNames never collide with earlier runs
--   LB_TOTAL  users in the directory (random startIndex range)
--   LB_GROUP  the group PATCHed by `member`
--   LB_CHECK  1: print the first failing responses of each thread (smoke mode)
--   LB_QUOTA  `provision`: users each thread creates; it writes `id<TAB>userName` of each to
--             LB_DATA/provisioned-<thread>.txt and, at its quota, LB_DATA/provisioned-<thread>.done
--             and stops (loadbench.py then ends wrk: wrk itself waits out its duration)
-- Every request differs from the one before: random ids and names, unique userNames.
-- done() prints one `LOADBENCH {json}` line that loadbench.py parses.

local mode = os.getenv("LB_MODE") or "get"
local base = os.getenv("LB_BASE") or "/scim/v2"
local data = os.getenv("LB_DATA") or "."
local run = os.getenv("LB_RUN") or "0"
local total = tonumber(os.getenv("LB_TOTAL") or "1") or 1
local group = os.getenv("LB_GROUP") or ""
local check = os.getenv("LB_CHECK") == "1"
local quota = tonumber(os.getenv("LB_QUOTA") or "0") or 0

local headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("LB_TOKEN") or ""),
    ["Content-Type"] = "application/scim+json",
    ["Accept"] = "application/scim+json",
}

local PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
local USER = "urn:ietf:params:scim:schemas:core:2.0:User"

local next_thread = 1
function setup(thread)
    thread:set("tid", next_thread)
    next_thread = next_thread + 1
end

local function lines(name)
    local t = {}
    local f = io.open(data .. "/" .. name, "r")
    if f then
        for l in f:lines() do
            if l ~= "" then
                t[#t + 1] = l
            end
        end
        f:close()
    end
    return t
end

local ids, names, pool, cursors = {}, {}, {}, {}
local sent = 0
local walk = {}
local failures = 0
local created, out = 0, nil

function init(args)
    tid = tid or 1
    math.randomseed(os.time() + tid * 7919)
    ids, names = lines("ids.txt"), lines("names.txt")
    pool, cursors = lines("pool.txt"), lines("cursors.txt")
    if mode == "provision" then
        out = assert(io.open(data .. "/provisioned-" .. tid .. ".txt", "w"))
    end
end

local function enc(s)
    s = s or ""
    return (s:gsub("[^%w%-%._~]", function(c)
        return string.format("%%%02X", c:byte())
    end))
end

local function user_body(name, display, password)
    local pw = ""
    if password then
        pw = ',"password":"Lb-' .. name:sub(1, 12) .. '-9x!"'
    end
    return '{"schemas":["' .. USER .. '"],"userName":"' .. name .. '",'
        .. '"name":{"givenName":"Load","familyName":"Bench"},'
        .. '"displayName":"' .. display .. '",'
        .. '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],'
        .. '"active":true' .. pw .. '}'
end

-- What an identity provider's first sync sends: one user at a time, with an externalId.
local function provision_body(name)
    return '{"schemas":["' .. USER .. '"],"userName":"' .. name .. '",'
        .. '"externalId":"idp-' .. name .. '",'
        .. '"name":{"givenName":"Synced","familyName":"User' .. sent .. '"},'
        .. '"displayName":"Synced User ' .. sent .. '",'
        .. '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],'
        .. '"active":true}'
end

local function member_request()
    -- Odd requests add a member, even ones remove it again, so the group keeps its size.
    local k = math.floor((sent + 1) / 2)
    local member = pool[((tid * 104729 + k) % #pool) + 1]
    local op
    if sent % 2 == 1 then
        op = '{"op":"add","path":"members","value":[{"value":"' .. member .. '"}]}'
    else
        op = '{"op":"remove","path":"members[value eq \\"' .. member .. '\\"]"}'
    end
    local body = '{"schemas":["' .. PATCH_OP .. '"],"Operations":[' .. op .. ']}'
    return wrk.format("PATCH", base .. "/Groups/" .. group, headers, body)
end

function request()
    sent = sent + 1
    if mode == "create" or mode == "create_password" then
        local name = "lb" .. run .. "-" .. tid .. "-" .. sent .. "@new.example.com"
        return wrk.format("POST", base .. "/Users", headers,
            user_body(name, "Load Bench " .. sent, mode == "create_password"))
    elseif mode == "provision" then
        local name = "y" .. run .. "-" .. tid .. "-" .. sent .. "@idp.example.com"
        return wrk.format("POST", base .. "/Users", headers, provision_body(name))
    elseif mode == "get" then
        return wrk.format("GET", base .. "/Users/" .. ids[math.random(#ids)], headers)
    elseif mode == "filter" then
        local f = 'userName eq "' .. names[math.random(#names)] .. '"'
        return wrk.format("GET", base .. "/Users?filter=" .. enc(f), headers)
    elseif mode == "member" then
        return member_request()
    elseif mode == "page" then
        local start = math.random(math.max(1, total - 99))
        return wrk.format("GET", base .. "/Users?count=100&startIndex=" .. start, headers)
    elseif mode == "cursor_first" then
        return wrk.format("GET", base .. "/Users?count=100&cursor=", headers)
    elseif mode == "cursor_end" then
        local c = cursors[math.random(#cursors)]
        return wrk.format("GET", base .. "/Users?count=100&cursor=" .. enc(c), headers)
    elseif mode == "cursor_walk" then
        -- Follows the nextCursor of earlier answers: a walk per thread, restarted at the end.
        local c = table.remove(walk, 1) or ""
        return wrk.format("GET", base .. "/Users?count=100&cursor=" .. enc(c), headers)
    elseif mode == "put" then
        local i = math.random(#ids)
        return wrk.format("PUT", base .. "/Users/" .. ids[i], headers,
            user_body(names[i], "Put " .. run .. "-" .. sent, false))
    end
    error("unknown LB_MODE " .. mode)
end

if mode == "provision" then
    function response(status, resp_headers, body)
        if status == 201 then
            local id = body:match('"id"%s*:%s*"([^"]+)"')
            local name = body:match('"userName"%s*:%s*"([^"]+)"')
            if id and name and created < quota then
                out:write(id, "\t", name, "\n")
                created = created + 1
                if created == quota then
                    out:close()
                    local f = assert(io.open(data .. "/provisioned-" .. tid .. ".done", "w"))
                    f:close()
                    wrk.thread:stop()
                end
            end
        elseif check and failures < 3 then
            failures = failures + 1
            io.stderr:write(string.format("loadbench provision: HTTP %d: %s\n", status,
                body:sub(1, 300)))
        end
    end
elseif mode == "cursor_walk" or check then
    function response(status, resp_headers, body)
        if mode == "cursor_walk" and status == 200 then
            local c = body:match('"nextCursor"%s*:%s*"([^"]+)"')
            if c then
                walk[#walk + 1] = c
            end
        end
        if check and status >= 400 and failures < 3 then
            failures = failures + 1
            io.stderr:write(string.format("loadbench %s: HTTP %d: %s\n", mode, status,
                body:sub(1, 300)))
        end
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'LOADBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
            .. '"mean_us":%.1f,"errors_status":%d,"errors_connect":%d,"errors_read":%d,'
            .. '"errors_write":%d,"errors_timeout":%d}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        latency.max, latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
