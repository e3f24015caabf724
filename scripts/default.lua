-- default: formats every event type that has no script of its own.
--   title:   the event type in words: "sprint_started" -> "Sprint Started"
--   message: "Sprint Started in 'Mobile App Development'" when the event has a project title,
--            else the title alone
--   data:    event.data as it is ({} when absent)
-- An event's own `title` and `message` (non-empty strings from the back end) replace these.
return require("notify").default
