-- wrk script for mcp-load.sh: one JSON-RPC request in an open MCP session,
-- repeated with a distinct id, every response body checked.
--
-- Input comes from the environment (set by mcp-load.sh):
--   MCPLOAD_BODY      the JSON-RPC request object; its top-level "id" is replaced
--   MCPLOAD_SESSION   Mcp-Session-Id header value (may be empty)
--   MCPLOAD_PROTOCOL  MCP-Protocol-Version header value
--   MCPLOAD_TOKEN     bearer token (may be empty)
--   MCPLOAD_EXPECT    text every 2xx body must contain (may be empty)
--   MCPLOAD_REJECT    text no 2xx body may contain (may be empty)
--   MCPLOAD_THREADS   number of wrk threads (stride of the id sequence)
--   MCPLOAD_OUT       file that receives the numbers as key=value lines

local function env(name)
   local value = os.getenv(name)
   if value == nil then return "" end
   return value
end

-- Position just past the JSON string whose opening quote is at i.
local function skip_string(text, i)
   local j = i + 1
   while j <= #text do
      local c = text:sub(j, j)
      if c == "\\" then
         j = j + 2
      elseif c == '"' then
         return j + 1
      else
         j = j + 1
      end
   end
   error("unterminated string in request body")
end

-- Finds the scalar value of the key `name` in the outermost object of `text`.
-- Returns its first and last positions, or nil when the key is absent. Keys of
-- nested objects (say, a tool argument called "id") are not matches.
local function top_level_value(text, name)
   local depth, want_key, i = 0, false, 1
   while i <= #text do
      local c = text:sub(i, i)
      if c == '"' then
         local after = skip_string(text, i)
         if depth == 1 and want_key then
            want_key = false
            if text:sub(i + 1, after - 2) == name then
               local colon = text:find(":", after, true)
               local first = text:find("[^%s]", colon + 1)
               local last
               if text:sub(first, first) == '"' then
                  last = skip_string(text, first) - 1
               else
                  last = text:find("[%s,}]", first) - 1
               end
               return first, last
            end
         end
         i = after
      else
         if c == "{" or c == "[" then
            depth = depth + 1
            if depth == 1 then want_key = true end
         elseif c == "}" or c == "]" then
            depth = depth - 1
         elseif c == "," and depth == 1 then
            want_key = true
         end
         i = i + 1
      end
   end
   return nil
end

-- Splits the body into the text before and after the id value, so that
-- request() only has to concatenate. A body without an id gets one.
local function id_template(text)
   local first, last = top_level_value(text, "id")
   if first then
      return text:sub(1, first - 1), text:sub(last + 1)
   end
   local brace = text:find("{", 1, true)
   local rest = text:sub(brace + 1)
   if rest:match("^%s*}") then
      return text:sub(1, brace) .. '"id":', rest
   end
   return text:sub(1, brace) .. '"id":', "," .. rest
end

-- Main state: number the threads so that their ids never collide.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- Thread state.

local before_id, after_id, stride, next_id
local expect, reject

responses, non2xx, bad_body, sample = 0, 0, 0, nil

function init(args)
   before_id, after_id = id_template(env("MCPLOAD_BODY"))
   stride = tonumber(env("MCPLOAD_THREADS")) or 1
   -- thread_index is set by setup() before init() runs.
   next_id = 1 + (thread_index or 0)
   expect = env("MCPLOAD_EXPECT")
   reject = env("MCPLOAD_REJECT")

   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json, text/event-stream"
   wrk.headers["MCP-Protocol-Version"] = env("MCPLOAD_PROTOCOL")
   if env("MCPLOAD_SESSION") ~= "" then
      wrk.headers["Mcp-Session-Id"] = env("MCPLOAD_SESSION")
   end
   if env("MCPLOAD_TOKEN") ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. env("MCPLOAD_TOKEN")
   end
end

function request()
   local id = next_id
   next_id = next_id + stride
   return wrk.format(nil, nil, nil, before_id .. id .. after_id)
end

local function remember(status, body)
   if sample == nil then
      local text = (body or ""):sub(1, 300):gsub("%s+", " ")
      sample = "HTTP " .. status .. ": " .. text
   end
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      remember(status, body)
      return
   end
   body = body or ""
   if (expect ~= "" and not body:find(expect, 1, true))
      or (reject ~= "" and body:find(reject, 1, true)) then
      bad_body = bad_body + 1
      remember(status, body)
   end
end

-- Main state again, after the run.

function done(summary, latency, requests)
   local counted, wrong_status, wrong_body, first_failure = 0, 0, 0, nil
   for _, thread in ipairs(threads) do
      counted = counted + (thread:get("responses") or 0)
      wrong_status = wrong_status + (thread:get("non2xx") or 0)
      wrong_body = wrong_body + (thread:get("bad_body") or 0)
      first_failure = first_failure or thread:get("sample")
   end
   local e = summary.errors
   local sock_errors = e.connect + e.read + e.write + e.timeout
   local seconds = summary.duration / 1e6
   local rps = 0
   if seconds > 0 then rps = summary.requests / seconds end

   local out = assert(io.open(env("MCPLOAD_OUT"), "w"))
   out:write(string.format("requests=%d\n", summary.requests))
   out:write(string.format("responses=%d\n", counted))
   out:write(string.format("rps=%.1f\n", rps))
   out:write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
   out:write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
   out:write(string.format("non2xx=%d\n", wrong_status))
   out:write(string.format("sock_errors=%d\n", sock_errors))
   out:write(string.format("bad_body=%d\n", wrong_body))
   if first_failure then
      out:write("sample=" .. first_failure .. "\n")
   end
   out:close()
end
