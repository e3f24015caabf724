-- team_member_removed: a user was removed from a project.
return require("notify").formatter {
	title = "Team Member Removed",
	message = "A team member has been removed from '{name}'",
	name = {"project.title"},
	fields = {"user_id"},
}
