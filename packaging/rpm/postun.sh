# herald %postun: after an upgrade, restart a running service on the new binary. The herald
# user is kept on erase, as Fedora's packaging guidelines ask.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		systemctl try-restart herald.service >/dev/null 2>&1 || :
	fi
fi
exit 0
