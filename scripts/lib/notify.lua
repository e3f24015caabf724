-- notify.lua - builds the formatters of the shipped scripts from a short description.
--
--   require("notify").formatter {
--     title = "Milestone Created",                  -- the notification's title
--     message = "Milestone '{name}' has been created", -- {name} is replaced (see `name`)
--     name = {"data.title"},      -- paths into the event, tried in order; "" when none is set
--     fields = {"id", "title", "progress"}, -- copied from event.data when present
--     fallbacks = {id = "project.id"},      -- where a field missing from event.data is taken
--     defaults = {progress = 0},             -- the value of a field found nowhere
--   }
--
-- An event that carries its own `title` or `message` (a non-empty string, worded by the back
-- end) keeps it: notify.wording(event, title, message) picks the event's over the script's.

local notify = {}

-- "project.title" -> {"project", "title"}
local function split(path)
	local keys = {}
	for key in path:gmatch("[^.]+") do
		keys[#keys + 1] = key
	end
	return keys
end

local function lookup(event, keys)
	local v = event
	for i = 1, #keys do
		if type(v) ~= "table" then
			return nil
		end
		v = v[keys[i]]
	end
	return v
end

-- The text of a name: strings as they are, numbers as written, anything else (herald.null, a
-- table) as nothing.
local function text(v)
	local t = type(v)
	if t == "string" then
		return v
	elseif t == "number" then
		return tostring(v)
	end
	return nil
end

-- The back end's own wording when the event carries it, else the script's.
function notify.wording(event, title, message)
	if type(event.title) == "string" and event.title ~= "" then
		title = event.title
	end
	if type(event.message) == "string" and event.message ~= "" then
		message = event.message
	end
	return title, message
end

-- "sprint_started" -> "Sprint Started", remembered for the last 256 types seen (the cache is
-- emptied when full, so a source sending endless new types cannot grow it).
local cache, cached = {}, 0
local function words(event_type)
	local w = cache[event_type]
	if not w then
		w = event_type:gsub("_", " "):gsub("(%a)(%w*)", function(first, rest)
			return first:upper() .. rest
		end)
		if cached == 256 then
			cache, cached = {}, 0
		end
		cache[event_type], cached = w, cached + 1
	end
	return w
end

-- The formatter of default.lua (see there): the event type in words, in the project when it
-- has a title, and event.data as it is.
function notify.default(event)
	local title = words(event.event_type)
	local message = title
	local project = event.project
	if type(project) == "table" and type(project.title) == "string" then
		message = title .. " in '" .. project.title .. "'"
	end
	local data = event.data
	if type(data) ~= "table" then
		data = {}
	end
	title, message = notify.wording(event, title, message)
	return {title = title, message = message, data = data}
end

function notify.formatter(spec)
	local title, fields, defaults = spec.title, spec.fields, spec.defaults or {}
	local before, after = spec.message:match("^(.-){name}(.*)$")
	local names, fallbacks = {}, {}
	assert(type(title) == "string", "formatter: title must be a string")
	assert(before, "formatter: message must contain {name}")
	for i, path in ipairs(spec.name or {}) do
		names[i] = split(path)
	end
	for field, path in pairs(spec.fallbacks or {}) do
		fallbacks[field] = split(path)
	end

	return function(event)
		local name = ""
		for i = 1, #names do
			local v = text(lookup(event, names[i]))
			if v then
				name = v
				break
			end
		end
		local src = event.data
		if type(src) ~= "table" then
			src = {}
		end
		local data = {}
		for i = 1, #fields do
			local field = fields[i]
			local v = src[field]
			if v == nil and fallbacks[field] then
				v = lookup(event, fallbacks[field])
			end
			if v == nil then
				v = defaults[field]
			end
			data[field] = v
		end
		local t, m = notify.wording(event, title, before .. name .. after)
		return {title = t, message = m, data = data}
	end
end

return notify
