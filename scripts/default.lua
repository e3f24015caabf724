-- default: formats every event type that has no script of its own.
--   title:   the event type in words: "sprint_started" -> "Sprint Started"
--   message: "Sprint Started in 'Mobile App Development'" when the event has a project title,
--            else the title alone
--   data:    event.data as it is ({} when absent)
-- An event's own `title` and `message` (non-empty strings from the back end) replace these.
local wording = require("notify").wording

local function words(event_type)
	return (event_type:gsub("_", " "):gsub("(%a)(%w*)", function(first, rest)
		return first:upper() .. rest
	end))
end

return function(event)
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
	title, message = wording(event, title, message)
	return {title = title, message = message, data = data}
end
