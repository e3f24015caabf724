# herald %post: the log's directory (storage.dir; systemd's StateDirectory= makes it too),
# systemd told of the unit. A first install does not start the service: the secrets in
# /etc/herald/herald.env come first.
install -d -o herald -g herald -m 0750 /var/lib/herald
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
