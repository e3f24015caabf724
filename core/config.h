/*
 * config.h - Herald's YAML configuration: parsed into a neutral tree (yaml_tree.h), then checked
 * against a schema per section (schema.h): the core's tables live in config.c, each plugin's
 * comes from its herald_option table.
 *
 * Every error message has the form "FILE:LINE:COL: what is wrong" and names the key.
 * Relative paths in the file (scripts.dir, plugin_dir, plugin paths, secret files) are
 * resolved against the directory of the config file.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "herald/plugin.h"

/* Accepted JWT algorithms, as a bit set in herald_config.auth_algs. */
enum {
	AUTH_HS256 = 1 << 0,
	AUTH_HS384 = 1 << 1,
	AUTH_HS512 = 1 << 2,
	AUTH_RS256 = 1 << 3,
	AUTH_ES256 = 1 << 4,
};

/* Who may subscribe to which project room (subscriptions.policy). */
enum sub_policy {
	SUB_OPEN = 0,  /* anyone to any project (the reference behaviour) */
	SUB_CLAIM = 1, /* the projects listed in a token claim */
	SUB_LUA = 2,   /* scripts/authorize.lua decides */
};

/* When an append to the on-disk log is acknowledged (storage.sync). */
enum storage_sync {
	STORAGE_SYNC_OS = 0,     /* written to the OS: survives a crash of the process */
	STORAGE_SYNC_ALWAYS = 1, /* and fsync'd, once per batch: survives a power cut */
};

struct yaml_tree_node; /* a node of the YAML tree (yaml_tree.h) */
struct schema_field;   /* one key of a schema table (schema.h) */

/* One entry of the `plugins:` list. */
typedef struct plugin_conf {
	char *name;                           /* `name:`, required */
	char *path;                           /* resolved path of the .so */
	const struct yaml_tree_node *options; /* the `options:` mapping, or NULL */
	int line, col; /* where the entry starts, for messages (written as a pair by schema.c) */
} plugin_conf;

typedef struct herald_config {
	char *file; /* the path it was loaded from ("(defaults)" when none) */

	/* server: */
	char *listen;                 /* address to bind; default "0.0.0.0" */
	int port;                     /* default 8000 */
	char *ws_path;                /* default "/ws/notifications/" */
	int max_connections;          /* default 1000 */
	int max_message_size;         /* client message bytes; default 1048576 */
	int ping_interval;            /* seconds; default 25 */
	int idle_timeout;             /* seconds; default 60 */
	int send_queue_bytes;         /* per connection; default 1048576 */
	int max_notification_size;    /* bytes of an event and of a notification; default 262144 */
	int max_subscriptions;        /* project rooms per connection; default 128 */
	int max_room_members;         /* connections per project room; default 100 */
	int max_header_size;          /* HTTP request line + headers; default 16384 */
	int max_connections_per_user; /* default 0: unlimited */
	int message_rate;             /* client messages per second per connection; 0: unlimited */
	int message_burst;            /* bucket size of that rate; default 200 */
	char **trusted_proxies; /* peers whose X-Forwarded-For names the client; none by default */
	size_t n_trusted_proxies;
	char *metrics_listen;   /* HOST:PORT of /metrics and /healthz; "": the main port; "off" */
	char **allowed_origins; /* exact Origin values accepted; none: any */
	size_t n_allowed_origins;
	int demo;       /* serve the demo page at /demo/; default 0 */
	char *tls_cert; /* PEM certificate file; with tls_key: serve wss:// only */
	char *tls_key;

	/* auth: */
	unsigned auth_algs; /* AUTH_* bits; default AUTH_HS256 */
	char *auth_secret;  /* HMAC secret (from env or file), or NULL */
	size_t auth_secret_len;
	char *auth_public_key;    /* PEM text (from file or env), or NULL */
	char *auth_user_claim;    /* default "user_id" */
	int auth_leeway;          /* seconds; default 0 */
	char *auth_issuer;        /* required `iss`, or NULL */
	char *auth_audience;      /* required in `aud`, or NULL */
	char *auth_token_type;    /* required `token_type`, default "access"; NULL: not checked */
	int auth_close_on_expiry; /* close connections when their token expires; default 0 */
	char **auth_required_claims; /* claims a token must carry; none by default */
	size_t n_auth_required_claims;

	/* subscriptions: */
	int sub_policy;  /* enum sub_policy; default SUB_OPEN */
	char *sub_claim; /* claim listing the allowed project ids; default "projects" */

	/* history: (resume) */
	int history_size;            /* notifications kept per room; default 100 (0: no history) */
	int history_ttl;             /* seconds a notification is kept; default 300 */
	long long history_max_bytes; /* rooms and history in all; default 256 MiB (0: none) */

	/* cluster: (scale-out on Redis; off when cluster_url is NULL) */
	char *cluster_url;      /* redis://[:password@]host:port/db or unix:///path */
	char *cluster_password; /* overrides the URL's (from env or file), or NULL */
	size_t cluster_password_len;
	char *cluster_log;         /* stream key of the notification log; default "herald:log" */
	long long cluster_log_max; /* entries kept in the log (XADD MAXLEN ~); default 100000 */
	int history_warm; /* log entries read at start to fill the history; default 10000 */

	/* storage: (the embedded log on disk; unused in cluster mode) */
	int storage_memory;  /* `storage: memory`: the log in memory, a new epoch every start */
	int storage_default; /* no storage section: an unusable default dir means memory */
	char *storage_dir;   /* default "herald-data" (relative to the config file) */
	int storage_sync;    /* enum storage_sync; default STORAGE_SYNC_OS */
	long long storage_max_bytes; /* bytes of the log kept; default 1 GiB */
	int storage_max_age;         /* seconds of the log kept; default 604800 */

	/* scripts: */
	char *scripts_dir;          /* default "scripts" (relative to the config file) */
	long long lua_instructions; /* per call; default 1000000 */
	long long lua_memory;       /* bytes per Lua state; default 16 MiB */

	/* notification_limit: (the per-user notification limit and its digest; off when 0) */
	int notify_limit;        /* notifications to one user per window; default 0 (off) */
	int notify_limit_window; /* seconds of a window; default 60 */

	/* ingest: */
	int queue_size;   /* events; default 65536 */
	int dedup_window; /* seconds an event id is remembered; default 600 (0: off) */

	/* log: */
	int log_level; /* enum herald_log_level; default info */
	int log_json;  /* default 0 (plain) */

	/* plugins: */
	char *plugin_dir; /* where bare plugin names are looked up */
	plugin_conf *plugins;
	size_t n_plugins;

	struct config_doc *doc; /* the parsed tree, owned */
} herald_config;

/*
 * Load and check `path`. On success returns 0 and a config in *out (free with config_free).
 * On failure returns HERALD_ECONFIG (or HERALD_EIO when the file cannot be read) and writes
 * "FILE:LINE:COL: message" into err.
 */
int config_load(const char *path, herald_config **out, char *err, size_t errlen);

/* Load from a string (for tests); `name` stands for the file in messages, and relative paths
 * resolve against `dir`. */
int config_load_string(const char *yaml, size_t len, const char *name, const char *dir,
                       herald_config **out, char *err, size_t errlen);

/* Frees everything the config owns (what its schema tables stored, the tree); NULL is fine. */
void config_free(herald_config *cfg);

/*
 * What serving needs beyond what config_load checks, with the place in the file: scripts.dir
 * can be opened (CONFIG_READY_SCRIPTS), the secret or key of the accepted algorithms is there,
 * also when the file has no auth section (CONFIG_READY_AUTH). 0, or HERALD_ECONFIG with
 * "FILE:LINE:COL: key: message" in err (a key the file does not give is placed at its
 * section, else at 1:1).
 */
enum { CONFIG_READY_SCRIPTS = 1, CONFIG_READY_AUTH = 2 };
int config_check_ready(const herald_config *cfg, unsigned what, char *err, size_t errlen);

/* The core's schema: the top-level table, whose SCHEMA_SECTION and SCHEMA_RECORDS fields lead
 * to the tables of every section. Static data; config/README.md documents exactly its keys. */
const struct schema_field *config_schema(void);

/* The options of one plugin, checked against its schema. */
typedef struct plugin_opts plugin_opts;

/*
 * Check plugin `idx`'s `options:` against `schema` (ended by a NULL name; NULL schema: the
 * plugin takes no options) and resolve defaults and secrets. On failure returns
 * HERALD_ECONFIG with "FILE:LINE:COL: plugin NAME: message (valid keys: a, b, c)" in err.
 */
int config_plugin_options(const herald_config *cfg, size_t idx, const herald_option *schema,
                          plugin_opts **out, char *err, size_t errlen);
void plugin_opts_free(plugin_opts *opts);

/* Accessors behind the opt_* host functions (see herald/plugin.h for their meaning). */
const char *plugin_opts_string(const plugin_opts *o, const char *name);
long long plugin_opts_int(const plugin_opts *o, const char *name);
int plugin_opts_bool(const plugin_opts *o, const char *name);
size_t plugin_opts_list_len(const plugin_opts *o, const char *name);
const char *plugin_opts_list_item(const plugin_opts *o, const char *name, size_t i);
int plugin_opts_isset(const plugin_opts *o, const char *name);

#endif
