/*
 * fuzz_config.c - config_load_string() (core/config.c, over schema.c and yaml_tree.c) on
 * arbitrary YAML, then config_plugin_options() on each plugin entry with a small fixed schema
 * and with none.
 *
 * Relative paths resolve against tests/unit/keys, so the seeds can read real secret files
 * (rsa_public.pem, ec_public.pem); the environment holds HERALD_FUZZ_SECRET and an empty
 * HERALD_FUZZ_EMPTY. run.sh links schema.c, which reads those files, with its fopen() renamed
 * to fuzz_fopen() below.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

#ifndef HERALD_KEYS_DIR
#error "HERALD_KEYS_DIR must name tests/unit/keys (run.sh defines it)"
#endif

#define SECRET_VALUE "fuzz-Secret-Value-never-shown"
#define FILE_NAME "fuzz.yaml"

FILE *fuzz_fopen(const char *path, const char *mode);

/* A mutated `file:` may name anything on this machine: only small regular files are read, so
 * /dev/zero or a FIFO cannot stall the run. */
FILE *fuzz_fopen(const char *path, const char *mode)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return NULL;
	if (!S_ISREG(st.st_mode) || st.st_size > 65536) {
		errno = EACCES;
		return NULL;
	}
	return fopen(path, mode);
}

static const herald_option schema[] = {
    {"path", HERALD_OPT_STRING, "/dev/stdin", 0, 0, "a string with a default"},
    {"host", HERALD_OPT_STRING, NULL, 0, 0, "a string without a default"},
    {"port", HERALD_OPT_INT, "6379", 1, 65535, "a bounded integer"},
    {"batch", HERALD_OPT_INT, NULL, 0, 0, "an unbounded integer"},
    {"enabled", HERALD_OPT_BOOL, "yes", 0, 0, "a boolean"},
    {"password", HERALD_OPT_SECRET, NULL, 0, 0, "a secret"},
    {"channels", HERALD_OPT_LIST, "[herald, events]", 0, 0, "a list with a default"},
    {"tags", HERALD_OPT_LIST, NULL, 0, 0, "a list without a default"},
    {NULL, 0, NULL, 0, 0, NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	setenv("HERALD_FUZZ_SECRET", SECRET_VALUE, 1);
	setenv("HERALD_FUZZ_EMPTY", "", 1);
	unsetenv("HERALD_PLUGIN_DIR");
	return 0;
}

/* An error message is "FILE:..."; returns whether it shows the secret's value. */
static int check_error(const char *err, size_t errlen)
{
	REQUIRE(fuzz_message_ok(err, errlen));
	REQUIRE(strncmp(err, FILE_NAME ":", strlen(FILE_NAME) + 1) == 0);
	return strstr(err, SECRET_VALUE) != NULL;
}

/* What config.h promises of a loaded config. */
static void check_config(const herald_config *cfg)
{
	REQUIRE(cfg->listen && *cfg->listen && cfg->ws_path && cfg->ws_path[0] == '/');
	REQUIRE(cfg->port >= 1 && cfg->port <= 65535);
	REQUIRE(cfg->idle_timeout > cfg->ping_interval);
	REQUIRE(cfg->auth_algs && cfg->auth_algs < 1u << 5);
	REQUIRE(cfg->auth_user_claim && *cfg->auth_user_claim);
	REQUIRE(!cfg->auth_secret || cfg->auth_secret_len > 0);
	REQUIRE(cfg->log_level >= HERALD_LOG_ERROR && cfg->log_level <= HERALD_LOG_DEBUG);
	REQUIRE(cfg->scripts_dir && cfg->plugin_dir);
	REQUIRE(!cfg->tls_cert == !cfg->tls_key);
	REQUIRE(!cfg->n_allowed_origins == !cfg->allowed_origins);
	for (size_t i = 0; i < cfg->n_allowed_origins; i++)
		REQUIRE(cfg->allowed_origins[i]);
	REQUIRE(cfg->sub_policy >= SUB_OPEN && cfg->sub_policy <= SUB_LUA);
	REQUIRE(cfg->sub_claim && *cfg->sub_claim);
	REQUIRE(!cfg->n_plugins == !cfg->plugins);
	for (size_t i = 0; i < cfg->n_plugins; i++)
		REQUIRE(cfg->plugins[i].name && cfg->plugins[i].path && cfg->plugins[i].line > 0);
}

static void check_options(const plugin_opts *o)
{
	long long port = plugin_opts_int(o, "port");
	size_t n = plugin_opts_list_len(o, "channels");

	REQUIRE(plugin_opts_string(o, "path") && plugin_opts_isset(o, "path"));
	REQUIRE(port >= 1 && port <= 65535);
	REQUIRE(plugin_opts_bool(o, "enabled") == 0 || plugin_opts_bool(o, "enabled") == 1);
	REQUIRE(!plugin_opts_isset(o, "password") || plugin_opts_string(o, "password"));
	for (size_t i = 0; i < n; i++)
		REQUIRE(plugin_opts_list_item(o, "channels", i));
	REQUIRE(!plugin_opts_list_item(o, "channels", n));
	REQUIRE(!plugin_opts_string(o, "no-such-option") &&
	        !plugin_opts_isset(o, "no-such-option"));
	(void)plugin_opts_string(o, "host");
	(void)plugin_opts_int(o, "batch");
	(void)plugin_opts_list_item(o, "tags", 0);
}

/* Loads the input and checks every answer; returns whether an error showed the secret. */
static int run(const uint8_t *data, size_t size)
{
	herald_config *cfg = (herald_config *)data; /* must be reset */
	plugin_opts *o;
	char err[512];
	int shown = 0;

	memset(err, 'x', sizeof err);
	if (config_load_string((const char *)data, size, FILE_NAME, HERALD_KEYS_DIR, &cfg, err,
	                       sizeof err) != 0) {
		REQUIRE(cfg == NULL);
		return check_error(err, sizeof err);
	}
	REQUIRE(cfg != NULL);
	check_config(cfg);
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		for (int with_schema = 0; with_schema < 2; with_schema++) {
			memset(err, 'x', sizeof err);
			o = (plugin_opts *)data;
			if (config_plugin_options(cfg, i, with_schema ? schema : NULL, &o, err,
			                          sizeof err) == 0) {
				if (with_schema)
					check_options(o);
				plugin_opts_free(o);
			} else {
				REQUIRE(o == NULL);
				shown |= check_error(err, sizeof err);
			}
		}
	}
	config_free(cfg);
	return shown;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A message showing the secret's text is fine only when the input spells it out itself:
	 * then it still shows it once the variable holds another value. */
	if (run(data, size)) {
		setenv("HERALD_FUZZ_SECRET", "another-value", 1);
		REQUIRE(run(data, size));
		setenv("HERALD_FUZZ_SECRET", SECRET_VALUE, 1);
	}
	return 0;
}
