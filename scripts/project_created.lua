-- project_created: a project was created. Its id and title come from data, else from project.
return require("notify").formatter {
	title = "Project Created",
	message = "Project '{name}' has been created",
	name = {"project.title", "data.title"},
	fields = {"id", "title", "status"},
	fallbacks = {id = "project.id", title = "project.title"},
}
