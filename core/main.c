/* main.c - the command line: serve, check-config, render, token. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jwt.h>
#include <limits.h>
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
    "  render EVENT.json     format an event (or a JSON array of events) with the Lua scripts\n"
    "                        and print the notification(s) ('-' reads standard input);\n"
    "                        what scripts print() goes to standard error\n"
    "  test-scripts [DIR]    run the fixtures of DIR/tests/*.json (default DIR: the config's\n"
    "                        scripts.dir) and print a diff for each mismatch\n"
    "  token --user ID       print a token for user ID signed with the configured secret\n"
    "        [--ttl SECONDS]   valid for SECONDS (default 3600)\n"
    "        [--claim NAME=V1,V2]  add claim NAME: whole numbers as JSON integers, else\n"
    "                          strings; several values (or the subscriptions.claim) make a\n"
    "                          list; repeat --claim for more claims\n"
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
	if (config_check_ready(cfg, CONFIG_READY_SCRIPTS | CONFIG_READY_AUTH, err, sizeof err) !=
	    0) {
		LOG_ERROR("%s", err);
		config_free(cfg);
		return 1;
	}
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

/* Scripts' print() on the command line: to stderr, so stdout keeps only notifications. */
static void print_to_stderr(void *arg, const char *where, const char *text)
{
	(void)arg;
	fprintf(stderr, "[lua] %s%s\n", where, text);
}

/* Format one event (a JSON value) into its notification message (malloc'd). */
static int render_one(formatter *fmt, json_t *value, char **msg, char *err, size_t errlen)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	event *ev = NULL;
	json_t *out = NULL;
	size_t len;
	int rc;

	*msg = NULL;
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return HERALD_ENOMEM;
	}
	if (!(rc = event_parse(text, strlen(text), time(NULL), &ev, err, errlen)) &&
	    !(rc = formatter_run(fmt, ev, &out, err, errlen)) &&
	    !(*msg = notif_message(ev, out, &len))) {
		snprintf(err, errlen, "out of memory");
		rc = HERALD_ENOMEM;
	}
	json_decref(out);
	event_free(ev);
	free(text);
	return rc;
}

static int cmd_render(const herald_config *cfg, const char *path)
{
	char err[1024] = "";
	size_t len;
	char *text = read_all(path, &len), *msg = NULL;
	formatter *fmt = NULL;
	json_error_t jerr;
	json_t *doc = NULL;
	int rc = 1;

	if (!text) {
		fprintf(stderr, "herald: %s: cannot read\n", path);
		return 1;
	}
	if (formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory, &fmt, err,
	                     sizeof err)) {
		fprintf(stderr, "herald: %s\n", err);
		goto done;
	}
	formatter_set_print(fmt, print_to_stderr, NULL);
	if (!(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
		fprintf(stderr, "herald: %s:%d:%d: invalid JSON: %s\n", path, jerr.line,
		        jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_array(doc)) {
		if (render_one(fmt, doc, &msg, err, sizeof err) == 0) {
			printf("%s\n", msg);
			rc = 0;
		} else {
			fprintf(stderr, "herald: %s\n", err);
		}
		goto done;
	}
	/* An array of events gives an array of notifications, one per line; an event that fails
	 * stops there, naming its index. */
	size_t i;
	json_t *item;
	fputs("[", stdout);
	rc = 0;
	json_array_foreach(doc, i, item)
	{
		if (render_one(fmt, item, &msg, err, sizeof err) != 0) {
			fprintf(stderr, "herald: [%zu]: %s\n", i, err);
			rc = 1;
			break;
		}
		printf("%s\n%s", i ? "," : "", msg);
		free(msg);
		msg = NULL;
	}
	puts("\n]");
done:
	free(msg);
	json_decref(doc);
	formatter_destroy(fmt);
	free(text);
	return rc;
}

/* ---- test-scripts ---- */

/* JSON text of v, two-space indented, sorted keys, split into lines (one malloc'd buffer; the
 * lines point into it). */
struct lines {
	char *buf;
	char **v;
	size_t n;
};

static int lines_of(const json_t *v, struct lines *l)
{
	size_t cap = 16;

	l->n = 0;
	l->buf = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	l->v = malloc(cap * sizeof *l->v);
	if (!l->buf || !l->v)
		return HERALD_ENOMEM;
	for (char *p = l->buf; p;) {
		char *nl = strchr(p, '\n');
		if (l->n == cap) {
			char **bigger = realloc(l->v, (cap *= 2) * sizeof *l->v);
			if (!bigger)
				return HERALD_ENOMEM;
			l->v = bigger;
		}
		l->v[l->n++] = p;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

static void lines_free(struct lines *l)
{
	free(l->buf);
	free(l->v);
}

/* A unified-style diff of the whole texts (fixtures are small): '-' expected, '+' got. */
static int diff_print(const json_t *want, const json_t *got, const char *wname, const char *gname)
{
	struct lines a = {0}, b = {0};
	size_t *t = NULL, i, j;
	int rc = HERALD_ENOMEM;

	if (lines_of(want, &a) || lines_of(got, &b) ||
	    !(t = calloc((a.n + 1) * (b.n + 1), sizeof *t)))
		goto done;
	/* t[i][j]: the longest common subsequence of a[i..] and b[j..] */
	for (i = a.n; i-- > 0;)
		for (j = b.n; j-- > 0;)
			t[i * (b.n + 1) + j] =
			    strcmp(a.v[i], b.v[j]) == 0 ? t[(i + 1) * (b.n + 1) + j + 1] + 1
			    : t[(i + 1) * (b.n + 1) + j] > t[i * (b.n + 1) + j + 1]
			        ? t[(i + 1) * (b.n + 1) + j]
			        : t[i * (b.n + 1) + j + 1];
	printf("--- %s\n+++ %s\n", wname, gname);
	for (i = 0, j = 0; i < a.n || j < b.n;) {
		if (i < a.n && j < b.n && strcmp(a.v[i], b.v[j]) == 0) {
			printf(" %s\n", a.v[i++]);
			j++;
		} else if (j < b.n &&
		           (i == a.n || t[i * (b.n + 1) + j + 1] >= t[(i + 1) * (b.n + 1) + j])) {
			printf("+%s\n", b.v[j++]);
		} else {
			printf("-%s\n", a.v[i++]);
		}
	}
	rc = 0;
done:
	free(t);
	lines_free(&a);
	lines_free(&b);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One fixture: {"event": {...}, "notification": {...}}. The event is formatted as the hub
 * would; the notification it gives must equal "notification", except that a `timestamp` the
 * fixture does not give is not compared, and `room` and `pos` (added when a notification is
 * delivered) are never compared. Returns 0 (passed), 1 (mismatch, diff printed) or -1 (the
 * fixture is malformed, or the event failed; said on stderr).
 */
static int fixture_run(formatter *fmt, const char *path)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *want, *got = NULL;
	char err[1024] = "", *msg = NULL;
	int rc = -1;

	if (!doc) {
		fprintf(stderr, "%s:%d:%d: invalid JSON: %s\n", path, jerr.line, jerr.column,
		        jerr.text);
		return -1;
	}
	want = json_deep_copy(json_object_get(doc, "notification"));
	if (!json_is_object(json_object_get(doc, "event")) || !json_is_object(want)) {
		fprintf(stderr, "%s: a fixture is {\"event\": {...}, \"notification\": {...}}\n",
		        path);
		goto done;
	}
	if (render_one(fmt, json_object_get(doc, "event"), &msg, err, sizeof err)) {
		fprintf(stderr, "%s: the event failed: %s\n", path, err);
		printf("FAIL %s: the event failed: %s\n", path, err);
		rc = 1;
		goto done;
	}
	if (!(got = json_loads(msg, 0, NULL)))
		goto done;
	if (!json_object_get(want, "timestamp"))
		json_object_del(got, "timestamp");
	json_object_del(want, "room");
	json_object_del(want, "pos");
	if (json_equal(want, got)) {
		rc = 0;
	} else {
		char gname[600];
		snprintf(gname, sizeof gname, "%s (what the scripts give)", path);
		printf("FAIL %s\n", path);
		diff_print(want, got, path, gname);
		rc = 1;
	}
done:
	free(msg);
	json_decref(got);
	json_decref(want);
	json_decref(doc);
	return rc;
}

static int cmd_test_scripts(const herald_config *cfg, const char *dir)
{
	char err[1024] = "", tests[PATH_MAX];
	formatter *fmt = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0, failed = 0;
	struct dirent *de;
	DIR *d;
	int rc = 1;

	snprintf(tests, sizeof tests, "%s/tests", dir);
	if (formatter_create(dir, cfg->lua_instructions, cfg->lua_memory, &fmt, err, sizeof err)) {
		fprintf(stderr, "herald: %s\n", err);
		return 1;
	}
	formatter_set_print(fmt, print_to_stderr, NULL);
	if (!(d = opendir(tests))) {
		fprintf(stderr, "herald: cannot open %s: %s\n", tests, strerror(errno));
		goto done;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **bigger = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof *names);
			if (!bigger)
				break;
			names = bigger;
		}
		if (!(names[n] = malloc(strlen(tests) + len + 2)))
			break;
		sprintf(names[n++], "%s/%s", tests, de->d_name);
	}
	closedir(d);
	if (!n) {
		fprintf(stderr, "herald: no fixtures (*.json) in %s\n", tests);
		goto done;
	}
	qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++)
		if (fixture_run(fmt, names[i]) != 0)
			failed++;
	printf("%zu fixtures, %zu passed, %zu failed\n", n, n - failed, failed);
	rc = failed ? 1 : 0;
done:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	formatter_destroy(fmt);
	return rc;
}

/* check-config: *.lua files of the scripts directory that the formatter ignores because their
 * name is not an event type (1 to 64 of a-z, 0-9, _): a typo that would otherwise leave the
 * events of that type to default.lua without a word. Warnings; returns how many. */
static int scripts_warn(const char *dir)
{
	struct dirent *de;
	int warned = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), i;
		if (len <= 4 || strcmp(de->d_name + len - 4, ".lua") != 0)
			continue;
		for (i = 0; i < len - 4; i++) {
			char c = de->d_name[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
				break;
		}
		if (i == len - 4 && len - 4 <= 64)
			continue;
		fprintf(stderr,
		        "herald: warning: %s/%s is ignored: '%.*s' is not an event type (1 to 64 "
		        "characters of a-z, 0-9 and _)\n",
		        dir, de->d_name, (int)(len - 4), de->d_name);
		warned++;
	}
	closedir(d);
	return warned;
}

/* Everything serving would build, short of listening and starting the sources. */
static int cmd_check(const herald_config *cfg)
{
	char err[1024] = "";
	auth *a = NULL;
	formatter *fmt = NULL;
	ingest *q = NULL;
	plugin_set *ps = NULL;
	int rc = config_check_ready(cfg, CONFIG_READY_SCRIPTS | CONFIG_READY_AUTH, err, sizeof err);

	if (!rc)
		rc = auth_create(cfg, &a, err, sizeof err);
	if (!rc)
		rc = formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory,
		                      &fmt, err, sizeof err);
	if (!rc)
		rc = ingest_create(16, NULL, NULL, &q);
	if (!rc)
		rc = plugin_loader_open(cfg, q, 1, &ps, err, sizeof err);
	if (rc) {
		fprintf(stderr, "herald: %s\n", err[0] ? err : herald_strerror(rc));
	} else {
		scripts_warn(cfg->scripts_dir);
		printf("%s: ok\n", cfg->file);
	}
	plugin_loader_close(ps);
	ingest_destroy(q);
	formatter_destroy(fmt);
	auth_destroy(a);
	return rc ? 1 : 0;
}

/* A whole number of at most 18 digits, optionally signed: a JSON integer. */
static int token_is_int(const char *s, size_t len)
{
	size_t i = s[0] == '-' ? 1 : 0;

	if (len <= i || len - i > 18)
		return 0;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * Add `--claim NAME=V1,V2` to `claims`: whole numbers become integers, anything else strings;
 * a single value stays a scalar unless `list_claim` names it (the subscriptions.claim, which
 * must be a list) or NAME was given before (the values are appended). 0 or HERALD_EINVAL.
 */
static int token_claim(json_t *claims, const char *arg, const char *user_claim,
                       const char *list_claim)
{
	static const char *const reserved[] = {"exp", "iat", "nbf",        "jti",
	                                       "iss", "aud", "token_type", NULL};
	const char *eq = strchr(arg, '=');
	json_t *values, *old;
	char name[128];

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
		fprintf(stderr, "herald: --claim %s: expected NAME=VALUE[,VALUE...]\n", arg);
		return HERALD_EINVAL;
	}
	snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
	for (int i = 0; reserved[i] || strcmp(name, user_claim) == 0; i++)
		if (!reserved[i] || strcmp(name, reserved[i]) == 0) {
			fprintf(stderr, "herald: --claim %s: the token sets `%s` itself\n", arg,
			        name);
			return HERALD_EINVAL;
		}
	values = json_array();
	for (const char *p = eq + 1; *p;) {
		size_t len = strcspn(p, ",");
		json_array_append_new(values, token_is_int(p, len)
		                                  ? json_integer(strtoll(p, NULL, 10))
		                                  : json_stringn(p, len));
		p += len;
		if (*p == ',')
			p++;
	}
	old = json_object_get(claims, name);
	if (old) {
		if (!json_is_array(old)) {
			json_t *list = json_array();
			json_array_append(list, old);
			json_object_set_new(claims, name, old = list);
		}
		json_array_extend(old, values);
		json_decref(values);
	} else if (json_array_size(values) == 1 && !(list_claim && strcmp(name, list_claim) == 0)) {
		json_object_set(claims, name, json_array_get(values, 0));
		json_decref(values);
	} else {
		json_object_set_new(claims, name, values);
	}
	return 0;
}

/* Re-sign the token auth_mint() made with the extra claims: decoded with the same secret, the
 * claims added, encoded again (the same algorithm). */
static int token_add_claims(const herald_config *cfg, char **token, json_t *claims)
{
	jwt_t *jwt = NULL;
	char *text, *out = NULL;
	int e;

	if (!json_object_size(claims))
		return 0;
	if (!(text = json_dumps(claims, JSON_COMPACT)))
		return HERALD_ENOMEM;
	e = jwt_decode(&jwt, *token, (const unsigned char *)cfg->auth_secret,
	               (int)cfg->auth_secret_len);
	if (!e) {
		e = jwt_add_grants_json(jwt, text);
	}
	if (!e && !(out = jwt_encode_str(jwt)))
		e = ENOMEM;
	jwt_free(jwt);
	free(text);
	if (e) {
		fprintf(stderr, "herald: cannot add the claims: %s\n", strerror(e));
		return HERALD_EINVAL;
	}
	free(*token);
	*token = out;
	return 0;
}

static int cmd_token(const herald_config *cfg, long long user, long ttl, json_t *claims)
{
	char err[512] = "";
	auth *a = NULL;
	char *token = NULL;

	if (user <= 0) {
		fprintf(stderr, "herald: token needs --user ID (a positive integer)\n");
		return 2;
	}
	if (config_check_ready(cfg, CONFIG_READY_AUTH, err, sizeof err) ||
	    auth_create(cfg, &a, err, sizeof err) ||
	    auth_mint(a, user, ttl, time(NULL), &token, err, sizeof err)) {
		fprintf(stderr, "herald: %s\n", err);
		auth_destroy(a);
		return 1;
	}
	auth_destroy(a);
	if (token_add_claims(cfg, &token, claims)) {
		free(token);
		return 1;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}

/* A positive whole number, all of `s`, at most `max`; else -1. */
static long long parse_positive(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0 || v > max)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {"check-config", no_argument, NULL, 'k'},
	    {"user", required_argument, NULL, 'u'},   {"ttl", required_argument, NULL, 't'},
	    {"claim", required_argument, NULL, 'C'},  {NULL, 0, NULL, 0},
	};
	const char *path = HERALD_DEFAULT_CONFIG, *verb = "serve", *dir = NULL, *file = NULL;
	const char **claim_args = NULL;
	size_t n_claims = 0;
	long long user = 0, ttl = 3600;
	char err[1024] = "";
	herald_config *cfg;
	json_t *claims = NULL;
	int opt, rc, fd, have_config = 0;

	/* Keep descriptors 0-2 taken, so no socket or pipe of ours is mistaken for stdin. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (!(claim_args = calloc((size_t)argc, sizeof *claim_args)))
		return 1;
	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			have_config = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			free(claim_args);
			return 0;
		case 'V':
			printf("herald %s\n", HERALD_VERSION);
			free(claim_args);
			return 0;
		case 'k':
			verb = "check-config";
			break;
		case 'u':
			/* Not strtoll alone: "12abc" would be user 12. */
			if ((user = parse_positive(optarg, (1LL << 53) - 1)) < 0) {
				fprintf(stderr,
				        "herald: --user %s: must be a whole number from 1 to "
				        "2^53-1\n",
				        optarg);
				free(claim_args);
				return 2;
			}
			break;
		case 't':
			if ((ttl = parse_positive(optarg, 10LL * 366 * 86400)) < 0) {
				fprintf(stderr,
				        "herald: --ttl %s: must be a whole number of seconds "
				        "from 1 to 316224000 (ten years)\n",
				        optarg);
				free(claim_args);
				return 2;
			}
			break;
		case 'C':
			claim_args[n_claims++] = optarg;
			break;
		default:
			fputs(usage, stderr);
			free(claim_args);
			return 2;
		}
	}
	if (optind < argc)
		verb = argv[optind++];
	rc = 2;
	if (strcmp(verb, "serve") && strcmp(verb, "check-config") && strcmp(verb, "render") &&
	    strcmp(verb, "token") && strcmp(verb, "test-scripts")) {
		fprintf(stderr, "herald: unknown command '%s'\n\n%s", verb, usage);
		goto out;
	}
	if (strcmp(verb, "render") == 0 && optind >= argc) {
		fprintf(stderr, "herald: render needs an event file ('-' for standard input)\n");
		goto out;
	}
	if (strcmp(verb, "test-scripts") == 0 && optind < argc)
		dir = argv[optind++];
	else if (strcmp(verb, "render") == 0)
		file = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "herald: unexpected argument '%s'\n\n%s", argv[optind], usage);
		goto out;
	}
	if (n_claims && strcmp(verb, "token") != 0) {
		fprintf(stderr, "herald: --claim is an option of `herald token`\n");
		goto out;
	}
	/* test-scripts DIR needs no config: the budgets' defaults do. */
	if (dir && !have_config)
		rc = config_load_string("", 0, NULL, ".", &cfg, err, sizeof err);
	else
		rc = config_load(path, &cfg, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "herald: %s\n", err);
		rc = 1;
		goto out;
	}
	if (strcmp(verb, "serve") == 0) {
		free(claim_args);
		return cmd_serve(cfg); /* takes cfg */
	}
	rc = 1;
	if (strcmp(verb, "check-config") == 0) {
		rc = cmd_check(cfg);
	} else if (strcmp(verb, "render") == 0) {
		rc = cmd_render(cfg, file);
	} else if (strcmp(verb, "test-scripts") == 0) {
		rc = cmd_test_scripts(cfg, dir ? dir : cfg->scripts_dir);
	} else if ((claims = json_object())) {
		rc = 0;
		for (size_t i = 0; i < n_claims && !rc; i++)
			rc =
			    token_claim(claims, claim_args[i], cfg->auth_user_claim,
			                cfg->sub_policy == SUB_CLAIM ? cfg->sub_claim : "projects");
		rc = rc ? 2 : cmd_token(cfg, user, (long)ttl, claims);
	}
	config_free(cfg);
out:
	json_decref(claims);
	free(claim_args);
	return rc;
}
