-- project_deleted: a project was (soft-)deleted.
return require("notify").formatter {
	title = "Project Deleted",
	message = "Project '{name}' has been deleted",
	name = {"project.title", "data.title"},
	fields = {"id", "title"},
	fallbacks = {id = "project.id", title = "project.title"},
}
