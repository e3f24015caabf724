-- team_member_updated: a team member's role or capacity changed.
return require("notify").formatter {
	title = "Team Member Updated",
	message = "A team member has been updated in '{name}'",
	name = {"project.title"},
	fields = {"user_id", "role", "capacity"},
}
