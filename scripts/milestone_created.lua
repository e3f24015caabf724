-- milestone_created: a milestone was added to a project. progress is 0 when the event omits it.
return require("notify").formatter {
	title = "Milestone Created",
	message = "Milestone '{name}' has been created",
	name = {"data.title"},
	fields = {"id", "title", "progress"},
	defaults = {progress = 0},
}
