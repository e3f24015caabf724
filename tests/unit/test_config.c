/* Unit tests of config.c: defaults, every key, each kind of error with its FILE:LINE:COL and
 * key, secrets from the environment and from files, path resolution, the plugins list, plugin
 * options checked against a herald_option table, and the shipped config files. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#ifndef HERALD_DEFAULT_PLUGIN_DIR
#define HERALD_DEFAULT_PLUGIN_DIR "/usr/local/lib/herald/plugins"
#endif

#define SECRET_VALUE "s3cr3t-Value-never-shown"

static char err[1024];

/* Load `yaml` as "t.yaml" from directory /etc/herald; NULL on error (message in err). */
static herald_config *load(const char *yaml)
{
	herald_config *cfg = (herald_config *)1;
	int rc =
	    config_load_string(yaml, strlen(yaml), "t.yaml", "/etc/herald", &cfg, err, sizeof err);
	CHECK(rc == 0 ? cfg != NULL : cfg == NULL);
	return rc == 0 ? cfg : NULL;
}

/* `yaml` must be refused with exactly `message`. */
static void refused(const char *yaml, const char *message, int line)
{
	herald_config *cfg = load(yaml);
	if (cfg) {
		fprintf(stderr, "test_config.c:%d: accepted, expected: %s\n", line, message);
		config_free(cfg);
	}
	CHECK(cfg == NULL);
	if (strcmp(err, message) != 0)
		fprintf(stderr, "test_config.c:%d: error \"%s\"\n", line, err);
	CHECK_STR(err, message);
}
#define REFUSED(yaml, message) refused(yaml, message, __LINE__)

/* A file under /tmp holding `content`; its path goes to `path` (PATH_MAX bytes). */
static void temp_file(char *path, const char *content, size_t len)
{
	int fd;

	strcpy(path, "/tmp/herald-config-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, content, len), len);
	close(fd);
}

static void test_defaults(void)
{
	herald_config *cfg;

	unsetenv("HERALD_PLUGIN_DIR");
	for (int i = 0; i < 3; i++) {
		static const char *const empty[] = {"", "# only a comment\n", "---\n"};
		cfg = load(empty[i]);
		CHECK(cfg != NULL);
		if (!cfg)
			continue;
		CHECK_STR(cfg->file, "t.yaml");
		CHECK_STR(cfg->listen, "0.0.0.0");
		CHECK_INT(cfg->port, 8000);
		CHECK_STR(cfg->ws_path, "/ws/notifications/");
		CHECK_INT(cfg->max_connections, 1000);
		CHECK_INT(cfg->max_message_size, 1048576);
		CHECK_INT(cfg->ping_interval, 25);
		CHECK_INT(cfg->idle_timeout, 60);
		CHECK_INT(cfg->send_queue_bytes, 1048576);
		CHECK_INT(cfg->max_subscriptions, 128);
		CHECK_INT(cfg->max_room_members, 100);
		CHECK_INT(cfg->max_header_size, 16384);
		CHECK_INT(cfg->max_connections_per_user, 0);
		CHECK_INT(cfg->message_rate, 20);
		CHECK_INT(cfg->message_burst, 200);
		CHECK_INT(cfg->n_allowed_origins, 0);
		CHECK(cfg->tls_cert == NULL && cfg->tls_key == NULL);
		CHECK_INT(cfg->auth_close_on_expiry, 0);
		CHECK_INT(cfg->sub_policy, SUB_OPEN);
		CHECK_STR(cfg->sub_claim, "projects");
		CHECK_INT(cfg->history_size, 100);
		CHECK_INT(cfg->history_ttl, 300);
		CHECK(cfg->cluster_url == NULL && cfg->cluster_password == NULL);
		CHECK_STR(cfg->cluster_log, "herald:log");
		CHECK_INT(cfg->cluster_log_max, 100000);
		CHECK_INT(cfg->history_warm, 10000);
		CHECK_INT(cfg->auth_algs, AUTH_HS256);
		CHECK(cfg->auth_secret == NULL);
		CHECK_INT(cfg->auth_secret_len, 0);
		CHECK(cfg->auth_public_key == NULL);
		CHECK_STR(cfg->auth_user_claim, "user_id");
		CHECK_INT(cfg->auth_leeway, 0);
		CHECK(cfg->auth_issuer == NULL);
		CHECK(cfg->auth_audience == NULL);
		CHECK_STR(cfg->auth_token_type, "access");
		CHECK_STR(cfg->scripts_dir, "/etc/herald/scripts");
		CHECK_INT(cfg->lua_instructions, 1000000);
		CHECK_INT(cfg->lua_memory, 16777216);
		CHECK_INT(cfg->queue_size, 65536);
		CHECK_INT(cfg->log_level, HERALD_LOG_INFO);
		CHECK_INT(cfg->log_json, 0);
		CHECK_STR(cfg->plugin_dir, HERALD_DEFAULT_PLUGIN_DIR);
		CHECK_INT(cfg->n_plugins, 0);
		CHECK(cfg->plugins == NULL);
		config_free(cfg);
	}

	/* A section or key left empty (null) stands for its default. */
	cfg = load("server:\nauth:\n  secret: {env: HERALD_TEST_SECRET}\n  leeway:\n"
	           "log: ~\nplugins:\n");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_INT(cfg->port, 8000);
		CHECK_INT(cfg->auth_leeway, 0);
		CHECK_INT(cfg->log_level, HERALD_LOG_INFO);
		CHECK_INT(cfg->n_plugins, 0);
		config_free(cfg);
	}

	/* No name: the config is called "(defaults)" and paths resolve against ".". */
	CHECK_INT(config_load_string("", 0, NULL, NULL, &cfg, err, sizeof err), 0);
	CHECK_STR(cfg->file, "(defaults)");
	CHECK_STR(cfg->scripts_dir, "./scripts");
	config_free(cfg);
}

static void test_every_key(void)
{
	static const char yaml[] = "server:\n"
	                           "  listen: 127.0.0.1\n"
	                           "  port: 9000\n"
	                           "  ws_path: /notify\n"
	                           "  max_connections: 5000\n"
	                           "  max_message_size: 65536\n"
	                           "  ping_interval: 10\n"
	                           "  idle_timeout: 30\n"
	                           "  send_queue_bytes: 4096\n"
	                           "  max_notification_size: 2048\n"
	                           "  max_subscriptions: 7\n"
	                           "  max_room_members: 1000000\n"
	                           "  max_header_size: 1024\n"
	                           "auth:\n"
	                           "  algorithms: [HS512, RS256, ES256]\n"
	                           "  secret: {env: HERALD_TEST_SECRET}\n"
	                           "  public_key: {env: HERALD_TEST_PEM}\n"
	                           "  user_claim: uid\n"
	                           "  leeway: 3600\n"
	                           "  issuer: https://auth.example.com\n"
	                           "  audience: herald\n"
	                           "  token_type: ws\n"
	                           "scripts:\n"
	                           "  dir: /srv/scripts\n"
	                           "  instructions: 1000\n"
	                           "  memory: 4294967296\n"
	                           "ingest:\n"
	                           "  queue_size: 16\n"
	                           "log:\n"
	                           "  level: debug\n"
	                           "  format: json\n"
	                           "plugin_dir: /opt/plugins\n"
	                           "plugins: []\n";
	herald_config *cfg;

	setenv("HERALD_TEST_PEM", "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n", 1);
	cfg = load(yaml);
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK_STR(cfg->listen, "127.0.0.1");
	CHECK_INT(cfg->port, 9000);
	CHECK_STR(cfg->ws_path, "/notify");
	CHECK_INT(cfg->max_connections, 5000);
	CHECK_INT(cfg->max_notification_size, 2048);
	CHECK_INT(cfg->max_message_size, 65536);
	CHECK_INT(cfg->ping_interval, 10);
	CHECK_INT(cfg->idle_timeout, 30);
	CHECK_INT(cfg->send_queue_bytes, 4096);
	CHECK_INT(cfg->max_subscriptions, 7);
	CHECK_INT(cfg->max_room_members, 1000000);
	CHECK_INT(cfg->max_header_size, 1024);
	CHECK_INT(cfg->auth_algs, AUTH_HS512 | AUTH_RS256 | AUTH_ES256);
	CHECK_STR(cfg->auth_secret, SECRET_VALUE);
	CHECK_INT(cfg->auth_secret_len, strlen(SECRET_VALUE));
	CHECK_STR(cfg->auth_public_key, getenv("HERALD_TEST_PEM"));
	CHECK_STR(cfg->auth_user_claim, "uid");
	CHECK_INT(cfg->auth_leeway, 3600);
	CHECK_STR(cfg->auth_issuer, "https://auth.example.com");
	CHECK_STR(cfg->auth_audience, "herald");
	CHECK_STR(cfg->auth_token_type, "ws");
	CHECK_STR(cfg->scripts_dir, "/srv/scripts");
	CHECK_INT(cfg->lua_instructions, 1000);
	CHECK_INT(cfg->lua_memory, 4294967296LL);
	CHECK_INT(cfg->queue_size, 16);
	CHECK_INT(cfg->log_level, HERALD_LOG_DEBUG);
	CHECK_INT(cfg->log_json, 1);
	CHECK_STR(cfg->plugin_dir, "/opt/plugins");
	CHECK_INT(cfg->n_plugins, 0);
	config_free(cfg);

	/* Each log level; a lone algorithm is a list of one; quoted numbers are numbers. */
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++) {
		char text[128];
		snprintf(text, sizeof text, "log: {level: %s}\nserver: {port: \"+81\"}", levels[i]);
		cfg = load(text);
		CHECK(cfg != NULL);
		if (cfg) {
			CHECK_INT(cfg->log_level, i);
			CHECK_INT(cfg->port, 81);
			config_free(cfg);
		}
	}
	cfg = load("auth: {algorithms: ES256, public_key: {env: HERALD_TEST_PEM}}");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_INT(cfg->auth_algs, AUTH_ES256);
		CHECK(cfg->auth_secret == NULL);
		config_free(cfg);
	}

	/* token_type "" or null: not checked; issuer "": unset. */
	static const char *const unchecked[] = {"''", "~", "null", ""};
	for (int i = 0; i < 4; i++) {
		char text[128];
		snprintf(
		    text, sizeof text,
		    "auth:\n  secret: {env: HERALD_TEST_SECRET}\n  token_type: %s\n  issuer: \"\"",
		    unchecked[i]);
		cfg = load(text);
		CHECK(cfg != NULL);
		if (cfg) {
			CHECK(cfg->auth_token_type == NULL);
			CHECK(cfg->auth_issuer == NULL);
			config_free(cfg);
		}
	}
	/* Quoted, "null" is a string like any other. */
	cfg = load("auth: {secret: {env: HERALD_TEST_SECRET}, token_type: 'null'}");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->auth_token_type, "null");
		config_free(cfg);
	}
}

static void test_value_errors(void)
{
	/* The example of the brief, to the column. */
	REFUSED("# a comment\n"
	        "server:\n"
	        "  listen: 127.0.0.1\n"
	        "  port: 80a\n",
	        "t.yaml:4:9: server.port: must be an integer from 1 to 65535, got \"80a\"");
	REFUSED("server:\n  port: 0\n",
	        "t.yaml:2:9: server.port: must be an integer from 1 to 65535, got \"0\"");
	REFUSED("server:\n  port: 65536\n",
	        "t.yaml:2:9: server.port: must be an integer from 1 to 65535, got \"65536\"");
	REFUSED("server: {port: 99999999999999999999}",
	        "t.yaml:1:16: server.port: must be an integer from 1 to 65535, got "
	        "\"99999999999999999999\"");
	REFUSED("server: {port: ' 80'}",
	        "t.yaml:1:16: server.port: must be an integer from 1 to 65535, got \" 80\"");
	REFUSED("server: {port: 0x50}",
	        "t.yaml:1:16: server.port: must be an integer from 1 to 65535, got \"0x50\"");
	REFUSED("server: {port: 8.0}",
	        "t.yaml:1:16: server.port: must be an integer from 1 to 65535, got \"8.0\"");
	REFUSED("server: {port: -}",
	        "t.yaml:1:16: server.port: must be an integer from 1 to 65535, got \"-\"");
	REFUSED("server:\n  max_message_size: 15\n",
	        "t.yaml:2:21: server.max_message_size: must be an integer from 16 to 67108864, got "
	        "\"15\"");
	REFUSED("scripts:\n  memory: 4294967297\n",
	        "t.yaml:2:11: scripts.memory: must be an integer from 65536 to 4294967296, got "
	        "\"4294967297\"");
	REFUSED("auth:\n  leeway: -1\n",
	        "t.yaml:2:11: auth.leeway: must be an integer from 0 to 3600, got \"-1\"");
	REFUSED(
	    "ingest: {queue_size: 15}",
	    "t.yaml:1:22: ingest.queue_size: must be an integer from 16 to 16777216, got \"15\"");
	REFUSED("server:\n  ws_path: ws/notifications/\n",
	        "t.yaml:2:12: server.ws_path: must be a path starting with '/', got "
	        "\"ws/notifications/\"");
	REFUSED("server:\n  listen: ''\n",
	        "t.yaml:2:11: server.listen: must be a non-empty string, got \"\"");
	REFUSED("scripts:\n  dir: \"\"\n", "t.yaml:2:8: scripts.dir: must be a path, got \"\"");
	REFUSED("log:\n  level: verbose\n",
	        "t.yaml:2:10: log.level: must be one of error, warn, info, debug, got \"verbose\"");
	REFUSED("log:\n  format: xml\n",
	        "t.yaml:2:11: log.format: must be one of plain, json, got \"xml\"");
	REFUSED("auth:\n  algorithms:\n    - HS256\n    - none\n",
	        "t.yaml:4:7: auth.algorithms[1]: must be one of HS256, HS384, HS512, RS256, ES256, "
	        "got \"none\"");
	REFUSED(
	    "auth: {algorithms: hs256}",
	    "t.yaml:1:20: auth.algorithms: must be one of HS256, HS384, HS512, RS256, ES256, got "
	    "\"hs256\"");
	REFUSED("auth: {algorithms: []}",
	        "t.yaml:1:20: auth.algorithms: must be one or more of HS256, HS384, HS512, RS256, "
	        "ES256, got an empty list");

	/* Wrong types: a mapping or list where a scalar belongs, and the reverse. */
	REFUSED("server:\n  port:\n    number: 80\n",
	        "t.yaml:3:5: server.port: must be an integer from 1 to 65535, got a mapping");
	REFUSED("server:\n  listen: [a, b]\n",
	        "t.yaml:2:11: server.listen: must be a string, got a list");
	REFUSED("auth: {algorithms: {HS256: yes}}",
	        "t.yaml:1:20: auth.algorithms: must be one or more of HS256, HS384, HS512, RS256, "
	        "ES256, got a mapping");
	REFUSED(
	    "auth: {algorithms: [[HS256]]}",
	    "t.yaml:1:21: auth.algorithms[0]: must be one of HS256, HS384, HS512, RS256, ES256, "
	    "got a list");
	REFUSED("server: 8000\n", "t.yaml:1:9: server: must be a mapping, got \"8000\"");
	REFUSED("log: [debug]\n", "t.yaml:1:6: log: must be a mapping, got a list");
	REFUSED("- server\n",
	        "t.yaml:1:1: the top level must be a mapping of sections, got a list");
	REFUSED("just text\n",
	        "t.yaml:1:1: the top level must be a mapping of sections, got \"just text\"");

	/* Cross-key checks. */
	REFUSED("server:\n  ping_interval: 25\n  idle_timeout: 25\n",
	        "t.yaml:3:17: server.idle_timeout: must be greater than server.ping_interval (25), "
	        "got 25");
	REFUSED("server:\n  idle_timeout: 10\n",
	        "t.yaml:2:17: server.idle_timeout: must be greater than server.ping_interval (25), "
	        "got 10");
	REFUSED(
	    "server:\n  ping_interval: 120\n",
	    "t.yaml:2:18: server.idle_timeout: must be greater than server.ping_interval (120), "
	    "got 60");
	REFUSED("auth:\n  leeway: 5\n",
	        "t.yaml:2:3: auth.secret: required when auth.algorithms accepts HS256");
	REFUSED("auth:\n  algorithms: [RS256, HS384, HS512]\n",
	        "t.yaml:2:15: auth.secret: required when auth.algorithms accepts HS384, HS512");
	REFUSED("server:\n  send_queue_bytes: 65536\n",
	        "t.yaml:2:21: server.max_notification_size: must be smaller than "
	        "server.send_queue_bytes (65536), got 262144");
	REFUSED("auth:\n  algorithms: [RS256]\n",
	        "t.yaml:2:15: auth.public_key: required when auth.algorithms accepts RS256");
	REFUSED("auth:\n  algorithms: [HS256, ES256]\n  secret: {env: HERALD_TEST_SECRET}\n",
	        "t.yaml:2:15: auth.public_key: required when auth.algorithms accepts ES256");
}

static void test_structure_errors(void)
{
	/* Unknown keys list the valid keys of their section. */
	REFUSED(
	    "server:\n  port: 80\n  max_conections: 10\n",
	    "t.yaml:3:3: server: unknown key `max_conections` (valid: listen, port, ws_path, "
	    "max_connections, max_message_size, ping_interval, idle_timeout, send_queue_bytes, "
	    "max_notification_size, max_subscriptions, max_room_members, max_header_size, "
	    "max_connections_per_user, "
	    "message_rate, message_burst, trusted_proxies, metrics_listen, allowed_origins, demo, "
	    "tls_cert, tls_key)");
	REFUSED("logging:\n  level: info\n",
	        "t.yaml:1:1: unknown key `logging` (valid: server, auth, subscriptions, history, "
	        "cluster, storage, scripts, "
	        "ingest, notification_limit, log, "
	        "plugin_dir, plugins)");
	REFUSED(
	    "auth: {secret: {env: X}, algorithm: HS256}",
	    "t.yaml:1:26: auth: unknown key `algorithm` (valid: algorithms, secret, public_key, "
	    "user_claim, leeway, issuer, audience, token_type, close_on_expiry, required_claims)");
	REFUSED(
	    "subscriptions: {policy: closed}",
	    "t.yaml:1:25: subscriptions.policy: must be one of open, claim, lua, got \"closed\"");
	REFUSED("server: {tls_cert: c.pem}",
	        "t.yaml:1:20: server.tls_cert: needs server.tls_key as well");
	REFUSED("scripts: {path: x}",
	        "t.yaml:1:11: scripts: unknown key `path` (valid: dir, instructions, memory)");
	REFUSED("ingest: {size: 1}",
	        "t.yaml:1:10: ingest: unknown key `size` (valid: queue_size, dedup_window)");
	REFUSED("log: {lvl: 1}", "t.yaml:1:7: log: unknown key `lvl` (valid: level, format)");
	REFUSED("notification_limit: {limit: 10}",
	        "t.yaml:1:22: notification_limit: unknown key `limit` (valid: per_user, window)");

	/* Duplicates, at any depth. */
	REFUSED("server:\n  port: 80\n  listen: x\n  port: 81\n",
	        "t.yaml:4:3: server.port: duplicate key, first given at 2:3");
	REFUSED("log: {}\nserver: {}\nlog: {}\n",
	        "t.yaml:3:1: log: duplicate key, first given at 1:1");

	/* Anchors, aliases and tags. */
	REFUSED("server:\n  port: &p 8000\n", "t.yaml:2:9: anchors and aliases are not supported");
	REFUSED("server:\n  port: *p\n", "t.yaml:2:9: aliases are not supported");
	REFUSED("server: &s\n  port: 1\n", "t.yaml:1:9: anchors and aliases are not supported");
	REFUSED("server:\n  port: !!int 8000\n", "t.yaml:2:9: tags are not supported");
	REFUSED("? [a]\n: b\n", "t.yaml:1:3: a key must be a plain value");
	REFUSED("log: {}\n---\nlog: {}\n", "t.yaml:2:1: only one YAML document is allowed");
	char deep[160];
	memset(deep, '[', 70);
	memset(deep + 70, ']', 70);
	deep[140] = '\0';
	REFUSED(deep, "t.yaml:1:66: nested too deeply");

	/* YAML syntax errors carry libyaml's own words. */
	REFUSED("server:\n  port: 80\n listen: x\n",
	        "t.yaml:3:2: did not find expected key (while parsing a block mapping at 1:1)");
	REFUSED("server:\n  port: 80: 81\n",
	        "t.yaml:2:11: mapping values are not allowed in this context");
	REFUSED("auth:\n  algorithms: [HS256\n",
	        "t.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at "
	        "2:15)");
	REFUSED("log:\n\tlevel: info\n",
	        "t.yaml:2:1: found character that cannot start any token (while scanning for the "
	        "next token at 2:1)");
	REFUSED("log: \"abc\n", "t.yaml:2:1: found unexpected end of stream (while scanning a "
	                        "quoted scalar at 1:6)");
	REFUSED("log:\n  level: \xff\n", "t.yaml:2:10: invalid leading UTF-8 octet");

	/* A missing file is an I/O error, not a config error. */
	herald_config *cfg = (herald_config *)1;
	CHECK_INT(config_load("/nonexistent/herald/h.yaml", &cfg, err, sizeof err), HERALD_EIO);
	CHECK(cfg == NULL);
	CHECK_STR(err, "/nonexistent/herald/h.yaml: cannot open: No such file or directory");
	CHECK_INT(config_load("/tmp", &cfg, err, sizeof err), HERALD_EIO);
	CHECK_STR(err, "/tmp: cannot read: Is a directory");

	/* A message is cut to the buffer, never overflowing it. */
	char small[16];
	CHECK_INT(config_load_string("log: {lvl: 1}", 13, "t.yaml", ".", &cfg, small, sizeof small),
	          HERALD_ECONFIG);
	CHECK_STR(small, "t.yaml:1:7: log");
}

static void test_secrets(void)
{
	char path[PATH_MAX], yaml[PATH_MAX + 256], *slash;
	herald_config *cfg;

	/* From the environment. */
	cfg = load("auth:\n  secret: {env: HERALD_TEST_SECRET}\n");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->auth_secret, SECRET_VALUE);
		CHECK_INT(cfg->auth_secret_len, strlen(SECRET_VALUE));
		config_free(cfg);
	}
	unsetenv("HERALD_TEST_UNSET");
	REFUSED("auth:\n  secret: {env: HERALD_TEST_UNSET}\n",
	        "t.yaml:2:17: auth.secret: environment variable HERALD_TEST_UNSET is not set");
	setenv("HERALD_TEST_EMPTY", "", 1);
	REFUSED("auth:\n  secret:\n    env: HERALD_TEST_EMPTY\n",
	        "t.yaml:3:10: auth.secret: environment variable HERALD_TEST_EMPTY is empty");

	/* From a file, absolute or relative to the config's directory, one newline cut. */
	temp_file(path, "line one\nline two\r\n", 19);
	snprintf(yaml, sizeof yaml, "auth:\n  algorithms: RS256\n  public_key: {file: %s}\n", path);
	cfg = load(yaml);
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->auth_public_key, "line one\nline two");
		config_free(cfg);
	}
	slash = strrchr(path, '/');
	snprintf(yaml, sizeof yaml, "auth:\n  secret: {file: %s}\n", slash + 1);
	CHECK_INT(config_load_string(yaml, strlen(yaml), "t.yaml", "/tmp", &cfg, err, sizeof err),
	          0);
	if (cfg) {
		CHECK_STR(cfg->auth_secret, "line one\nline two");
		CHECK_INT(cfg->auth_secret_len, 17);
		config_free(cfg);
	}
	unlink(path);

	temp_file(path, "k\n\n", 3);
	snprintf(yaml, sizeof yaml, "auth:\n  secret: {file: '%s'}\n", path);
	cfg = load(yaml);
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_INT(cfg->auth_secret_len, 2);
		CHECK_STR(cfg->auth_secret, "k\n");
		config_free(cfg);
	}
	unlink(path);

	temp_file(path, "\r\n", 2);
	snprintf(yaml, sizeof yaml, "auth:\n  secret: {file: %s}\n", path);
	cfg = load(yaml);
	CHECK(cfg == NULL);
	CHECK_CONTAINS(err, "t.yaml:2:18: auth.secret: file /tmp/herald-config-");
	CHECK_CONTAINS(err, " is empty");
	unlink(path);

	REFUSED("auth:\n  secret: {file: no-such-secret}\n",
	        "t.yaml:2:18: auth.secret: cannot read file /etc/herald/no-such-secret: No such "
	        "file or directory");
	REFUSED("auth:\n  secret: {env: A, file: B}\n",
	        "t.yaml:2:11: auth.secret: must have exactly one of `env` or `file`");
	REFUSED("auth:\n  secret: {}\n",
	        "t.yaml:2:11: auth.secret: must have exactly one of `env` or `file`");
	REFUSED("auth:\n  secret: {env: ''}\n",
	        "t.yaml:2:17: auth.secret.env: must be a non-empty string, got \"\"");
	REFUSED("auth:\n  secret: {env: HERALD_TEST_SECRET, value: x}\n",
	        "t.yaml:2:37: auth.secret: unknown key `value` (valid: env, file)");

	/* The value of a secret never appears in a message, even when written in the file. */
	REFUSED(
	    "auth:\n  secret: " SECRET_VALUE "\n",
	    "t.yaml:2:11: auth.secret: must be a mapping with `env` or `file`, got a plain value");
	REFUSED("auth:\n  public_key: '" SECRET_VALUE "'\n",
	        "t.yaml:2:15: auth.public_key: must be a mapping with `env` or `file`, got a plain "
	        "value");
	cfg = load("auth:\n  secret: {env: HERALD_TEST_SECRET}\n  leeway: x\n");
	CHECK(cfg == NULL);
	CHECK(strstr(err, SECRET_VALUE) == NULL);
	CHECK_STR(err, "t.yaml:3:11: auth.leeway: must be an integer from 0 to 3600, got \"x\"");
}

static void test_paths(void)
{
	char dir[] = "/tmp/herald-config-dir-XXXXXX", file[128], yaml[512];
	herald_config *cfg;
	FILE *f;

	/* Against `dir` of config_load_string. */
	cfg = load("scripts: {dir: ../scripts}\nplugin_dir: plugins/\n"
	           "plugins:\n  - name: a\n  - name: b\n    path: ./lib/b.so\n"
	           "  - name: c\n    path: /abs/c.so\n");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->scripts_dir, "/etc/herald/../scripts");
		CHECK_STR(cfg->plugin_dir, "/etc/herald/plugins/");
		CHECK_INT(cfg->n_plugins, 3);
		CHECK_STR(cfg->plugins[0].path, "/etc/herald/plugins//a.so");
		CHECK_STR(cfg->plugins[1].path, "/etc/herald/./lib/b.so");
		CHECK_STR(cfg->plugins[2].path, "/abs/c.so");
		config_free(cfg);
	}
	cfg = load("scripts: {dir: /usr/share/herald/scripts}");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->scripts_dir, "/usr/share/herald/scripts");
		config_free(cfg);
	}

	/* plugin_dir comes from HERALD_PLUGIN_DIR when the file does not say. */
	setenv("HERALD_PLUGIN_DIR", "/env/plugins", 1);
	cfg = load("plugins: [{name: stdin}]");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->plugin_dir, "/env/plugins");
		CHECK_STR(cfg->plugins[0].path, "/env/plugins/stdin.so");
		config_free(cfg);
	}
	cfg = load("plugin_dir: /file/plugins");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_STR(cfg->plugin_dir, "/file/plugins");
		config_free(cfg);
	}
	unsetenv("HERALD_PLUGIN_DIR");

	/* Against the directory of the file of config_load, secrets included. */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof file, "%s/jwt.secret", dir);
	f = fopen(file, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("from-a-file\n", f);
	fclose(f);
	snprintf(file, sizeof file, "%s/herald.yaml", dir);
	f = fopen(file, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("auth:\n  secret: {file: jwt.secret}\nscripts:\n  dir: lua\n", f);
	fclose(f);
	CHECK_INT(config_load(file, &cfg, err, sizeof err), 0);
	if (cfg) {
		snprintf(yaml, sizeof yaml, "%s/lua", dir);
		CHECK_STR(cfg->scripts_dir, yaml);
		CHECK_STR(cfg->auth_secret, "from-a-file");
		CHECK_STR(cfg->file, file);
		config_free(cfg);
	}
	unlink(file);

	/* Errors of a loaded file carry its path as given. */
	f = fopen(file, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("server:\n  port: http\n", f);
	fclose(f);
	CHECK_INT(config_load(file, &cfg, err, sizeof err), HERALD_ECONFIG);
	snprintf(yaml, sizeof yaml,
	         "%s:2:9: server.port: must be an integer from 1 to 65535, got \"http\"", file);
	CHECK_STR(err, yaml);
	unlink(file);
	snprintf(file, sizeof file, "%s/jwt.secret", dir);
	unlink(file);
	rmdir(dir);

	/* A file in the current directory: paths stay relative to ".". */
	char cwd[PATH_MAX], name[64];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_INT(chdir("/tmp"), 0);
	snprintf(name, sizeof name, "herald-config-%d.yaml", (int)getpid());
	f = fopen(name, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("log: {level: warn}\n", f);
		fclose(f);
		CHECK_INT(config_load(name, &cfg, err, sizeof err), 0);
		if (cfg) {
			CHECK_STR(cfg->scripts_dir, "./scripts");
			CHECK_INT(cfg->log_level, HERALD_LOG_WARN);
			config_free(cfg);
		}
		unlink(name);
	}
	CHECK_INT(chdir(cwd), 0);
}

static void test_plugins(void)
{
	herald_config *cfg;

	cfg = load("plugins:\n"
	           "  - name: stdin\n"
	           "  - name: web-hook_2\n"
	           "    path: hooks/webhook.so\n"
	           "    options:\n"
	           "      port: 8001\n"
	           "  - {name: redis, options: {}}\n"
	           "  - name: stdin\n"
	           "    options:\n");
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK_INT(cfg->n_plugins, 4);
	CHECK_STR(cfg->plugins[0].name, "stdin");
	CHECK_STR(cfg->plugins[0].path, HERALD_DEFAULT_PLUGIN_DIR "/stdin.so");
	CHECK(cfg->plugins[0].options == NULL);
	CHECK_INT(cfg->plugins[0].line, 2);
	CHECK_INT(cfg->plugins[0].col, 5);
	CHECK_STR(cfg->plugins[1].name, "web-hook_2");
	CHECK_STR(cfg->plugins[1].path, "/etc/herald/hooks/webhook.so");
	CHECK(cfg->plugins[1].options != NULL);
	CHECK_INT(cfg->plugins[1].line, 3);
	CHECK_STR(cfg->plugins[2].name, "redis");
	CHECK(cfg->plugins[2].options != NULL);
	CHECK_INT(cfg->plugins[2].line, 7);
	CHECK_INT(cfg->plugins[2].col, 5);
	CHECK(cfg->plugins[3].options == NULL);
	config_free(cfg);

	REFUSED("plugins: stdin\n",
	        "t.yaml:1:10: plugins: must be a list of mappings, got \"stdin\"");
	REFUSED("plugins: [stdin]\n", "t.yaml:1:11: plugins[0]: must be a mapping, got \"stdin\"");
	REFUSED("plugins:\n  - path: x.so\n",
	        "t.yaml:2:5: plugins[0]: missing key `name` (the plugin to load)");
	REFUSED(
	    "plugins:\n  - name: ok\n  - name: Not_OK\n",
	    "t.yaml:3:11: plugins[1].name: must be 1 to 32 of the characters a-z, 0-9, _ and -, "
	    "got \"Not_OK\"");
	REFUSED(
	    "plugins:\n  - name: abcdefghijklmnopqrstuvwxyz0123456\n",
	    "t.yaml:2:11: plugins[0].name: must be 1 to 32 of the characters a-z, 0-9, _ and -, "
	    "got \"abcdefghijklmnopqrstuvwxyz0123456\"");
	REFUSED(
	    "plugins:\n  - name: ''\n",
	    "t.yaml:2:11: plugins[0].name: must be 1 to 32 of the characters a-z, 0-9, _ and -, "
	    "got \"\"");
	REFUSED("plugins:\n  - name: x\n    option: {}\n",
	        "t.yaml:3:5: plugins[0]: unknown key `option` (valid: name, path, options)");
	REFUSED("plugins:\n  - name: x\n    options: [a]\n",
	        "t.yaml:3:14: plugins[0].options: must be a mapping, got a list");
}

static const herald_option sample[] = {
    {"listen", HERALD_OPT_STRING, "127.0.0.1", 0, 0, "address to bind"},
    {"port", HERALD_OPT_INT, "8001", 1, 65535, "port to listen on"},
    {"verbose", HERALD_OPT_BOOL, "no", 0, 0, "log every request"},
    {"token", HERALD_OPT_SECRET, NULL, 0, 0, "bearer token the back end sends"},
    {"channels", HERALD_OPT_LIST, "[a, 'b c']", 0, 0, "channels to read"},
    {"offset", HERALD_OPT_INT, NULL, 0, 0, "any integer, no default"},
    {"label", HERALD_OPT_STRING, NULL, 0, 0, "no default"},
    {"empty", HERALD_OPT_STRING, "", 0, 0, "an empty default"},
    {NULL, 0, NULL, 0, 0, NULL},
};

/* Load a config whose plugin `web` has `options` (a YAML block at 4 spaces), and check the
 * options against `schema`. Returns the status; *opts on success. */
static int web_options(const char *options, const herald_option *schema, plugin_opts **opts)
{
	char yaml[1024];
	herald_config *cfg;
	int rc;

	snprintf(yaml, sizeof yaml, "plugins:\n  - name: x\n  - name: web\n%s", options);
	if (!(cfg = load(yaml)))
		return -100;
	rc = config_plugin_options(cfg, 1, schema, opts, err, sizeof err);
	config_free(cfg); /* the options outlive the config */
	return rc;
}

static void test_plugin_options(void)
{
	plugin_opts *o = NULL;

	/* Defaults, and unset options. */
	CHECK_INT(web_options("", sample, &o), 0);
	CHECK_STR(plugin_opts_string(o, "listen"), "127.0.0.1");
	CHECK_INT(plugin_opts_int(o, "port"), 8001);
	CHECK_INT(plugin_opts_bool(o, "verbose"), 0);
	CHECK_INT(plugin_opts_isset(o, "verbose"), 1);
	CHECK(plugin_opts_string(o, "token") == NULL);
	CHECK_INT(plugin_opts_isset(o, "token"), 0);
	CHECK_INT(plugin_opts_list_len(o, "channels"), 2);
	CHECK_STR(plugin_opts_list_item(o, "channels", 0), "a");
	CHECK_STR(plugin_opts_list_item(o, "channels", 1), "b c");
	CHECK(plugin_opts_list_item(o, "channels", 2) == NULL);
	CHECK_INT(plugin_opts_int(o, "offset"), 0);
	CHECK_INT(plugin_opts_isset(o, "offset"), 0);
	CHECK(plugin_opts_string(o, "label") == NULL);
	CHECK_INT(plugin_opts_isset(o, "label"), 0);
	CHECK_STR(plugin_opts_string(o, "empty"), "");
	CHECK_INT(plugin_opts_isset(o, "empty"), 1);
	/* A name the schema does not have. */
	CHECK(plugin_opts_string(o, "nope") == NULL);
	CHECK_INT(plugin_opts_int(o, "nope"), 0);
	CHECK_INT(plugin_opts_isset(o, "nope"), 0);
	CHECK_INT(plugin_opts_list_len(o, "nope"), 0);
	plugin_opts_free(o);
	o = NULL;

	/* Every type given. */
	CHECK_INT(web_options("    options:\n"
	                      "      listen: 0.0.0.0\n"
	                      "      port: 65535\n"
	                      "      verbose: On\n"
	                      "      token: {env: HERALD_TEST_SECRET}\n"
	                      "      channels: news\n"
	                      "      offset: -9223372036854775808\n"
	                      "      label: ''\n"
	                      "      empty: full\n",
	                      sample, &o),
	          0);
	CHECK_STR(plugin_opts_string(o, "listen"), "0.0.0.0");
	CHECK_INT(plugin_opts_int(o, "port"), 65535);
	CHECK_INT(plugin_opts_bool(o, "verbose"), 1);
	CHECK_STR(plugin_opts_string(o, "token"), SECRET_VALUE);
	CHECK_INT(plugin_opts_isset(o, "token"), 1);
	CHECK_INT(plugin_opts_list_len(o, "channels"), 1);
	CHECK_STR(plugin_opts_list_item(o, "channels", 0), "news");
	CHECK_INT(plugin_opts_int(o, "offset"), LLONG_MIN);
	CHECK_STR(plugin_opts_string(o, "label"), "");
	CHECK_INT(plugin_opts_isset(o, "label"), 1);
	CHECK_STR(plugin_opts_string(o, "empty"), "full");
	plugin_opts_free(o);
	o = NULL;

	/* Booleans, in YAML 1.1's words. */
	static const char *const words[] = {"true", "False", "yes", "NO", "on", "off"};
	for (int i = 0; i < 6; i++) {
		char text[128];
		snprintf(text, sizeof text,
		         "    options: {verbose: %s, offset: 9223372036854775807}\n", words[i]);
		CHECK_INT(web_options(text, sample, &o), 0);
		CHECK_INT(plugin_opts_bool(o, "verbose"), i % 2 == 0);
		CHECK_INT(plugin_opts_int(o, "offset"), LLONG_MAX);
		plugin_opts_free(o);
		o = NULL;
	}
	CHECK_INT(web_options("    options: {channels: [one, two, three]}\n", sample, &o), 0);
	CHECK_INT(plugin_opts_list_len(o, "channels"), 3);
	CHECK_STR(plugin_opts_list_item(o, "channels", 2), "three");
	plugin_opts_free(o);
	o = NULL;

	/* Errors name the plugin, the option and its place. */
	CHECK_INT(web_options("    options:\n      prot: 1\n", sample, &o), HERALD_ECONFIG);
	CHECK(o == NULL);
	CHECK_STR(err, "t.yaml:5:7: plugin web: unknown option `prot` (valid: listen, port, "
	               "verbose, token, channels, offset, label, empty)");
	CHECK_INT(web_options("    options:\n      port: 0\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err,
	          "t.yaml:5:13: plugin web: port: must be an integer from 1 to 65535, got \"0\"");
	CHECK_INT(web_options("    options:\n      port: 8o\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err,
	          "t.yaml:5:13: plugin web: port: must be an integer from 1 to 65535, got \"8o\"");
	CHECK_INT(web_options("    options: {offset: 9223372036854775808}\n", sample, &o),
	          HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:23: plugin web: offset: must be an integer, got "
	               "\"9223372036854775808\"");
	CHECK_INT(web_options("    options: {verbose: maybe}\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:24: plugin web: verbose: must be true or false, got \"maybe\"");
	CHECK_INT(web_options("    options: {listen: {a: b}}\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:23: plugin web: listen: must be a string, got a mapping");
	CHECK_INT(web_options("    options: {channels: {a: b}}\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err,
	          "t.yaml:4:25: plugin web: channels: must be a list of strings, got a mapping");
	CHECK_INT(web_options("    options: {channels: [a, [b]]}\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:29: plugin web: channels[1]: must be a string, got a list");
	CHECK_INT(web_options("    options: {token: " SECRET_VALUE "}\n", sample, &o),
	          HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:22: plugin web: token: must be a mapping with `env` or `file`, "
	               "got a plain value");
	CHECK_INT(web_options("    options: {token: {env: HERALD_TEST_UNSET}}\n", sample, &o),
	          HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:28: plugin web: token: environment variable HERALD_TEST_UNSET "
	               "is not set");
	CHECK_INT(web_options("    options: {port: 1, port: 2}\n", sample, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:24: plugin web: port: duplicate key, first given at 4:15");

	/* A plugin without options. */
	CHECK_INT(web_options("", NULL, &o), 0);
	CHECK(o != NULL);
	CHECK(plugin_opts_string(o, "listen") == NULL);
	plugin_opts_free(o);
	o = NULL;
	CHECK_INT(web_options("    options: {}\n", NULL, &o), 0);
	plugin_opts_free(o);
	o = NULL;
	CHECK_INT(web_options("    options: {x: 1}\n", NULL, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:4:15: plugin web: unknown option `x` (valid: none)");

	/* Mistakes in a plugin's schema point at the plugin's entry. */
	static const herald_option bad_default[] = {
	    {"n", HERALD_OPT_INT, "12", 1, 10, "a number"},
	    {NULL, 0, NULL, 0, 0, NULL},
	};
	CHECK_INT(web_options("", bad_default, &o), HERALD_ECONFIG);
	CHECK_STR(
	    err,
	    "t.yaml:3:5: plugin web: n (default): must be an integer from 1 to 10, got \"12\"");
	static const herald_option bad_yaml[] = {
	    {"l", HERALD_OPT_LIST, "[a", 0, 0, "a list"},
	    {NULL, 0, NULL, 0, 0, NULL},
	};
	CHECK_INT(web_options("", bad_yaml, &o), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "t.yaml:3:5: plugin web: l: invalid default `[a` in the schema: ");
	static const herald_option bad_type[] = {
	    {"t", 99, NULL, 0, 0, "a what"},
	    {NULL, 0, NULL, 0, 0, NULL},
	};
	CHECK_INT(web_options("", bad_type, &o), HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:3:5: plugin web: option `t` has an unknown type 99");

	/* There is no plugin number 2. */
	herald_config *cfg = load("plugins: [{name: one}, {name: two}]");
	CHECK(cfg != NULL);
	if (cfg) {
		CHECK_INT(config_plugin_options(cfg, 2, sample, &o, err, sizeof err),
		          HERALD_EINVAL);
		CHECK(o == NULL);
		config_free(cfg);
	}
}

/* The shipped configs load as they are. */
static void test_shipped_files(void)
{
	const char *src = getenv("HERALD_SOURCE_DIR");
	char path[PATH_MAX], want[PATH_MAX];
	herald_config *cfg = NULL;

	if (!src)
		src = "../..";
	setenv("HERALD_JWT_SECRET", "dev-secret-change-me", 1);
	snprintf(path, sizeof path, "%s/config/herald.dev.yaml", src);
	CHECK_INT(config_load(path, &cfg, err, sizeof err), 0);
	if (cfg) {
		CHECK_STR(cfg->listen, "127.0.0.1");
		CHECK_INT(cfg->port, 8000);
		CHECK_INT(cfg->auth_algs, AUTH_HS256);
		CHECK_STR(cfg->auth_secret, "dev-secret-change-me");
		snprintf(want, sizeof want, "%s/config/../scripts", src);
		CHECK_STR(cfg->scripts_dir, want);
		snprintf(want, sizeof want, "%s/config/../build/plugins", src);
		CHECK_STR(cfg->plugin_dir, want);
		CHECK_INT(cfg->n_plugins, 1);
		if (cfg->n_plugins == 1) {
			CHECK_STR(cfg->plugins[0].name, "stdin");
			snprintf(want, sizeof want, "%s/config/../build/plugins/stdin.so", src);
			CHECK_STR(cfg->plugins[0].path, want);
		}
		CHECK_INT(cfg->log_level, HERALD_LOG_INFO);
		config_free(cfg);
	}

	snprintf(path, sizeof path, "%s/config/herald.yaml", src);
	CHECK_INT(config_load(path, &cfg, err, sizeof err), 0);
	if (cfg) {
		CHECK_STR(cfg->listen, "0.0.0.0");
		CHECK_INT(cfg->port, 8000);
		CHECK_STR(cfg->auth_secret, "dev-secret-change-me");
		CHECK_STR(cfg->scripts_dir, "/etc/herald/scripts");
		CHECK_STR(cfg->plugin_dir, "/usr/lib/herald/plugins");
		CHECK_INT(cfg->n_plugins, 1);
		if (cfg->n_plugins == 1)
			CHECK_STR(cfg->plugins[0].name, "webhook");
		CHECK_INT(cfg->idle_timeout, 60);
		CHECK_STR(cfg->auth_token_type, "access");
		config_free(cfg);
	}

	/* Without the variable, the message says which one to set. */
	unsetenv("HERALD_JWT_SECRET");
	CHECK_INT(config_load(path, &cfg, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "auth.secret: environment variable HERALD_JWT_SECRET is not set");
}

/* The keys of the hardening settings, given. */
static void test_limits_and_policy(void)
{
	herald_config *cfg = load("server:\n"
	                          "  max_connections_per_user: 3\n"
	                          "  message_rate: 5\n"
	                          "  message_burst: 7\n"
	                          "  allowed_origins: [https://a.example, https://b.example]\n"
	                          "  tls_cert: cert.pem\n"
	                          "  tls_key: /k.pem\n"
	                          "auth: {secret: {env: HOME}, close_on_expiry: yes}\n"
	                          "subscriptions: {policy: claim, claim: proj}\n");
	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK_INT(cfg->max_connections_per_user, 3);
	CHECK_INT(cfg->message_rate, 5);
	CHECK_INT(cfg->message_burst, 7);
	CHECK_INT(cfg->n_allowed_origins, 2);
	CHECK_STR(cfg->allowed_origins[1], "https://b.example");
	CHECK_CONTAINS(cfg->tls_cert, "/cert.pem");
	CHECK_STR(cfg->tls_key, "/k.pem");
	CHECK_INT(cfg->auth_close_on_expiry, 1);
	CHECK_INT(cfg->sub_policy, SUB_CLAIM);
	CHECK_STR(cfg->sub_claim, "proj");
	config_free(cfg);
}

/* What is checked before serving (config_check_ready): each error names a place. */
static void ready(const char *yaml, unsigned what, const char *message, int line)
{
	herald_config *cfg = NULL;
	char why[1024] = "";

	/* relative paths resolve against a directory that does not exist */
	CHECK_INT(config_load_string(yaml, strlen(yaml), "t.yaml", "/nonexistent-herald", &cfg, err,
	                             sizeof err),
	          0);
	if (!cfg)
		return;
	CHECK_INT(config_check_ready(cfg, what, why, sizeof why), message ? HERALD_ECONFIG : 0);
	if (strcmp(why, message ? message : "") != 0)
		fprintf(stderr, "test_config.c:%d: error \"%s\"\n", line, why);
	CHECK_STR(why, message ? message : "");
	config_free(cfg);
}
#define READY(yaml, what, message) ready(yaml, what, message, __LINE__)

static void test_ready(void)
{
	enum { S = CONFIG_READY_SCRIPTS, A = CONFIG_READY_AUTH };

	READY(
	    "scripts:\n  dir: /nonexistent/scripts\n", S,
	    "t.yaml:2:8: scripts.dir: cannot open /nonexistent/scripts: No such file or directory");
	/* the default, relative to the file's directory: placed at the section, else at 1:1 */
	READY("scripts:\n  memory: 1000000\n", S,
	      "t.yaml:2:3: scripts.dir: cannot open /nonexistent-herald/scripts: No such file or "
	      "directory");
	READY("log:\n  level: info\n", S,
	      "t.yaml:1:1: scripts.dir: cannot open /nonexistent-herald/scripts: No such file or "
	      "directory");
	READY("scripts:\n  dir: /tmp\n", S, NULL);
	/* auth without its secret */
	READY("log:\n  level: info\n", A,
	      "t.yaml:1:1: auth.secret: required: the file has no auth section, so HS256 is "
	      "accepted, which needs a secret");
	READY("log:\n  level: info\nauth:\n", A,
	      "t.yaml:3:6: auth.secret: required when auth.algorithms accepts HS256");
	READY("auth:\n  secret: {env: HERALD_TEST_SECRET}\n", A, NULL);
	/* only what is asked for */
	READY("scripts:\n  dir: /nonexistent\n", A,
	      "t.yaml:1:1: auth.secret: required: the file has no auth section, so HS256 is "
	      "accepted, which needs a secret");
	READY("scripts:\n  dir: /nonexistent\n", 0, NULL);
}

int main(void)
{
	setenv("HERALD_TEST_SECRET", SECRET_VALUE, 1);
	test_defaults();
	test_every_key();
	test_limits_and_policy();
	test_value_errors();
	test_structure_errors();
	test_secrets();
	test_paths();
	test_plugins();
	test_plugin_options();
	test_shipped_files();
	test_ready();
	return check_done();
}
