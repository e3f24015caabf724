-- project_updated: a project's details changed.
return require("notify").formatter {
	title = "Project Updated",
	message = "Project '{name}' has been updated",
	name = {"project.title", "data.title"},
	fields = {"id", "title", "status"},
	fallbacks = {id = "project.id", title = "project.title"},
}
