-- The scripting environment, built once per VM (Redis 7.0's global protection, emulated with
-- read-only proxies): scripts see `env`, a proxy that refuses new globals and unknown names;
-- the library tables they reach are proxies too, so no script can leave state for the next.
-- redis.call and redis.pcall are set per run by the engine (they run commands of that run).
local hidden = ...
local G = _G
G.print, G.dofile, G.loadfile = nil, nil, nil

local function refuse() error('Attempt to modify a readonly table', 2) end
local setmetatable = G.setmetatable
local proxies = setmetatable({}, {__mode = 'k'})
-- What getmetatable returns for a protected table: itself read-only, as Redis's.
local protected = setmetatable({}, {__newindex = refuse, __metatable = false})
local function readonly(t)
  local proxy = setmetatable({}, {__index = t, __newindex = refuse, __metatable = protected})
  proxies[proxy] = true
  return proxy
end
local rawset = G.rawset
G.rawset = function(t, k, v)
  if proxies[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if proxies[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end
-- Code loaded by a script runs in the script's environment, and never from bytecode (Redis
-- 7.0's Lua refuses binary chunks).
local env
local loadstring, setfenv = G.loadstring, G.setfenv
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
local concat = G.table.concat
G.load = function(reader, name)
  local parts = {}
  while true do
    local part = reader()
    if part == nil or part == '' then break end
    parts[#parts + 1] = part
  end
  return G.loadstring(concat(parts), name)
end
local function raise(text) error({err = 'ERR ' .. text}, 0) end

local redis = {LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3}
redis.error_reply = function(e)
  if type(e) ~= 'string' then raise('wrong number or type of arguments') end
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  if not e:find(' ', 1, true) then e = 'ERR ' .. e end
  return {err = e}
end
redis.status_reply = function(s)
  if type(s) ~= 'string' then raise('wrong number or type of arguments') end
  return {ok = s}
end
redis.sha1hex = function(s)
  if type(s) ~= 'string' and type(s) ~= 'number' then raise('wrong number of arguments') end
  return hidden.sha1hex(s)
end
redis.log = function(level, ...)
  if select('#', ...) < 1 then raise('redis.log() requires two arguments or more.') end
  if type(level) ~= 'number' then raise('First argument must be a number (log level).') end
  if level < 0 or level > 3 then raise('Invalid debug level.') end
end
redis.setresp = function(...)
  if select('#', ...) ~= 1 then raise('redis.setresp() requires one argument.') end
  local v = tonumber((...))
  if v ~= 2 and v ~= 3 then raise('RESP version must be 2 or 3.') end
  hidden.setresp(v == 3)
end
redis.replicate_commands = function() return true end

local base = {}
for k, v in pairs(G) do
  base[k] = type(v) == 'table' and readonly(v) or v
end
base.redis = readonly(redis)
base.math = readonly(setmetatable({random = hidden.random, randomseed = hidden.randomseed},
  {__index = G.math}))
-- A global environment that reads through `lookup` and refuses unknown names and writes.
local function guarded_env(lookup)
  local env = setmetatable({}, {
    __index = function(_, k)
      local v = lookup(k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = refuse,
    __metatable = protected,
  })
  proxies[env] = true
  return env
end
env = guarded_env(function(k) return base[k] end)
base._G = env

-- Function libraries (FUNCTION LOAD): their code runs in `lib_env`, which while loading sees
-- only Redis's load-time API (`redis.register_function`, set per load by the engine,
-- `redis.log`, the log levels), and afterwards — when their callbacks run — what scripts see.
local load_redis = {LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  log = redis.log}
local load_api = {redis = readonly(load_redis)}
local loading = false
local lib_env = guarded_env(function(k)
  if loading then return load_api[k] end
  return base[k]
end)
local function set_loading(flag) loading = flag end
-- Calls a function's callback with (KEYS, ARGV) under the error handler.
local xpcall = G.xpcall
local function fcall(f, handler, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end
return env, base, redis, {lib_env = lib_env, load_redis = load_redis,
  set_loading = set_loading, fcall = fcall}
