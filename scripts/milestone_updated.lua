-- milestone_updated: a milestone's progress or details changed.
return require("notify").formatter {
	title = "Milestone Updated",
	message = "Milestone '{name}' has been updated",
	name = {"data.title"},
	fields = {"id", "title", "progress"},
}
