-- digest: the notifications a user did not get during a window of `notification_limit`, told
-- in one. Herald builds the event (see README.md, "digest.lua"):
--   event.project  the project, when every held notification was of that one project
--   event.data     count, window_start, window_end, event_types {type = n},
--                  projects {{id, title, count}}, and other_event_types, other_projects,
--                  no_project when not zero
--   title:   "20 more updates"
--   message: "20 more updates in 'Mobile App Development'", "... in 3 projects", or the title
--   data:    event.data as it is
-- A back end's own `digest` events (without these counts) are worded as default.lua does.
local notify = require("notify")

return function(event)
	local data = event.data
	if type(data) ~= "table" or math.type(data.count) ~= "integer" or
		type(data.event_types) ~= "table" then
		return notify.default(event)
	end
	local title = data.count .. (data.count == 1 and " more update" or " more updates")
	local message = title
	local projects = type(data.projects) == "table" and #data.projects or 0
	local more = math.type(data.other_projects) == "integer" and data.other_projects > 0
	if more then
		projects = projects + 1 -- at least one more
	end
	if type(event.project) == "table" and type(event.project.title) == "string" then
		message = title .. " in '" .. event.project.title .. "'"
	elseif projects > 1 then
		message = title .. " in " .. projects .. (more and "+" or "") .. " projects"
	end
	title, message = notify.wording(event, title, message)
	return {title = title, message = message, data = data}
end
