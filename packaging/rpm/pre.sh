# herald %pre: the system user and group the service runs as.
getent group herald >/dev/null || groupadd -r herald
getent passwd herald >/dev/null ||
	useradd -r -g herald -d /nonexistent -M -s /sbin/nologin -c "Herald notification hub" herald
exit 0
