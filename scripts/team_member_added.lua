-- team_member_added: a user was added to a project.
return require("notify").formatter {
	title = "Team Member Added",
	message = "A new team member has been added to '{name}'",
	name = {"project.title"},
	fields = {"user_id", "role", "capacity"},
}
