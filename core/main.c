/* main.c - the command line: serve, check-config, render, token. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "formatter.h"
#include "hub.h"
#include "log.h"
#include "notif.h"
#include "plugin_loader.h"

static const char usage[] =
	"usage: herald [COMMAND] [-c FILE] [options]\n"
	"\n"
	"Commands:\n"
	"  serve                 serve WebSockets and run the source plugins (the default)\n"
	"  check-config          check the config file and exit (also: --check-config)\n"
	"  render EVENT.json     format one event with the Lua scripts and print the\n"
	"                        notification it becomes ('-' reads standard input)\n"
	"  token --user ID       print a token for user ID signed with the configured secret\n"
	"        [--ttl SECONDS]   valid for SECONDS (default 3600)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE     the YAML config (default " HERALD_DEFAULT_CONFIG ")\n"
	"  -h, --help            this text\n"
	"  -V, --version         the version\n";

static hub *running;

static void on_signal(int sig)
{
	if (!running)
		return;
	if (sig == SIGHUP)
		hub_signal_reload(running);
	else
		hub_signal_stop(running);
}

static int cmd_serve(herald_config *cfg)
{
	struct sigaction sa = {.sa_handler = on_signal};
	char err[1024] = "";
	hub *h;
	int rc;

	log_setup(cfg->log_level, cfg->log_json);
	signal(SIGPIPE, SIG_IGN);
	if (hub_create(cfg, &h, err, sizeof err) != 0) {
		LOG_ERROR("%s", err);
		return 1;
	}
	running = h;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = hub_run(h, err, sizeof err);
	if (rc)
		LOG_ERROR("%s", err);
	running = NULL;
	hub_destroy(h);
	if (!rc)
		LOG_INFO("stopped");
	return rc ? 1 : 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

static int cmd_render(const herald_config *cfg, const char *path)
{
	char err[1024] = "";
	size_t len;
	char *text = read_all(path, &len);
	formatter *fmt = NULL;
	event *ev = NULL;
	json_t *out = NULL;
	char *msg = NULL;
	int rc = 1;

	if (!text) {
		fprintf(stderr, "herald: %s: cannot read\n", path);
		return 1;
	}
	if (formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory, &fmt, err,
			     sizeof err) ||
	    event_parse(text, len, time(NULL), &ev, err, sizeof err) ||
	    formatter_run(fmt, ev, &out, err, sizeof err)) {
		fprintf(stderr, "herald: %s\n", err);
		goto done;
	}
	if ((msg = notif_message(ev, out, &len))) {
		printf("%s\n", msg);
		rc = 0;
	}
done:
	free(msg);
	json_decref(out);
	event_free(ev);
	formatter_destroy(fmt);
	free(text);
	return rc;
}

/* Everything serving would build, short of listening and starting the sources. */
static int cmd_check(const herald_config *cfg)
{
	char err[1024] = "";
	auth *a = NULL;
	formatter *fmt = NULL;
	ingest *q = NULL;
	plugin_set *ps = NULL;
	int rc = auth_create(cfg, &a, err, sizeof err);

	if (!rc)
		rc = formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory, &fmt,
				      err, sizeof err);
	if (!rc)
		rc = ingest_create(16, NULL, NULL, &q);
	if (!rc)
		rc = plugin_loader_open(cfg, q, 1, &ps, err, sizeof err);
	if (rc)
		fprintf(stderr, "herald: %s\n", err[0] ? err : herald_strerror(rc));
	else
		printf("%s: ok\n", cfg->file);
	plugin_loader_close(ps);
	ingest_destroy(q);
	formatter_destroy(fmt);
	auth_destroy(a);
	return rc ? 1 : 0;
}

static int cmd_token(const herald_config *cfg, long long user, long ttl)
{
	char err[512] = "";
	auth *a = NULL;
	char *token = NULL;

	if (user <= 0) {
		fprintf(stderr, "herald: token needs --user ID (a positive integer)\n");
		return 2;
	}
	if (auth_create(cfg, &a, err, sizeof err) ||
	    auth_mint(a, user, ttl, time(NULL), &token, err, sizeof err)) {
		fprintf(stderr, "herald: %s\n", err);
		auth_destroy(a);
		return 1;
	}
	printf("%s\n", token);
	free(token);
	auth_destroy(a);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},      {"check-config", no_argument, NULL, 'k'},
		{"user", required_argument, NULL, 'u'},   {"ttl", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *path = HERALD_DEFAULT_CONFIG, *verb = "serve";
	long long user = 0;
	long ttl = 3600;
	char err[1024] = "";
	herald_config *cfg;
	int opt, rc, fd;

	/* Keep descriptors 0-2 taken, so no socket or pipe of ours is mistaken for stdin. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("herald %s\n", HERALD_VERSION);
			return 0;
		case 'k':
			verb = "check-config";
			break;
		case 'u':
			user = strtoll(optarg, NULL, 10);
			break;
		case 't':
			ttl = strtol(optarg, NULL, 10);
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc)
		verb = argv[optind++];
	if (strcmp(verb, "serve") && strcmp(verb, "check-config") && strcmp(verb, "render") &&
	    strcmp(verb, "token")) {
		fprintf(stderr, "herald: unknown command '%s'\n\n%s", verb, usage);
		return 2;
	}
	if (strcmp(verb, "render") == 0 && optind >= argc) {
		fprintf(stderr, "herald: render needs an event file ('-' for standard input)\n");
		return 2;
	}
	if (config_load(path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "herald: %s\n", err);
		return 1;
	}
	if (strcmp(verb, "serve") == 0)
		return cmd_serve(cfg); /* takes cfg */
	if (strcmp(verb, "check-config") == 0)
		rc = cmd_check(cfg);
	else if (strcmp(verb, "render") == 0)
		rc = cmd_render(cfg, argv[optind]);
	else
		rc = cmd_token(cfg, user, ttl);
	config_free(cfg);
	return rc;
}
