/*
 * config.c - Herald's configuration (see config.h): the core's key tables, the checks that
 * span several keys, and the plugin options. Reading YAML is yaml_tree.c's; checking a tree
 * against a table, storing and freeing the values is schema.c's.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "yaml_tree.h"

#ifndef HERALD_DEFAULT_PLUGIN_DIR
#define HERALD_DEFAULT_PLUGIN_DIR "/usr/local/lib/herald/plugins"
#endif

struct config_doc {
	yaml_tree_node *root; /* NULL for an empty document */
	char *dir;            /* relative paths resolve against it */
};

struct plugin_opts {
	schema_field *fields; /* one per option (names borrowed from the plugin), then {0} */
	size_t n;
	schema_value *values; /* one per option, stored whole */
};

/* ---- The core's schema ---- */

static const char *const alg_names[] = {"HS256", "HS384", "HS512", "RS256", "ES256", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_names[] = {"plain", "json", NULL};
static const char *const policy_names[] = {"open", "claim", "lua", NULL};
static const char *const sync_names[] = {"os", "always", NULL};

_Static_assert(AUTH_HS256 == 1 << 0 && AUTH_HS384 == 1 << 1 && AUTH_HS512 == 1 << 2 &&
                   AUTH_RS256 == 1 << 3 && AUTH_ES256 == 1 << 4,
               "alg_names lists the algorithms in the order of their AUTH_* bits");
_Static_assert(HERALD_LOG_ERROR == 0 && HERALD_LOG_WARN == 1 && HERALD_LOG_INFO == 2 &&
                   HERALD_LOG_DEBUG == 3,
               "level_names lists the levels in the order of their values");
_Static_assert(SUB_OPEN == 0 && SUB_CLAIM == 1 && SUB_LUA == 2,
               "policy_names lists the policies in the order of their values");
_Static_assert(STORAGE_SYNC_OS == 0 && STORAGE_SYNC_ALWAYS == 1,
               "sync_names lists the policies in the order of their values");
_Static_assert(offsetof(plugin_conf, col) == offsetof(plugin_conf, line) + sizeof(int),
               "a record's mark is `int line, col;`");

#define HS_ALGS (AUTH_HS256 | AUTH_HS384 | AUTH_HS512)
#define PK_ALGS (AUTH_RS256 | AUTH_ES256)

static const char *config_url_path(const char *s)
{
	return s[0] == '/' ? NULL : "a path starting with '/'";
}

static const char *config_plugin_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n >= 1 && n <= 32 && !s[n] ? NULL : "1 to 32 of the characters a-z, 0-9, _ and -";
}

#define AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define CFG(member) AT(herald_config, member)

/* clang-format off */
static const schema_field server_fields[] = {
	{.name = "listen", .type = SCHEMA_STRING, .def = "0.0.0.0", .check = schema_nonempty,
	 CFG(listen), .description = "address to bind"},
	{.name = "port", .type = SCHEMA_INT, .def = "8000", .min = 1, .max = 65535, CFG(port),
	 .description = "TCP port to listen on"},
	{.name = "ws_path", .type = SCHEMA_STRING, .def = "/ws/notifications/",
	 .check = config_url_path, CFG(ws_path),
	 .description = "URL path of the WebSocket endpoint"},
	{.name = "max_connections", .type = SCHEMA_INT, .def = "1000", .min = 1, .max = 1000000,
	 CFG(max_connections), .description = "connections served at once"},
	{.name = "max_message_size", .type = SCHEMA_INT, .def = "1048576", .min = 16,
	 .max = 67108864, CFG(max_message_size),
	 .description = "largest client message, in bytes"},
	{.name = "ping_interval", .type = SCHEMA_INT, .def = "25", .min = 1, .max = 3600,
	 CFG(ping_interval), .description = "seconds between pings"},
	{.name = "idle_timeout", .type = SCHEMA_INT, .def = "60", .min = 2, .max = 7200,
	 CFG(idle_timeout), .description = "seconds of silence before a connection is closed"},
	{.name = "send_queue_bytes", .type = SCHEMA_INT, .def = "1048576", .min = 4096,
	 .max = 1073741824, CFG(send_queue_bytes),
	 .description = "bytes queued for one connection before it is dropped"},
	{.name = "max_notification_size", .type = SCHEMA_INT, .def = "262144", .min = 1024,
	 .max = 536870912, CFG(max_notification_size),
	 .description = "largest event and notification, in bytes (under send_queue_bytes)"},
	{.name = "max_subscriptions", .type = SCHEMA_INT, .def = "128", .min = 1, .max = 100000,
	 CFG(max_subscriptions), .description = "project rooms per connection"},
	{.name = "max_room_members", .type = SCHEMA_INT, .def = "100", .min = 1, .max = 1000000,
	 CFG(max_room_members), .description = "connections per project room"},
	{.name = "max_header_size", .type = SCHEMA_INT, .def = "16384", .min = 1024, .max = 65535,
	 CFG(max_header_size), .description = "bytes of HTTP request line and headers"},
	{.name = "max_connections_per_user", .type = SCHEMA_INT, .def = "0", .min = 0,
	 .max = 1000000, CFG(max_connections_per_user),
	 .description = "connections of one user (0: no limit)"},
	{.name = "message_rate", .type = SCHEMA_INT, .def = "20", .min = 0, .max = 1000000,
	 CFG(message_rate), .description = "client messages per second (0: no limit)"},
	{.name = "message_burst", .type = SCHEMA_INT, .def = "200", .min = 1, .max = 1000000,
	 CFG(message_burst), .description = "client messages allowed in a burst"},
	{.name = "trusted_proxies", .type = SCHEMA_LIST, CFG(trusted_proxies),
	 .len_off = offsetof(herald_config, n_trusted_proxies),
	 .description = "proxy addresses whose X-Forwarded-For names the client"},
	{.name = "metrics_listen", .type = SCHEMA_STRING, .def = "", CFG(metrics_listen),
	 .description = "HOST:PORT of /metrics and /healthz (empty: the main port; off: none)"},
	{.name = "allowed_origins", .type = SCHEMA_LIST, CFG(allowed_origins),
	 .len_off = offsetof(herald_config, n_allowed_origins),
	 .description = "Origin values accepted at the handshake (none: any)"},
	{.name = "demo", .type = SCHEMA_BOOL, .def = "false", CFG(demo),
	 .description = "serve the demo page at /demo/"},
	{.name = "tls_cert", .type = SCHEMA_PATH, CFG(tls_cert),
	 .description = "PEM certificate: serve wss:// (with tls_key)"},
	{.name = "tls_key", .type = SCHEMA_PATH, CFG(tls_key),
	 .description = "PEM private key of tls_cert"},
	{0},
};

static const schema_field auth_fields[] = {
	{.name = "algorithms", .type = SCHEMA_FLAGS, .def = "HS256", .sub = alg_names,
	 CFG(auth_algs), .description = "accepted JWT algorithms"},
	{.name = "secret", .type = SCHEMA_SECRET, CFG(auth_secret),
	 .len_off = offsetof(herald_config, auth_secret_len),
	 .description = "HMAC secret of the HS algorithms"},
	{.name = "public_key", .type = SCHEMA_SECRET, CFG(auth_public_key),
	 .description = "PEM public key of RS256 and ES256"},
	{.name = "user_claim", .type = SCHEMA_STRING, .def = "user_id", .check = schema_nonempty,
	 CFG(auth_user_claim), .description = "claim that holds the user id"},
	{.name = "leeway", .type = SCHEMA_INT, .def = "0", .min = 0, .max = 3600, CFG(auth_leeway),
	 .description = "seconds of clock skew allowed on exp and nbf"},
	{.name = "issuer", .type = SCHEMA_OPTSTR, CFG(auth_issuer),
	 .description = "required iss"},
	{.name = "audience", .type = SCHEMA_OPTSTR, CFG(auth_audience),
	 .description = "required aud"},
	{.name = "token_type", .type = SCHEMA_OPTSTR, .def = "access", CFG(auth_token_type),
	 .description = "required token_type claim"},
	{.name = "close_on_expiry", .type = SCHEMA_BOOL, .def = "false", CFG(auth_close_on_expiry),
	 .description = "close a connection when its token expires (code 4001)"},
	{.name = "required_claims", .type = SCHEMA_LIST, CFG(auth_required_claims),
	 .len_off = offsetof(herald_config, n_auth_required_claims),
	 .description = "claims a token must carry (e.g. jti, as SimpleJWT requires)"},
	{0},
};

static const schema_field subscriptions_fields[] = {
	{.name = "policy", .type = SCHEMA_CHOICE, .def = "open", .sub = policy_names,
	 CFG(sub_policy), .description = "who may subscribe to a project: open, claim or lua"},
	{.name = "claim", .type = SCHEMA_STRING, .def = "projects", .check = schema_nonempty,
	 CFG(sub_claim),
	 .description = "token claim listing the project ids a user may subscribe to"},
	{0},
};

static const schema_field history_fields[] = {
	{.name = "size", .type = SCHEMA_INT, .def = "100", .min = 0, .max = 1000000,
	 CFG(history_size),
	 .description = "notifications kept per room for resuming clients (0: none)"},
	{.name = "ttl", .type = SCHEMA_INT, .def = "300", .min = 1, .max = 86400 * 7,
	 CFG(history_ttl), .description = "seconds a notification stays in the history"},
	{.name = "max_bytes", .type = SCHEMA_INT, .def = "268435456", .min = 0,
	 .max = 1099511627776LL, CFG(history_max_bytes),
	 .description = "bytes of rooms and history in all (0: no bound)"},
	{0},
};

static const schema_field cluster_fields[] = {
	{.name = "url", .type = SCHEMA_OPTSTR, CFG(cluster_url),
	 .description = "Redis of the cluster: redis://[user][:password]@host:port/db or unix:///path"},
	{.name = "password", .type = SCHEMA_SECRET, CFG(cluster_password),
	 .len_off = offsetof(herald_config, cluster_password_len),
	 .description = "Redis password (overrides the URL's)"},
	{.name = "log", .type = SCHEMA_STRING, .def = "herald:log", .check = schema_nonempty,
	 CFG(cluster_log), .description = "stream key of the shared notification log"},
	{.name = "log_max", .type = SCHEMA_INT, .def = "100000", .min = 100, .max = 1000000000,
	 CFG(cluster_log_max), .description = "entries kept in the log (approximately)"},
	{.name = "warm", .type = SCHEMA_INT, .def = "10000", .min = 0, .max = 10000000,
	 CFG(history_warm), .description = "log entries read at start to fill the history"},
	{0},
};

static const schema_field storage_fields[] = {
	{.name = "dir", .type = SCHEMA_PATH, .def = "herald-data", CFG(storage_dir),
	 .description = "directory of the on-disk notification log"},
	{.name = "sync", .type = SCHEMA_CHOICE, .def = "os", .sub = sync_names, CFG(storage_sync),
	 .description = "when a source is acknowledged: os (written) or always (fsync'd)"},
	{.name = "max_bytes", .type = SCHEMA_INT, .def = "1073741824", .min = 1048576,
	 .max = 1099511627776LL, CFG(storage_max_bytes),
	 .description = "bytes of the log kept on disk"},
	{.name = "max_age", .type = SCHEMA_INT, .def = "604800", .min = 60, .max = 31536000,
	 CFG(storage_max_age), .description = "seconds of the log kept on disk"},
	{0},
};

static const schema_field scripts_fields[] = {
	{.name = "dir", .type = SCHEMA_PATH, .def = "scripts", CFG(scripts_dir),
	 .description = "directory of the Lua formatters"},
	{.name = "instructions", .type = SCHEMA_INT, .def = "1000000", .min = 1000,
	 .max = 1000000000, CFG(lua_instructions),
	 .description = "Lua instructions per formatter call"},
	{.name = "memory", .type = SCHEMA_INT, .def = "16777216", .min = 65536,
	 .max = 4294967296LL, CFG(lua_memory), .description = "bytes of memory per Lua state"},
	{0},
};

static const schema_field ingest_fields[] = {
	{.name = "queue_size", .type = SCHEMA_INT, .def = "65536", .min = 16, .max = 16777216,
	 CFG(queue_size), .description = "events waiting for the event loop"},
	{.name = "dedup_window", .type = SCHEMA_INT, .def = "600", .min = 0, .max = 86400,
	 CFG(dedup_window), .description = "seconds an event id is remembered (0: off)"},
	{0},
};

static const schema_field notification_limit_fields[] = {
	{.name = "per_user", .type = SCHEMA_INT, .def = "0", .min = 0, .max = 1000000,
	 CFG(notify_limit),
	 .description = "notifications one user receives per window, the rest in a digest (0: off)"},
	{.name = "window", .type = SCHEMA_INT, .def = "60", .min = 1, .max = 86400,
	 CFG(notify_limit_window), .description = "seconds of a user's window"},
	{0},
};

static const schema_field log_fields[] = {
	{.name = "level", .type = SCHEMA_CHOICE, .def = "info", .sub = level_names,
	 CFG(log_level), .description = "most verbose level written"},
	{.name = "format", .type = SCHEMA_CHOICE, .def = "plain", .sub = format_names,
	 CFG(log_json), .description = "plain text or one JSON object per line"},
	{0},
};

static const schema_field plugin_fields[] = {
	{.name = "name", .type = SCHEMA_STRING, .check = config_plugin_name, .required = true,
	 AT(plugin_conf, name), .description = "the plugin to load"},
	{.name = "path", .type = SCHEMA_PATH, AT(plugin_conf, path),
	 .description = "its shared object, by default <plugin_dir>/<name>.so"},
	{.name = "options", .type = SCHEMA_MAP, AT(plugin_conf, options),
	 .description = "options of the plugin"},
	{0},
};

static const schema_field top_fields[] = {
	{.name = "server", .type = SCHEMA_SECTION, .sub = server_fields},
	{.name = "auth", .type = SCHEMA_SECTION, .sub = auth_fields},
	{.name = "subscriptions", .type = SCHEMA_SECTION, .sub = subscriptions_fields},
	{.name = "history", .type = SCHEMA_SECTION, .sub = history_fields},
	{.name = "cluster", .type = SCHEMA_SECTION, .sub = cluster_fields},
	{.name = "storage", .type = SCHEMA_SECTION, .sub = storage_fields},
	{.name = "scripts", .type = SCHEMA_SECTION, .sub = scripts_fields},
	{.name = "ingest", .type = SCHEMA_SECTION, .sub = ingest_fields},
	{.name = "notification_limit", .type = SCHEMA_SECTION, .sub = notification_limit_fields},
	{.name = "log", .type = SCHEMA_SECTION, .sub = log_fields},
	{.name = "plugin_dir", .type = SCHEMA_PATH, CFG(plugin_dir),
	 .description = "where plugins named without a path are found"},
	{.name = "plugins", .type = SCHEMA_RECORDS, .sub = plugin_fields, CFG(plugins),
	 .len_off = offsetof(herald_config, n_plugins), .elem_size = sizeof(plugin_conf),
	 .mark_off = offsetof(plugin_conf, line), .description = "source plugins to load"},
	{0},
};
/* clang-format on */

const struct schema_field *config_schema(void)
{
	return top_fields;
}

/* ---- Checks across keys ---- */

/* The error for an auth section that accepts algorithms `algs` without their key `key`. */
static int config_auth_needs(schema_ctx *c, const herald_config *cfg, const yaml_tree_node *at,
                             const char *key, unsigned algs)
{
	char names[64];
	size_t k = 0;

	names[0] = '\0';
	/* Sized for all five names, so nothing is cut. */
	for (int b = 0; alg_names[b]; b++)
		if (cfg->auth_algs & algs & (1u << b))
			k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
			                      alg_names[b]);
	return schema_fail(c, at, key, "required when auth.algorithms accepts %s", names);
}

/* Fill what depends on other keys, then check what no single key can. */
static int config_finish(schema_ctx *c, herald_config *cfg, const yaml_tree_node *root)
{
	const yaml_tree_node *server = yaml_tree_get(root, "server");
	const yaml_tree_node *auth = yaml_tree_get(root, "auth"), *at;
	const char *env = getenv("HERALD_PLUGIN_DIR");

	if (!cfg->plugin_dir &&
	    !(cfg->plugin_dir = strdup(env && *env ? env : HERALD_DEFAULT_PLUGIN_DIR)))
		return schema_oom(c);
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		plugin_conf *pc = &cfg->plugins[i];
		size_t len = strlen(cfg->plugin_dir) + strlen(pc->name) + sizeof "/.so";

		if (pc->path)
			continue;
		if (!(pc->path = malloc(len)))
			return schema_oom(c);
		snprintf(pc->path, len, "%s/%s.so", cfg->plugin_dir, pc->name);
	}
	if (cfg->idle_timeout <= cfg->ping_interval) {
		at = yaml_tree_get(server, "idle_timeout");
		return schema_fail(c, at ? at : yaml_tree_get(server, "ping_interval"),
		                   "server.idle_timeout",
		                   "must be greater than server.ping_interval (%d), got %d",
		                   cfg->ping_interval, cfg->idle_timeout);
	}
	if (cfg->max_notification_size >= cfg->send_queue_bytes) {
		at = yaml_tree_get(server, "max_notification_size");
		return schema_fail(c, at ? at : yaml_tree_get(server, "send_queue_bytes"),
		                   "server.max_notification_size",
		                   "must be smaller than server.send_queue_bytes (%d), got %d",
		                   cfg->send_queue_bytes, cfg->max_notification_size);
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		at = yaml_tree_get(server, cfg->tls_cert ? "tls_cert" : "tls_key");
		return schema_fail(c, at, cfg->tls_cert ? "server.tls_cert" : "server.tls_key",
		                   "needs server.%s as well",
		                   cfg->tls_cert ? "tls_key" : "tls_cert");
	}
	/* Without an auth section the defaults stand and auth_create() reports what is
	 * missing; a file that configures auth must configure it completely. */
	if (!auth || yaml_tree_is_null(auth))
		return 0;
	at = yaml_tree_get(auth, "algorithms");
	if (!at)
		at = auth;
	if ((cfg->auth_algs & HS_ALGS) && !cfg->auth_secret)
		return config_auth_needs(c, cfg, at, "auth.secret", HS_ALGS);
	if ((cfg->auth_algs & PK_ALGS) && !cfg->auth_public_key)
		return config_auth_needs(c, cfg, at, "auth.public_key", PK_ALGS);
	return 0;
}

/* ---- Loading and freeing ---- */

/* `storage: memory` says in one word what no section can: the log stays in memory. The tables
 * then check a shallow copy of the top mapping without that key (in *copy, its kids to free). */
static int config_storage_word(schema_ctx *c, herald_config *cfg, const yaml_tree_node *root,
                               yaml_tree_node *copy)
{
	const yaml_tree_node *n = yaml_tree_get(root, "storage");
	char seen[96];
	size_t k = 0;

	cfg->storage_default = !n || yaml_tree_is_null(n);
	if (!n || n->kind != YAML_TREE_SCALAR || yaml_tree_is_null(n))
		return 0;
	if (strcmp(n->text, "memory") != 0)
		return schema_fail(c, n, "storage", "must be `memory` or a mapping, got %s",
		                   schema_describe(n, false, seen, sizeof seen));
	cfg->storage_memory = 1;
	*copy = *root;
	if (!(copy->kids = malloc(root->n * sizeof *copy->kids)))
		return schema_oom(c);
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		if (root->kids[i + 1] == n)
			continue;
		copy->kids[k++] = root->kids[i];
		copy->kids[k++] = root->kids[i + 1];
	}
	copy->n = k;
	return 0;
}

int config_load_string(const char *yaml, size_t len, const char *name, const char *dir,
                       herald_config **out, char *err, size_t errlen)
{
	schema_ctx c = {.file = name ? name : "(defaults)",
	                .dir = dir ? dir : ".",
	                .err = err,
	                .errlen = errlen};
	herald_config *cfg = calloc(1, sizeof *cfg);
	const yaml_tree_node *root;
	yaml_tree_node top = {0};
	char seen[96];
	yaml_tree_error e;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!cfg || !(cfg->file = strdup(c.file)) || !(cfg->doc = calloc(1, sizeof *cfg->doc)) ||
	    !(cfg->doc->dir = strdup(c.dir))) {
		rc = schema_oom(&c);
		goto fail;
	}
	if ((rc = yaml_tree_parse(yaml, len, &cfg->doc->root, &e)) != 0) {
		yaml_tree_node at = {.line = e.line, .col = e.col};
		schema_fail(&c, &at, NULL, "%s", e.msg);
		goto fail;
	}
	root = yaml_tree_is_null(cfg->doc->root) ? NULL : cfg->doc->root;
	if (root && root->kind != YAML_TREE_MAP) {
		rc = schema_fail(&c, root, NULL,
		                 "the top level must be a mapping of sections, got %s",
		                 schema_describe(root, false, seen, sizeof seen));
		goto fail;
	}
	rc = config_storage_word(&c, cfg, root, &top);
	if (rc == 0)
		rc = schema_walk(&c, top.kids ? &top : root, root, "", ".", "key", top_fields, cfg);
	free(top.kids);
	if (rc == 0)
		rc = config_finish(&c, cfg, root);
	if (rc)
		goto fail;
	*out = cfg;
	return 0;
fail:
	config_free(cfg);
	return rc;
}

int config_load(const char *path, herald_config **out, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *buf, *dir;
	size_t len;
	bool opened;
	int e, rc;

	*out = NULL;
	if ((rc = schema_file_read(path, &buf, &len, &e, &opened)) != 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot %s: %s", path, opened ? "read" : "open",
			         strerror(e));
		return rc;
	}
	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir) {
		free(buf);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return HERALD_ENOMEM;
	}
	rc = config_load_string(buf, len, path, dir, out, err, errlen);
	free(dir);
	free(buf);
	return rc;
}

void config_free(herald_config *cfg)
{
	if (!cfg)
		return;
	schema_free(top_fields, cfg);
	free(cfg->file);
	if (cfg->doc) {
		yaml_tree_free(cfg->doc->root);
		free(cfg->doc->dir);
		free(cfg->doc);
	}
	free(cfg);
}

/* ---- Checks before serving ---- */

/* The value of section.key, else the section, else the top of the file (1:1): an error about
 * a key the file leaves to its default still names a place. */
static const yaml_tree_node *config_place(const herald_config *cfg, const char *section,
                                          const char *key, yaml_tree_node *top)
{
	const yaml_tree_node *root = cfg->doc ? cfg->doc->root : NULL, *sec, *at;

	*top = (yaml_tree_node){.line = 1, .col = 1};
	if (!root || root->kind != YAML_TREE_MAP || !(sec = yaml_tree_get(root, section)))
		return top;
	if (sec->kind == YAML_TREE_MAP && (at = yaml_tree_get(sec, key)))
		return at;
	return sec;
}

int config_check_ready(const herald_config *cfg, unsigned what, char *err, size_t errlen)
{
	schema_ctx c = {
	    .file = cfg->file, .dir = cfg->doc ? cfg->doc->dir : ".", .err = err, .errlen = errlen};
	const yaml_tree_node *at;
	yaml_tree_node top;
	DIR *d = NULL;

	if (err && errlen)
		err[0] = '\0';
	/* The formatter opens it when the hub starts; said here, the error names the key. */
	if ((what & CONFIG_READY_SCRIPTS) && !(d = opendir(cfg->scripts_dir))) {
		int e = errno;
		at = config_place(cfg, "scripts", "dir", &top);
		return schema_fail(&c, at, "scripts.dir", "cannot open %s: %s", cfg->scripts_dir,
		                   strerror(e));
	}
	if (what & CONFIG_READY_SCRIPTS)
		closedir(d);
	if (!(what & CONFIG_READY_AUTH))
		return 0;
	/* A file without an auth section (or with an empty one) keeps the default HS256: its
	 * secret is missing, and the place named is the section, or the top of the file. */
	at = config_place(cfg, "auth", "algorithms", &top);
	if ((cfg->auth_algs & HS_ALGS) && !cfg->auth_secret)
		return at == &top
		           ? schema_fail(&c, at, "auth.secret",
		                         "required: the file has no auth section, so HS256 is "
		                         "accepted, which needs a secret")
		           : config_auth_needs(&c, cfg, at, "auth.secret", HS_ALGS);
	if ((cfg->auth_algs & PK_ALGS) && !cfg->auth_public_key)
		return config_auth_needs(&c, cfg, at, "auth.public_key", PK_ALGS);
	return 0;
}

/* ---- Plugin options ---- */

int config_plugin_options(const herald_config *cfg, size_t idx, const herald_option *schema,
                          plugin_opts **out, char *err, size_t errlen)
{
	schema_ctx c = {.file = cfg->file, .dir = cfg->doc->dir, .err = err, .errlen = errlen};
	const plugin_conf *pc;
	yaml_tree_node where;
	plugin_opts *o = NULL;
	char label[64];
	size_t n = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (idx >= cfg->n_plugins) {
		schema_fail(&c, NULL, NULL, "there is no plugin number %zu", idx);
		return HERALD_EINVAL;
	}
	pc = &cfg->plugins[idx];
	where = (yaml_tree_node){.line = pc->line, .col = pc->col};
	snprintf(label, sizeof label, "plugin %s", pc->name);
	while (schema && schema[n].name)
		n++;
	if (!(o = calloc(1, sizeof *o)) || !(o->fields = calloc(n + 1, sizeof *o->fields)) ||
	    !(o->values = calloc(n + 1, sizeof *o->values))) {
		rc = schema_oom(&c);
		goto fail;
	}
	o->n = n;
	for (size_t i = 0; i < n; i++) {
		const herald_option *opt = &schema[i];
		if (opt->type < HERALD_OPT_STRING || opt->type > HERALD_OPT_LIST) {
			rc = schema_fail(&c, &where, label, "option `%s` has an unknown type %d",
			                 opt->name, opt->type);
			goto fail;
		}
		o->fields[i] = (schema_field){.name = opt->name,
		                              .type = opt->type,
		                              .def = opt->def,
		                              .min = opt->min,
		                              .max = opt->max,
		                              .off = i * sizeof(schema_value),
		                              .size = sizeof(schema_value),
		                              .whole = true,
		                              .description = opt->description};
	}
	rc = schema_walk(&c, pc->options, &where, label, ": ", "option", o->fields, o->values);
	if (rc)
		goto fail;
	*out = o;
	return 0;
fail:
	plugin_opts_free(o);
	return rc;
}

void plugin_opts_free(plugin_opts *o)
{
	if (!o)
		return;
	if (o->fields && o->values)
		schema_free(o->fields, o->values);
	free(o->values);
	free(o->fields);
	free(o);
}

static const schema_value *config_opt_find(const plugin_opts *o, const char *name)
{
	for (size_t i = 0; o && name && i < o->n; i++)
		if (strcmp(o->fields[i].name, name) == 0)
			return &o->values[i];
	return NULL;
}

const char *plugin_opts_string(const plugin_opts *o, const char *name)
{
	const schema_value *v = config_opt_find(o, name);
	return v ? v->str : NULL;
}

long long plugin_opts_int(const plugin_opts *o, const char *name)
{
	const schema_value *v = config_opt_find(o, name);
	return v ? v->num : 0;
}

int plugin_opts_bool(const plugin_opts *o, const char *name)
{
	const schema_value *v = config_opt_find(o, name);
	return v ? v->num != 0 : 0;
}

size_t plugin_opts_list_len(const plugin_opts *o, const char *name)
{
	const schema_value *v = config_opt_find(o, name);
	return v ? v->n_items : 0;
}

const char *plugin_opts_list_item(const plugin_opts *o, const char *name, size_t i)
{
	const schema_value *v = config_opt_find(o, name);
	return v && i < v->n_items ? v->items[i] : NULL;
}

int plugin_opts_isset(const plugin_opts *o, const char *name)
{
	const schema_value *v = config_opt_find(o, name);
	return v ? v->set : 0;
}
