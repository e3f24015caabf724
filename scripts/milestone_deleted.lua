-- milestone_deleted: a milestone was removed.
return require("notify").formatter {
	title = "Milestone Deleted",
	message = "Milestone '{name}' has been deleted",
	name = {"data.title"},
	fields = {"id", "title"},
}
