/* formatter.c - see formatter.h. The script contract is documented in scripts/README.md. */
#define _GNU_SOURCE /* memmem */
#include "formatter.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "jtape.h"
#include "log.h"

/* The script that answers subscription requests under subscriptions.policy lua. */
#define AUTHORIZE "authorize"

#define NAME_MAX_LEN 64     /* bytes of a script or module name, without ".lua" */
#define SUBJECT_MAX 8192    /* bytes of a pattern subject and of a string.rep result */
#define ELEMS_MAX (1 << 20) /* elements table.insert/remove/move may shift */
#define DEPTH_MAX 32        /* nesting levels converted between JSON and Lua */
#define WATCH_SIGNAL SIGURG /* ignored by default: a stray one does nothing */
#define WALL_FACTOR 4       /* wall-clock time a call may take, in CPU time limits */

_Static_assert(sizeof(pthread_t) <= sizeof(unsigned long), "pthread_t fits in atomic_ulong");

/* Why the current call was stopped by a budget hook. */
enum over { OVER_NONE, OVER_INSTRUCTIONS, OVER_TIME };

/*
 * The watchdog of one formatter: a thread that wakes every `period_ms` and, when the same call
 * has used `timeout_ms` of CPU time (or run for WALL_FACTOR times that, whatever the load),
 * signals the calling thread, whose handler arms a hook that fails the call at its next VM
 * instruction. A call only bumps `seq` (odd while it runs), so the hot path makes no system
 * call.
 */
struct watch {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop; /* under mu */
	long timeout_ms, period_ms;
	atomic_ulong seq;    /* odd while a call runs */
	atomic_ulong target; /* the seq the watchdog stopped */
	atomic_ulong caller; /* the thread running the call (a pthread_t) */
};

/* A script or module read from disk. */
struct source {
	char name[NAME_MAX_LEN + 1];
	char *text;
	size_t len;
};

struct sources {
	struct source *v;
	size_t n, cap;
};

struct script {
	char name[NAME_MAX_LEN + 1];
	int ref; /* its function, in the registry */
};

/* One Lua state and the scripts compiled into it. */
struct lstate {
	lua_State *L;
	size_t used, limit;     /* bytes allocated by L, and the memory budget */
	int instructions;       /* the instruction budget of one call */
	lua_Integer work;       /* elements visited by guarded C loops during the current call */
	int over;               /* enum over: the budget that stopped the current call */
	struct watch *watch;    /* the formatter's watchdog */
	struct script *scripts; /* sorted by name */
	size_t n_scripts;
	const struct script *fallback; /* default.lua, or NULL */
	formatter *owner;              /* for print(): set once the state is in use */
};

struct formatter {
	char *dir;
	long long instructions, memory;
	struct lstate *st;
	struct watch watch;
	int watching;             /* the watchdog thread runs */
	formatter_faults *faults; /* per script, kept across reloads */
	size_t n_faults;
	formatter_print_fn print; /* where print() writes, or NULL: the debug log */
	void *print_arg;
	jsonw out; /* the text of the last result (formatter_format) */
};

/* Count one failure of script `name`: kind 0 error, 1 instruction, 2 memory, 3 time budget. */
static void fault_count(formatter *f, const char *name, int kind)
{
	size_t i = 0;

	while (i < f->n_faults && strcmp(f->faults[i].script, name) != 0)
		i++;
	if (i == f->n_faults) {
		formatter_faults *more = realloc(f->faults, (i + 1) * sizeof *more);
		if (!more)
			return;
		f->faults = more;
		memset(&more[i], 0, sizeof *more);
		snprintf(more[i].script, sizeof more[i].script, "%s", name);
		f->n_faults++;
	}
	f->faults[i].errors += kind == 0;
	f->faults[i].instructions += kind == 1;
	f->faults[i].memory += kind == 2;
	f->faults[i].time += kind == 3;
}

static int fault_kind(const struct lstate *s, int status)
{
	return s->over == OVER_TIME ? 3 : s->over ? 1 : status == LUA_ERRMEM ? 2 : 0;
}

const formatter_faults *formatter_faults_get(const formatter *f, size_t *n)
{
	*n = f->n_faults;
	return f->faults;
}

/* Addresses used as unique keys and values. */
static char null_sentinel;  /* herald.null */
static char sandbox_key;    /* registry: the template of every chunk's globals */
static char modules_key;    /* registry: compiled modules of lib/, by name */
static char loaded_key;     /* registry: values returned by modules already required */
static char loading_marker; /* loaded[name] while the module runs */

static int valid_name(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* "NAME.lua: msg", unless msg already starts with "NAME.lua:" (Lua's own position prefix). */
static void failure(char *err, size_t errlen, const char *name, const char *msg)
{
	size_t n = strlen(name);
	if (strncmp(msg, name, n) == 0 && strncmp(msg + n, ".lua:", 5) == 0)
		snprintf(err, errlen, "%s", msg);
	else
		snprintf(err, errlen, "%s.lua: %s", name, msg);
}

/* Describes the failure of a protected call that returned `status`, error object on top. */
static void call_failure(struct lstate *s, int status, const char *name, char *err, size_t errlen)
{
	char buf[64];
	const char *msg;

	if (s->over == OVER_TIME)
		msg = "time budget exceeded";
	else if (s->over)
		msg = "instruction budget exceeded";
	else if (status == LUA_ERRMEM)
		msg = "memory budget exceeded";
	else if (lua_type(s->L, -1) == LUA_TSTRING)
		msg = lua_tostring(s->L, -1);
	else {
		snprintf(buf, sizeof buf, "error object is a %s value", luaL_typename(s->L, -1));
		msg = buf;
	}
	failure(err, errlen, name, msg);
}

/* ---- Reading the scripts ---- */

static void sources_free(struct sources *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free(ss->v[i].text);
	free(ss->v);
}

static int source_cmp(const void *a, const void *b)
{
	return strcmp(((const struct source *)a)->name, ((const struct source *)b)->name);
}

/* Reads the whole regular file dir/file; 1 when read, 0 when not a regular file, -1 on error. */
static int read_file(const char *dir, const char *file, char **text, size_t *len)
{
	char path[4096];
	struct stat st;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (!(*text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *text + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return 1;
}

/*
 * Reads every NAME.lua of `dir` whose NAME is [a-z0-9_]{1,64} into *ss, sorted by name. A
 * missing directory is an error unless `optional`.
 */
static int sources_read(const char *dir, int optional, struct sources *ss, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		if (optional && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return HERALD_EIO;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct source *src;
		int r;

		if (len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0 ||
		    !valid_name(de->d_name, len - 4))
			continue;
		if (ss->n == ss->cap) {
			size_t cap = ss->cap ? ss->cap * 2 : 16;
			struct source *v = realloc(ss->v, cap * sizeof *v);
			if (!v) {
				closedir(d);
				snprintf(err, errlen, "out of memory");
				return HERALD_ENOMEM;
			}
			ss->v = v;
			ss->cap = cap;
		}
		src = &ss->v[ss->n];
		memcpy(src->name, de->d_name, len - 4);
		src->name[len - 4] = '\0';
		if ((r = read_file(dir, de->d_name, &src->text, &src->len)) < 0) {
			snprintf(err, errlen, "cannot read %s/%s: %s", dir, de->d_name,
			         strerror(errno));
			closedir(d);
			return HERALD_EIO;
		}
		if (r > 0)
			ss->n++;
	}
	closedir(d);
	if (ss->n)
		qsort(ss->v, ss->n, sizeof *ss->v, source_cmp);
	return 0;
}

/* ---- Budgets ---- */

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lstate *s = ud;
	size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
	void *p;

	if (nsize == 0) {
		free(ptr);
		s->used -= old;
		return NULL;
	}
	if (nsize > old && nsize - old > s->limit - s->used)
		return NULL; /* Lua collects garbage, retries, then raises LUA_ERRMEM */
	if (!(p = realloc(ptr, nsize)))
		return NULL;
	s->used = s->used - old + nsize;
	return p;
}

/*
 * The count hook. Once the budget is spent it re-arms itself to fire on every instruction, so a
 * pcall in the script that catches the error cannot run any further.
 */
static void budget_hook(lua_State *L, lua_Debug *ar)
{
	struct lstate *s = *(struct lstate **)lua_getextraspace(L);
	(void)ar;
	s->over = OVER_INSTRUCTIONS;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
	lua_pushliteral(L, "instruction budget exceeded");
	lua_error(L);
}

/* Armed by the watchdog's signal; sticky like budget_hook. */
static void time_hook(lua_State *L, lua_Debug *ar)
{
	struct lstate *s = *(struct lstate **)lua_getextraspace(L);
	(void)ar;
	s->over = OVER_TIME;
	lua_sethook(L, time_hook, LUA_MASKCOUNT, 1);
	lua_pushliteral(L, "time budget exceeded");
	lua_error(L);
}

static void budget_arm(struct lstate *s)
{
	s->over = OVER_NONE;
	s->work = 0;
	lua_sethook(s->L, budget_hook, LUA_MASKCOUNT, s->instructions);
}

/*
 * A library function about to do n steps of work in C, where the count hook does not fire: count
 * them against the instruction budget of the call, as if each were one instruction.
 */
static void budget_charge(lua_State *L, lua_Unsigned n)
{
	struct lstate *s = *(struct lstate **)lua_getextraspace(L);

	if (n > (lua_Unsigned)s->instructions - (lua_Unsigned)s->work) {
		s->over = OVER_INSTRUCTIONS;
		lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
		lua_pushliteral(L, "instruction budget exceeded");
		lua_error(L);
	}
	s->work += (lua_Integer)n;
}

/* ---- The wall-clock watchdog ---- */

/* The state running a call on this thread, for the signal handler. */
static _Thread_local struct lstate *volatile watch_running;

static void watch_signal(int sig)
{
	struct lstate *s = watch_running;
	int saved = errno;
	unsigned long seq;

	(void)sig;
	/* lua_sethook is documented as safe to call from a signal handler; this one runs on the
	 * thread that runs the call, so nothing races with the VM. */
	if (s && ((seq = atomic_load(&s->watch->seq)) & 1) && seq == atomic_load(&s->watch->target))
		lua_sethook(s->L, time_hook, LUA_MASKCOUNT, 1);
	errno = saved;
}

static void watch_install(void)
{
	struct sigaction sa = {.sa_handler = watch_signal, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(WATCH_SIGNAL, &sa, NULL);
}

/* Milliseconds of CPU time `clock` advanced since *since. */
static long cpu_ms_since(clockid_t clock, const struct timespec *since)
{
	struct timespec now;

	if (clock_gettime(clock, &now) != 0)
		return 0;
	return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	unsigned long last = 0;
	long waited = 0;
	clockid_t cpu = CLOCK_MONOTONIC;
	struct timespec cpu0 = {0};

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec at;
		unsigned long seq;

		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += w->period_ms % 1000 * 1000000;
		at.tv_sec += w->period_ms / 1000 + at.tv_nsec / 1000000000;
		at.tv_nsec %= 1000000000;
		if (pthread_cond_timedwait(&w->cv, &w->mu, &at) == 0 || w->stop)
			continue;
		seq = atomic_load(&w->seq);
		if (!(seq & 1) || seq != last) {
			/* A new call, or none: its CPU time is measured from here (it may have run
			 * up to a period before). CPU time, because a loaded machine slows a call
			 * down without it doing more, and no Lua call waits for anything. */
			last = seq;
			waited = 0;
			if (!(seq & 1) ||
			    pthread_getcpuclockid((pthread_t)atomic_load(&w->caller), &cpu) != 0 ||
			    clock_gettime(cpu, &cpu0) != 0) {
				cpu = CLOCK_MONOTONIC;
				clock_gettime(cpu, &cpu0);
			}
			continue;
		}
		waited += w->period_ms;
		if (atomic_load(&w->target) != seq && (cpu_ms_since(cpu, &cpu0) >= w->timeout_ms ||
		                                       waited >= WALL_FACTOR * w->timeout_ms)) {
			atomic_store(&w->target, seq);
			pthread_kill((pthread_t)atomic_load(&w->caller), WATCH_SIGNAL);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Starts the watchdog. The CPU time a call may take follows its budgets: 100 ms, plus 0.1 us per
 * instruction and 40 ns per byte of memory (0.87 s at the defaults). That is several times what
 * spending either budget takes, even under AddressSanitizer (about 20 ns per instruction and
 * 20 ns per byte allocated), so a call is stopped by time only when it runs long in C without
 * spending them.
 */
static int watch_start(struct watch *w, long long instructions, long long memory)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_condattr_t ca;
	int rc;

	pthread_once(&once, watch_install);
	w->timeout_ms = 100 + (long)(instructions / 10000) + (long)(memory / 25000);
	w->period_ms = w->timeout_ms / 4 > 0 ? w->timeout_ms / 4 : 1;
	atomic_init(&w->seq, 0);
	atomic_init(&w->target, 0);
	atomic_init(&w->caller, 0);
	if (pthread_condattr_init(&ca))
		return HERALD_ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return HERALD_ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		return HERALD_ENOMEM;
	}
	return 0;
}

static void watch_stop(struct watch *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* Arms both budgets for one protected call of s, which the caller makes right after. */
static void watch_begin(struct lstate *s)
{
	struct watch *w = s->watch;

	budget_arm(s);
	atomic_store_explicit(&w->caller, (unsigned long)pthread_self(), memory_order_relaxed);
	watch_running = s;
	/* Only this thread writes seq: a plain load and a release store, no locked instruction. */
	atomic_store_explicit(&w->seq, atomic_load_explicit(&w->seq, memory_order_relaxed) + 1,
	                      memory_order_release);
}

static void watch_end(struct lstate *s)
{
	struct watch *w = s->watch;

	atomic_store_explicit(&w->seq, atomic_load_explicit(&w->seq, memory_order_relaxed) + 1,
	                      memory_order_release);
	watch_running = NULL;
}

/* ---- The sandbox ---- */

/* Calls upvalue 1 (the wrapped function) with the arguments of the current call. */
static int call_wrapped(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/*
 * ---- Pattern matching ----
 *
 * string.find, match, gmatch and gsub with Lua 5.4's pattern syntax and results, written here
 * because Lua's own matcher backtracks in C without bound: on 8 KiB, ".-.-b" runs for minutes
 * and ".-.-.-b" for years, inside one C call that neither the count hook nor the watchdog can
 * stop. This one counts its steps (one per pattern item tried, per character scanned by a
 * repetition, %b or a back reference) against the instruction budget of the call.
 */

#define PAT_CAPTURES 32 /* LUA_MAXCAPTURES */
#define PAT_DEPTH 200   /* recursion, as Lua's MAXCCALLS */
#define PAT_CHARGE 4096 /* steps counted before they are charged */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

struct pat {
	lua_State *L;
	const char *src, *src_end, *p_end;
	int depth, level;
	lua_Unsigned steps;
	struct {
		const char *init;
		ptrdiff_t len;
	} cap[PAT_CAPTURES];
};

static void pat_step(struct pat *ms, lua_Unsigned n)
{
	if ((ms->steps += n) >= PAT_CHARGE) {
		lua_Unsigned steps = ms->steps;
		ms->steps = 0;
		budget_charge(ms->L, steps);
	}
}

static void pat_flush(struct pat *ms)
{
	lua_Unsigned steps = ms->steps;
	ms->steps = 0;
	budget_charge(ms->L, steps);
}

static void pat_init(struct pat *ms, lua_State *L, const char *s, size_t ls, const char *p,
                     size_t lp)
{
	ms->L = L;
	ms->src = s;
	ms->src_end = s + ls;
	ms->p_end = p + lp;
	ms->steps = 0;
}

static void pat_reset(struct pat *ms)
{
	ms->level = 0;
	ms->depth = PAT_DEPTH;
}

/* The end of the single-character class at p: ".", "%x", "[set]" or a character. */
static const char *pat_class_end(struct pat *ms, const char *p)
{
	switch (*p++) {
	case '%':
		if (p == ms->p_end)
			luaL_error(ms->L, "malformed pattern (ends with '%%')");
		return p + 1;
	case '[':
		if (*p == '^')
			p++;
		do { /* the first character, even ']', belongs to the set */
			if (p == ms->p_end)
				luaL_error(ms->L, "malformed pattern (missing ']')");
			if (*(p++) == '%' && p < ms->p_end)
				p++;
		} while (*p != ']');
		return p + 1;
	default:
		return p;
	}
}

static int pat_match_class(int c, int cl)
{
	int res;

	switch (tolower(cl)) {
	case 'a':
		res = isalpha(c);
		break;
	case 'c':
		res = iscntrl(c);
		break;
	case 'd':
		res = isdigit(c);
		break;
	case 'g':
		res = isgraph(c);
		break;
	case 'l':
		res = islower(c);
		break;
	case 'p':
		res = ispunct(c);
		break;
	case 's':
		res = isspace(c);
		break;
	case 'u':
		res = isupper(c);
		break;
	case 'w':
		res = isalnum(c);
		break;
	case 'x':
		res = isxdigit(c);
		break;
	case 'z':
		res = c == 0; /* deprecated in Lua, still there */
		break;
	default:
		return cl == c;
	}
	return isupper(cl) ? !res : res;
}

/* c against the set from p ('[') to ec (its ']'). */
static int pat_match_set(int c, const char *p, const char *ec)
{
	int in = 1;

	if (*(p + 1) == '^') {
		in = 0;
		p++;
	}
	while (++p < ec) {
		if (*p == '%') {
			p++;
			if (pat_match_class(c, (unsigned char)*p))
				return in;
		} else if (*(p + 1) == '-' && p + 2 < ec) {
			p += 2;
			if ((unsigned char)*(p - 2) <= c && c <= (unsigned char)*p)
				return in;
		} else if ((unsigned char)*p == c) {
			return in;
		}
	}
	return !in;
}

static int pat_single(struct pat *ms, const char *s, const char *p, const char *ep)
{
	int c;

	if (s >= ms->src_end)
		return 0;
	c = (unsigned char)*s;
	switch (*p) {
	case '.':
		return 1;
	case '%':
		return pat_match_class(c, (unsigned char)*(p + 1));
	case '[':
		return pat_match_set(c, p, ep - 1);
	default:
		return (unsigned char)*p == c;
	}
}

static const char *pat_match(struct pat *ms, const char *s, const char *p);

static const char *pat_balance(struct pat *ms, const char *s, const char *p)
{
	const char *from = s;
	int depth = 1;

	if (p >= ms->p_end - 1)
		luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= ms->src_end || *s != *p)
		return NULL;
	while (++s < ms->src_end) {
		if (*s == *(p + 1)) {
			if (--depth == 0) {
				pat_step(ms, (lua_Unsigned)(s - from));
				return s + 1;
			}
		} else if (*s == *p) {
			depth++;
		}
	}
	pat_step(ms, (lua_Unsigned)(s - from));
	return NULL;
}

static const char *pat_max_expand(struct pat *ms, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;

	while (pat_single(ms, s + i, p, ep))
		i++;
	pat_step(ms, (lua_Unsigned)i);
	for (; i >= 0; i--) {
		const char *res = pat_match(ms, s + i, ep + 1);
		if (res)
			return res;
	}
	return NULL;
}

static const char *pat_min_expand(struct pat *ms, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *res = pat_match(ms, s, ep + 1);
		if (res)
			return res;
		if (!pat_single(ms, s, p, ep))
			return NULL;
		s++;
	}
}

static const char *pat_open(struct pat *ms, const char *s, const char *p, ptrdiff_t what)
{
	const char *res;

	if (ms->level >= PAT_CAPTURES)
		luaL_error(ms->L, "too many captures");
	ms->cap[ms->level].init = s;
	ms->cap[ms->level].len = what;
	ms->level++;
	if (!(res = pat_match(ms, s, p)))
		ms->level--;
	return res;
}

static const char *pat_close(struct pat *ms, const char *s, const char *p)
{
	int l = ms->level - 1;
	const char *res;

	while (l >= 0 && ms->cap[l].len != CAP_UNFINISHED)
		l--;
	if (l < 0)
		luaL_error(ms->L, "invalid pattern capture");
	ms->cap[l].len = s - ms->cap[l].init;
	if (!(res = pat_match(ms, s, p)))
		ms->cap[l].len = CAP_UNFINISHED;
	return res;
}

static const char *pat_backref(struct pat *ms, const char *s, int l)
{
	size_t len;

	l -= '1';
	if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
		luaL_error(ms->L, "invalid capture index %%%d", l + 1);
	if (ms->cap[l].len == CAP_POSITION) /* as in Lua, it never matches */
		return NULL;
	len = (size_t)ms->cap[l].len;
	pat_step(ms, len);
	if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].init, s, len) == 0)
		return s + len;
	return NULL;
}

static const char *pat_match(struct pat *ms, const char *s, const char *p)
{
	const char *ep;

	if (ms->depth-- == 0)
		luaL_error(ms->L, "pattern too complex");
next:
	pat_step(ms, 1);
	if (p == ms->p_end)
		goto done;
	switch (*p) {
	case '(':
		if (*(p + 1) == ')')
			s = pat_open(ms, s, p + 2, CAP_POSITION);
		else
			s = pat_open(ms, s, p + 1, CAP_UNFINISHED);
		goto done;
	case ')':
		s = pat_close(ms, s, p + 1);
		goto done;
	case '$':
		if (p + 1 != ms->p_end)
			break;
		s = s == ms->src_end ? s : NULL;
		goto done;
	case '%':
		switch (*(p + 1)) {
		case 'b':
			if ((s = pat_balance(ms, s, p + 2))) {
				p += 4;
				goto next;
			}
			goto done;
		case 'f': {
			int prev;
			p += 2;
			if (*p != '[')
				luaL_error(ms->L, "missing '[' after '%%f' in pattern");
			ep = pat_class_end(ms, p);
			prev = s == ms->src ? 0 : (unsigned char)*(s - 1);
			/* *src_end is the string's terminating '\0', as in Lua */
			if (!pat_match_set(prev, p, ep - 1) &&
			    pat_match_set((unsigned char)*s, p, ep - 1)) {
				p = ep;
				goto next;
			}
			s = NULL;
			goto done;
		}
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			if ((s = pat_backref(ms, s, (unsigned char)*(p + 1)))) {
				p += 2;
				goto next;
			}
			goto done;
		}
		break;
	}
	ep = pat_class_end(ms, p);
	if (!pat_single(ms, s, p, ep)) {
		if (*ep == '*' || *ep == '?' || *ep == '-') {
			p = ep + 1;
			goto next;
		}
		s = NULL;
		goto done;
	}
	switch (*ep) {
	case '?': {
		const char *res = pat_match(ms, s + 1, ep + 1);
		if (res) {
			s = res;
			goto done;
		}
		p = ep + 1;
		goto next;
	}
	case '+':
		s = pat_max_expand(ms, s + 1, p, ep);
		goto done;
	case '*':
		s = pat_max_expand(ms, s, p, ep);
		goto done;
	case '-':
		s = pat_min_expand(ms, s, p, ep);
		goto done;
	default:
		s++;
		p = ep;
		goto next;
	}
done:
	ms->depth++;
	return s;
}

/* Capture i of the match s..e: its text in *cap and its length, or CAP_POSITION with the
 * position pushed. Without captures, capture 0 is the whole match. */
static ptrdiff_t pat_capture(struct pat *ms, int i, const char *s, const char *e, const char **cap)
{
	if (i >= ms->level) {
		if (i != 0)
			luaL_error(ms->L, "invalid capture index %%%d", i + 1);
		*cap = s;
		return e - s;
	}
	*cap = ms->cap[i].init;
	if (ms->cap[i].len == CAP_UNFINISHED)
		luaL_error(ms->L, "unfinished capture");
	if (ms->cap[i].len == CAP_POSITION)
		lua_pushinteger(ms->L, (ms->cap[i].init - ms->src) + 1);
	return ms->cap[i].len;
}

static void pat_push_capture(struct pat *ms, int i, const char *s, const char *e)
{
	const char *cap;
	ptrdiff_t len = pat_capture(ms, i, s, e, &cap);

	if (len != CAP_POSITION)
		lua_pushlstring(ms->L, cap, (size_t)len);
}

/* Pushes the captures (the whole match s..e when there are none and s is given). */
static int pat_push_captures(struct pat *ms, const char *s, const char *e)
{
	int n = ms->level == 0 && s ? 1 : ms->level;

	luaL_checkstack(ms->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		pat_push_capture(ms, i, s, e);
	return n;
}

/* Lua's posrelatI: a 1-based start position, negative from the end, clipped at 1. */
static size_t pat_start(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static const char *pat_subject(lua_State *L, const char *name, size_t *len)
{
	const char *s = luaL_checklstring(L, 1, len);

	if (*len > SUBJECT_MAX)
		luaL_error(L, "%s: subject longer than %d bytes", name, SUBJECT_MAX);
	return s;
}

static int pat_find_aux(lua_State *L, int find)
{
	size_t ls, lp;
	const char *s = pat_subject(L, find ? "string.find" : "string.match", &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = pat_start(luaL_optinteger(L, 3, 1), ls) - 1;
	struct pat ms;

	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	if (find &&
	    (lua_toboolean(L, 4) || (strpbrk(p, "^$*+?.([%-") == NULL && strlen(p) == lp))) {
		/* a plain search: linear, charged as such */
		const char *at = lp <= ls - init ? memmem(s + init, ls - init, p, lp) : NULL;
		budget_charge(L, ls - init);
		if (at) {
			lua_pushinteger(L, (at - s) + 1);
			lua_pushinteger(L, (lua_Integer)((size_t)(at - s) + lp));
			return 2;
		}
	} else {
		const char *s1 = s + init;
		int anchor = *p == '^';

		if (anchor) {
			p++;
			lp--;
		}
		pat_init(&ms, L, s, ls, p, lp);
		do {
			const char *e;
			pat_reset(&ms);
			if ((e = pat_match(&ms, s1, p))) {
				pat_flush(&ms);
				if (find) {
					lua_pushinteger(L, (s1 - s) + 1);
					lua_pushinteger(L, e - s);
					return pat_push_captures(&ms, NULL, 0) + 2;
				}
				return pat_push_captures(&ms, s1, e);
			}
		} while (s1++ < ms.src_end && !anchor);
		pat_flush(&ms);
	}
	luaL_pushfail(L);
	return 1;
}

static int pat_find(lua_State *L)
{
	return pat_find_aux(L, 1);
}

static int pat_match_fn(lua_State *L)
{
	return pat_find_aux(L, 0);
}

struct pat_iter {
	struct pat ms;
	const char *next, *p, *last;
};

static int pat_gmatch_next(lua_State *L)
{
	struct pat_iter *it = lua_touserdata(L, lua_upvalueindex(3));

	it->ms.L = L;
	for (const char *s = it->next; s <= it->ms.src_end; s++) {
		const char *e;
		pat_reset(&it->ms);
		if ((e = pat_match(&it->ms, s, it->p)) && e != it->last) {
			it->next = it->last = e;
			pat_flush(&it->ms);
			return pat_push_captures(&it->ms, s, e);
		}
	}
	pat_flush(&it->ms);
	return 0;
}

static int pat_gmatch(lua_State *L)
{
	size_t ls, lp;
	const char *s = pat_subject(L, "string.gmatch", &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = pat_start(luaL_optinteger(L, 3, 1), ls) - 1;
	struct pat_iter *it;

	lua_settop(L, 2); /* the closure keeps both strings */
	it = lua_newuserdatauv(L, sizeof *it, 0);
	if (init > ls)
		init = ls + 1;
	pat_init(&it->ms, L, s, ls, p, lp);
	it->next = s + init;
	it->p = p;
	it->last = NULL;
	lua_pushcclosure(L, pat_gmatch_next, 3);
	return 1;
}

/* Appends the replacement string (argument 3) for the match s..e, with its %0-%9 and %%. */
static void pat_add_string(struct pat *ms, luaL_Buffer *b, const char *s, const char *e)
{
	size_t l;
	const char *news = lua_tolstring(ms->L, 3, &l), *p;

	while ((p = memchr(news, '%', l))) {
		luaL_addlstring(b, news, (size_t)(p - news));
		p++;
		if (*p == '%') {
			luaL_addchar(b, *p);
		} else if (*p == '0') {
			luaL_addlstring(b, s, (size_t)(e - s));
		} else if (isdigit((unsigned char)*p)) {
			const char *cap;
			ptrdiff_t len = pat_capture(ms, *p - '1', s, e, &cap);
			if (len == CAP_POSITION)
				luaL_addvalue(b);
			else
				luaL_addlstring(b, cap, (size_t)len);
		} else {
			luaL_error(ms->L, "invalid use of '%%' in replacement string");
		}
		l -= (size_t)(p + 1 - news);
		news = p + 1;
	}
	luaL_addlstring(b, news, l);
}

/* Appends the replacement of the match s..e; 1 when it changed the text. */
static int pat_add_value(struct pat *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = ms->L;

	if (tr == LUA_TFUNCTION) {
		int n;
		lua_pushvalue(L, 3);
		n = pat_push_captures(ms, s, e);
		lua_call(L, n, 1);
	} else if (tr == LUA_TTABLE) {
		pat_push_capture(ms, 0, s, e);
		lua_gettable(L, 3);
	} else {
		pat_add_string(ms, b, s, e);
		return 1;
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return 0;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	luaL_addvalue(b);
	return 1;
}

static int pat_gsub(lua_State *L)
{
	size_t srcl, lp;
	const char *src = pat_subject(L, "string.gsub", &srcl);
	const char *p = luaL_checklstring(L, 2, &lp), *last = NULL;
	int tr = lua_type(L, 3), anchor = *p == '^', changed = 0;
	lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1), n = 0;
	struct pat ms;
	luaL_Buffer b;

	luaL_argexpected(
	    L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
	    "string/function/table");
	luaL_buffinit(L, &b);
	if (anchor) {
		p++;
		lp--;
	}
	pat_init(&ms, L, src, srcl, p, lp);
	while (n < max_s) {
		const char *e;
		pat_reset(&ms);
		if ((e = pat_match(&ms, src, p)) && e != last) {
			n++;
			changed = pat_add_value(&ms, &b, src, e, tr) | changed;
			src = last = e;
		} else if (src < ms.src_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	pat_flush(&ms);
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

/* string.rep loops in C once per copy, even for an empty string. */
static int guard_rep(lua_State *L)
{
	size_t len, seplen = 0;
	lua_Integer n;

	luaL_checklstring(L, 1, &len);
	n = luaL_checkinteger(L, 2);
	if (!lua_isnoneornil(L, 3))
		luaL_checklstring(L, 3, &seplen);
	if (n > 0 && (n > SUBJECT_MAX || len + seplen > (size_t)(SUBJECT_MAX / n)))
		return luaL_error(L, "string.rep: result longer than %d bytes", SUBJECT_MAX);
	return call_wrapped(L);
}

/*
 * The table functions below loop in C over a range the caller chooses (through its arguments or
 * a __len metamethod), and each element may call an __index or __newindex metamethod that is
 * itself a C function looping in turn (table.concat as __index of the table it concatenates
 * spins forever without one VM instruction or allocation). Each is charged the elements it
 * will visit before it starts: see budget_charge.
 */

/* Elements from i to j, 0 when empty. */
static lua_Unsigned range_size(lua_Integer i, lua_Integer j)
{
	return j < i ? 0 : (lua_Unsigned)j - (lua_Unsigned)i + 1;
}

/* The name of the guarded function, "table.concat". */
static const char *guard_name(lua_State *L)
{
	return lua_tostring(L, lua_upvalueindex(2));
}

/* Charges n elements, refusing more than ELEMS_MAX whatever the budget. */
static void charge_elements(lua_State *L, lua_Unsigned n)
{
	if (n > ELEMS_MAX)
		luaL_error(L, "%s: more than %d elements", guard_name(L), ELEMS_MAX);
	budget_charge(L, n);
}

/* #t, refused over ELEMS_MAX: __len may claim any length. */
static lua_Integer checked_len(lua_State *L)
{
	lua_Integer len;

	luaL_checktype(L, 1, LUA_TTABLE);
	if ((len = luaL_len(L, 1)) > ELEMS_MAX)
		luaL_error(L, "%s: table longer than %d elements", guard_name(L), ELEMS_MAX);
	return len;
}

/* table.insert(t, [pos,] v) and table.remove(t [, pos]) shift the elements from pos to #t. */
static int guard_shift(lua_State *L)
{
	int insert = strcmp(guard_name(L), "table.insert") == 0, n = lua_gettop(L);
	lua_Integer len = checked_len(L);

	if ((insert && n == 3) || (!insert && n >= 2 && !lua_isnil(L, 2)))
		charge_elements(L, range_size(luaL_checkinteger(L, 2), len));
	else
		budget_charge(L, 1);
	return call_wrapped(L);
}

static int guard_move(lua_State *L)
{
	charge_elements(L, range_size(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)));
	return call_wrapped(L);
}

/* table.concat(t [, sep [, i [, j]]]) and table.unpack(t [, i [, j]]): j defaults to #t, which
 * is taken once here and passed on, so a __len metamethod runs once as in plain Lua. */
static int guard_range(lua_State *L)
{
	int concat = strcmp(guard_name(L), "table.concat") == 0, first = concat ? 3 : 2;
	lua_Integer i;

	if (concat) {
		luaL_checktype(L, 1, LUA_TTABLE);
		luaL_optlstring(L, 2, "", NULL);
	}
	lua_settop(L, first + 1);
	i = luaL_optinteger(L, first, 1);
	if (lua_isnil(L, first + 1)) {
		lua_pushinteger(L, luaL_len(L, 1));
		lua_replace(L, first + 1);
	}
	charge_elements(L, range_size(i, luaL_checkinteger(L, first + 1)));
	return call_wrapped(L);
}

/* table.sort(t [, comp]): about n log2 n comparisons, each reading and writing elements. */
static int guard_sort(lua_State *L)
{
	lua_Integer n = checked_len(L);
	lua_Unsigned cost = (lua_Unsigned)n;

	for (lua_Integer m = n; m > 1; m >>= 1)
		cost += (lua_Unsigned)n;
	budget_charge(L, cost);
	return call_wrapped(L);
}

/* A finalizer would run Lua code at any time, outside the call that created it. */
static int guard_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not allowed");
		lua_pop(L, 1);
	}
	return call_wrapped(L);
}

/*
 * xpcall(f, msgh, ...) calls the handler once the stack has unwound. Lua's own xpcall runs it in
 * place, with hooks disabled when the error was raised by the count hook: a looping handler would
 * then escape the instruction budget. Without the debug library a handler cannot tell the
 * difference.
 */
static int sandbox_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_rotate(L, 2, -1);
	lua_insert(L, 1); /* msgh, f, args... */
	if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_insert(L, 2);
		return lua_gettop(L) - 1;
	}
	lua_pcall(L, 1, 1, 0);
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

/* Replaces lib[name] (at index lib) by guard, which calls the original. */
static void wrap(lua_State *L, int lib, const char *libname, const char *name, lua_CFunction guard)
{
	lua_getfield(L, lib, name);
	lua_pushfstring(L, "%s.%s", libname, name);
	lua_pushcclosure(L, guard, 2);
	lua_setfield(L, lib, name);
}

/* print() writes to the log at debug level, or to the formatter's print hook. */
static int sandbox_print(lua_State *L)
{
	struct lstate *s = *(struct lstate **)lua_getextraspace(L);
	formatter *f = s->owner;
	int n = lua_gettop(L);
	luaL_Buffer b;

	if ((!f || !f->print) && log_level < HERALD_LOG_DEBUG)
		return 0;
	luaL_where(L, 1);
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	if (f && f->print)
		f->print(f->print_arg, lua_tostring(L, n + 1), lua_tostring(L, -1));
	else
		LOG_DEBUG("lua: %s%s", lua_tostring(L, n + 1), lua_tostring(L, -1));
	return 0;
}

/*
 * require(name): runs lib/NAME.lua once per state and returns its value. A table comes back as
 * a shallow copy, so a script that changes what it was given changes only its own copy.
 */
static int sandbox_require(lua_State *L)
{
	size_t len;
	const char *name = luaL_checklstring(L, 1, &len);

	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &loaded_key); /* 2 */
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 2) == LUA_TNIL) { /* 3 */
		lua_pop(L, 1);
		lua_rawgetp(L, LUA_REGISTRYINDEX, &modules_key);
		lua_pushvalue(L, 1);
		if (!valid_name(name, len) || lua_rawget(L, -2) != LUA_TFUNCTION)
			return luaL_error(L, "require: no module '%s' (modules are lib/NAME.lua)",
			                  name);
		lua_replace(L, 3);
		lua_settop(L, 3);
		lua_pushvalue(L, 1);
		lua_pushlightuserdata(L, &loading_marker);
		lua_rawset(L, 2);
		if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
			lua_pushvalue(L, 1);
			lua_pushnil(L);
			lua_rawset(L, 2);
			return lua_error(L);
		}
		if (lua_isnil(L, 3)) {
			lua_pushboolean(L, 1);
			lua_replace(L, 3);
		}
		lua_pushvalue(L, 1);
		lua_pushvalue(L, 3);
		lua_rawset(L, 2);
	} else if (lua_touserdata(L, 3) == &loading_marker) {
		return luaL_error(L, "require: module '%s' requires itself", name);
	}
	if (lua_istable(L, 3)) {
		lua_newtable(L);
		lua_pushnil(L);
		while (lua_next(L, 3)) {
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_rawset(L, 4);
		}
	}
	return 1;
}

/*
 * Opens the allowed libraries, guards the functions that could run unbounded in C, and stores in
 * the registry the template from which every chunk gets its own globals.
 */
static void sandbox_build(lua_State *L)
{
	static const char *const base[] = {
	    "assert",   "error",    "getmetatable", "ipairs",   "next",   "pairs",
	    "pcall",    "rawequal", "rawget",       "rawlen",   "rawset", "select",
	    "tonumber", "tostring", "type",         "_VERSION", NULL,
	};
	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
	    {LUA_STRLIBNAME, luaopen_string},
	    {LUA_TABLIBNAME, luaopen_table},
	    {LUA_MATHLIBNAME, luaopen_math},
	    {LUA_UTF8LIBNAME, luaopen_utf8},
	};
	int sb, lib;

	luaL_requiref(L, LUA_GNAME, luaopen_base, 0); /* the real globals, never handed out */
	lua_newtable(L);
	sb = lua_gettop(L);
	for (int i = 0; base[i]; i++) {
		lua_getfield(L, sb - 1, base[i]);
		lua_setfield(L, sb, base[i]);
	}
	lua_getfield(L, sb - 1, "setmetatable");
	lua_pushliteral(L, "setmetatable");
	lua_pushcclosure(L, guard_setmetatable, 2);
	lua_setfield(L, sb, "setmetatable");
	lua_pushcfunction(L, sandbox_xpcall);
	lua_setfield(L, sb, "xpcall");
	lua_pushcfunction(L, sandbox_print);
	lua_setfield(L, sb, "print");
	lua_pushcfunction(L, sandbox_require);
	lua_setfield(L, sb, "require");
	lua_createtable(L, 0, 1);
	lua_pushlightuserdata(L, &null_sentinel);
	lua_setfield(L, -2, "null");
	lua_setfield(L, sb, "herald");

	for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 0);
		lua_setfield(L, sb, libs[i].name);
	}
	lua_getfield(L, sb, LUA_STRLIBNAME);
	lib = lua_gettop(L);
	lua_pushcfunction(L, pat_find);
	lua_setfield(L, lib, "find");
	lua_pushcfunction(L, pat_match_fn);
	lua_setfield(L, lib, "match");
	lua_pushcfunction(L, pat_gmatch);
	lua_setfield(L, lib, "gmatch");
	lua_pushcfunction(L, pat_gsub);
	lua_setfield(L, lib, "gsub");
	wrap(L, lib, "string", "rep", guard_rep);
	lua_pushnil(L);
	lua_setfield(L, lib, "dump");
	/* Method calls ("s:find()") reach this same table; hide it from getmetatable(""). */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 3);
	lua_getfield(L, sb, LUA_TABLIBNAME);
	lib = lua_gettop(L);
	wrap(L, lib, "table", "insert", guard_shift);
	wrap(L, lib, "table", "remove", guard_shift);
	wrap(L, lib, "table", "move", guard_move);
	wrap(L, lib, "table", "concat", guard_range);
	wrap(L, lib, "table", "unpack", guard_range);
	wrap(L, lib, "table", "sort", guard_sort);
	lua_pop(L, 1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_key);
	lua_pop(L, 1);
}

/*
 * Pushes new globals for one chunk: the template's entries, with its tables (string, math...)
 * copied, so that no script can change another's globals or the libraries they see.
 */
static void sandbox_env(lua_State *L)
{
	int env;

	lua_newtable(L);
	env = lua_gettop(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_key);
	lua_pushnil(L);
	while (lua_next(L, env + 1)) {
		if (lua_istable(L, -1)) {
			lua_newtable(L);
			lua_pushnil(L);
			while (lua_next(L, -3)) {
				lua_pushvalue(L, -2);
				lua_insert(L, -2);
				lua_rawset(L, -4);
			}
			lua_replace(L, -2);
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, env);
	}
	lua_pop(L, 1);
	lua_pushvalue(L, env);
	lua_setfield(L, env, "_G");
}

/* ---- Building a state ---- */

struct setup {
	struct lstate *s;
	const struct sources *scripts, *modules;
	char *err;
	size_t errlen;
	int failed;
};

/* Compiles one source as text (never bytecode) with its own globals; pushes the chunk. */
static int setup_load(lua_State *L, struct setup *su, const struct source *src, const char *prefix)
{
	char chunkname[NAME_MAX_LEN + 16], name[NAME_MAX_LEN + 8];
	int status;

	snprintf(name, sizeof name, "%s%s", prefix, src->name);
	snprintf(chunkname, sizeof chunkname, "=%s.lua", name);
	su->s->over = 0;
	if ((status = luaL_loadbufferx(L, src->text, src->len, chunkname, "t")) != LUA_OK) {
		call_failure(su->s, status, name, su->err, su->errlen);
		su->failed = 1;
		return -1;
	}
	sandbox_env(L);
	lua_setupvalue(L, -2, 1);
	return 0;
}

static int setup_protected(lua_State *L)
{
	struct setup *su = lua_touserdata(L, 1);
	struct lstate *s = su->s;

	sandbox_build(L);
	lua_newtable(L);
	for (size_t i = 0; i < su->modules->n; i++) {
		if (setup_load(L, su, &su->modules->v[i], "lib/"))
			return 0;
		lua_setfield(L, -2, su->modules->v[i].name);
	}
	lua_rawsetp(L, LUA_REGISTRYINDEX, &modules_key);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);

	for (size_t i = 0; i < su->scripts->n; i++) {
		const char *name = su->scripts->v[i].name;
		int status;

		if (setup_load(L, su, &su->scripts->v[i], ""))
			return 0;
		watch_begin(s);
		status = lua_pcall(L, 0, 1, 0);
		watch_end(s);
		if (status != LUA_OK) {
			call_failure(s, status, name, su->err, su->errlen);
			su->failed = 1;
			return 0;
		}
		if (!lua_isfunction(L, -1)) {
			char msg[96];
			snprintf(msg, sizeof msg, "must return a function, not %s",
			         luaL_typename(L, -1));
			failure(su->err, su->errlen, name, msg);
			su->failed = 1;
			return 0;
		}
		memcpy(s->scripts[i].name, name, sizeof s->scripts[i].name);
		s->scripts[i].ref = luaL_ref(L, LUA_REGISTRYINDEX);
		s->n_scripts = i + 1;
	}
	return 0;
}

static void lstate_free(struct lstate *s)
{
	if (!s)
		return;
	if (s->L)
		lua_close(s->L);
	free(s->scripts);
	free(s);
}

static int script_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct script *)elem)->name);
}

static const struct script *lstate_find(const struct lstate *s, const char *name)
{
	return bsearch(name, s->scripts, s->n_scripts, sizeof *s->scripts, script_cmp);
}

static int lstate_new(const char *dir, long long instructions, long long memory,
                      struct watch *watch, struct lstate **out, char *err, size_t errlen)
{
	struct sources scripts = {0}, modules = {0};
	struct setup su = {.scripts = &scripts, .modules = &modules, .err = err, .errlen = errlen};
	char libdir[4096];
	struct lstate *s;
	int rc = HERALD_ENOMEM, status;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		goto fail;
	s->limit = (size_t)memory;
	s->watch = watch;
	s->instructions = instructions > INT_MAX ? INT_MAX : (int)instructions;
	snprintf(libdir, sizeof libdir, "%s/lib", dir);
	if ((rc = sources_read(dir, 0, &scripts, err, errlen)) ||
	    (rc = sources_read(libdir, 1, &modules, err, errlen)))
		goto fail;
	rc = HERALD_ENOMEM;
	if (scripts.n && !(s->scripts = calloc(scripts.n, sizeof *s->scripts)))
		goto fail;
	rc = HERALD_ECONFIG;
	if (!(s->L = lua_newstate(budget_alloc, s))) {
		snprintf(err, errlen, "%s: the memory budget (%lld bytes) is too small", dir,
		         memory);
		goto fail;
	}
	*(struct lstate **)lua_getextraspace(s->L) = s;
	su.s = s;
	lua_pushcfunction(s->L, setup_protected);
	lua_pushlightuserdata(s->L, &su);
	if ((status = lua_pcall(s->L, 1, 0, 0)) != LUA_OK) {
		snprintf(err, errlen, "%s: cannot set up the scripts: %s", dir,
		         status == LUA_ERRMEM ? "memory budget exceeded" : lua_tostring(s->L, -1));
		goto fail;
	}
	if (su.failed)
		goto fail;
	s->fallback = lstate_find(s, "default");
	if (!scripts.n)
		LOG_WARN("no scripts in %s: every event will be dropped", dir);
	sources_free(&scripts);
	sources_free(&modules);
	*out = s;
	return 0;
fail:
	sources_free(&scripts);
	sources_free(&modules);
	lstate_free(s);
	return rc;
}

/* ---- Converting events and results ---- */

/*
 * Pushes the tape value at v as a Lua value; returns the value after it. A member of an object
 * whose value is null is left out, so a null reads as nil like an absent key (`if event.actor
 * then` and `event.actor.username` both behave as scripts expect); a null element of an array is
 * herald.null, which keeps the array's length and positions. Scripts write null with
 * herald.null.
 */
static const unsigned char *push_tape(lua_State *L, const unsigned char *v, int depth)
{
	const unsigned char *m;
	const char *s;
	size_t len;

	switch (jtape_type(v)) {
	case JT_OBJECT:
		if (depth >= DEPTH_MAX)
			luaL_error(L, "event nested deeper than %d levels", DEPTH_MAX);
		luaL_checkstack(L, 3, NULL);
		lua_createtable(L, 0, (int)jtape_count(v));
		m = jtape_first(v);
		for (uint32_t i = jtape_count(v); i > 0; i--) {
			s = jtape_key(m, &len);
			m = jtape_member_value(m);
			if (jtape_type(m) == JT_NULL) {
				m++;
				continue;
			}
			lua_pushlstring(L, s, len);
			m = push_tape(L, m, depth + 1);
			lua_rawset(L, -3);
		}
		return m;
	case JT_ARRAY:
		if (depth >= DEPTH_MAX)
			luaL_error(L, "event nested deeper than %d levels", DEPTH_MAX);
		luaL_checkstack(L, 2, NULL);
		lua_createtable(L, (int)jtape_count(v), 0);
		m = jtape_first(v);
		for (uint32_t i = 1, n = jtape_count(v); i <= n; i++) {
			m = push_tape(L, m, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i);
		}
		return m;
	case JT_STRING:
		s = jtape_str(v, &len);
		lua_pushlstring(L, s, len);
		break;
	case JT_INT:
		lua_pushinteger(L, jtape_int(v));
		break;
	case JT_REAL:
		lua_pushnumber(L, jtape_real(v));
		break;
	case JT_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JT_FALSE:
		lua_pushboolean(L, 0);
		break;
	default:
		lua_pushlightuserdata(L, &null_sentinel);
		break;
	}
	return jtape_next(v);
}

/*
 * Converting a script's result to JSON text, written straight into the formatter's buffer. The
 * only Lua calls that may raise are the pushes of a long string key and of the scratch userdata,
 * both on the memory budget: the call then fails as a memory overrun and nothing leaks. `path`
 * names the value being converted, for messages such as "data.items[2]: not valid UTF-8".
 */
struct conv {
	lua_State *L;
	jsonw *w;
	const char *script;
	char *err;
	size_t errlen;
	struct {
		const char *key; /* NULL: an integer key */
		size_t len;
		lua_Integer idx;
	} path[DEPTH_MAX + 1];
};

static int conv_fail(struct conv *cv, int depth, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conv_fail(struct conv *cv, int depth, const char *fmt, ...)
{
	char where[256], reason[128], msg[400];
	size_t n = 0;
	va_list ap;

	for (int i = 0; i <= depth && n < sizeof where; i++) {
		int w;
		if (cv->path[i].key)
			w = snprintf(where + n, sizeof where - n, "%s%.*s", i ? "." : "",
			             (int)cv->path[i].len, cv->path[i].key);
		else
			w = snprintf(where + n, sizeof where - n, "[%lld]",
			             (long long)cv->path[i].idx);
		n += (size_t)w;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof msg, "%s: %s", where, reason);
	failure(cv->err, cv->errlen, cv->script, msg);
	return -1;
}

/* 1 when the table at idx has exactly the keys 1..n with n >= 1 (*n set), else 0. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n)
{
	lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;

	if (len == 0)
		return 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_Integer k;
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 1 || k > len) {
			lua_pop(L, 1);
			return 0;
		}
		count++;
	}
	*n = len;
	return count == len;
}

/* A member of an object being converted: its key's text (a string key's own bytes, or the
 * integer key written in num). */
struct member {
	const char *key;
	size_t len;
	lua_Integer ikey;
	int is_int;
	int value; /* the stack index of its value (object_write), or 0 */
	char num[24];
};

/* Fills m from the key on top of the stack, a string or an integer (checked). */
static void member_key(lua_State *L, int key, struct member *m)
{
	if (lua_type(L, key) == LUA_TSTRING) {
		m->key = lua_tolstring(L, key, &m->len);
		m->is_int = 0;
	} else {
		m->ikey = lua_tointeger(L, key);
		m->len = (size_t)snprintf(m->num, sizeof m->num, "%lld", (long long)m->ikey);
		m->key = m->num;
		m->is_int = 1;
	}
}

static int key_invalid(struct conv *cv, int key, int depth)
{
	lua_State *L = cv->L;

	if (lua_type(L, key) == LUA_TSTRING || lua_isinteger(L, key))
		return 0;
	return conv_fail(cv, depth, "a key of type %s (keys must be strings or integers)",
	                 lua_isnumber(L, key) ? "float" : luaL_typename(L, key));
}

/* Lua iterates a table in hash order, which changes from one state to the next: members are
 * written with their keys sorted (bytewise, shorter first) so a notification's bytes do not
 * depend on the Lua state. */
static const char *member_text(const struct member *m)
{
	return m->is_int ? m->num : m->key; /* num moves with the member when it is sorted */
}

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = memcmp(member_text(x), member_text(y), x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int value_write(struct conv *cv, int idx, int depth);

/* Writes the members m[0..n) sorted; a member's value is at m->value, or looked up in the
 * table at idx. */
static int members_write(struct conv *cv, int idx, int depth, struct member *m, size_t n)
{
	lua_State *L = cv->L;

	jsonw_lit(cv->w, "{");
	for (size_t i = 0; i < n; i++) {
		int top = lua_gettop(L), value = m[i].value;
		if (i && member_cmp(&m[i - 1], &m[i]) == 0)
			return conv_fail(cv, depth,
			                 "an integer key and a string key have the same text");
		const char *key = member_text(&m[i]);
		if (!jsonw_utf8_valid(key, m[i].len))
			return conv_fail(cv, depth, "a key is not valid UTF-8");
		cv->path[depth + 1].key = key;
		cv->path[depth + 1].len = m[i].len;
		if (i)
			jsonw_lit(cv->w, ",");
		jsonw_string(cv->w, key, m[i].len);
		jsonw_lit(cv->w, ":");
		if (!value) {
			if (m[i].is_int) {
				lua_rawgeti(L, idx, m[i].ikey);
			} else {
				lua_pushlstring(L, m[i].key, m[i].len);
				lua_rawget(L, idx);
			}
			value = lua_gettop(L);
		}
		if (value_write(cv, value, depth + 1))
			return -1;
		lua_settop(L, top);
	}
	jsonw_lit(cv->w, "}");
	return 0;
}

/* Objects of more members than object_write keeps on the stack: the keys are collected in a
 * first walk, sorted, and the values looked up by key. */
static int object_write_large(struct conv *cv, int idx, int depth)
{
	lua_State *L = cv->L;
	struct member *m;
	size_t n = 0, i = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (key_invalid(cv, -1, depth))
			return -1;
		n++;
	}
	m = lua_newuserdatauv(L, n * sizeof *m, 0); /* freed by the collector */
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (i == n) /* cannot happen: no Lua code runs between the two walks */
			continue;
		member_key(L, -1, &m[i]);
		m[i++].value = 0;
	}
	qsort(m, i, sizeof *m, member_cmp);
	if (members_write(cv, idx, depth, m, i))
		return -1;
	lua_pop(L, 1);
	return 0;
}

#define OBJECT_SMALL 32 /* members object_write keeps on the stack */

/*
 * The usual object, of a few members: one walk leaves each key and its value on the stack (a
 * copy of the key goes on for lua_next), so the values are written from there, with no lookup,
 * after an insertion sort of the keys.
 */
static int object_write(struct conv *cv, int idx, int depth)
{
	lua_State *L = cv->L;
	struct member m[OBJECT_SMALL];
	int base = lua_gettop(L);
	size_t n = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (key_invalid(cv, -2, depth))
			return -1;
		if (n == OBJECT_SMALL || !lua_checkstack(L, 3)) {
			lua_settop(L, base);
			return object_write_large(cv, idx, depth);
		}
		member_key(L, -2, &m[n]);
		m[n].value = lua_gettop(L);
		for (size_t j = n; j > 0 && member_cmp(&m[j - 1], &m[j]) > 0; j--) {
			struct member t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
		n++;
		lua_pushvalue(L, -2);
	}
	if (members_write(cv, idx, depth, m, n))
		return -1;
	lua_settop(L, base);
	return 0;
}

static int table_write(struct conv *cv, int idx, int depth)
{
	lua_State *L = cv->L;
	lua_Integer n;

	if (depth >= DEPTH_MAX)
		return conv_fail(cv, depth, "nested deeper than %d levels", DEPTH_MAX);
	if (!lua_checkstack(L, 6))
		return conv_fail(cv, depth, "out of memory");
	if (!is_sequence(L, idx, &n))
		return object_write(cv, idx, depth);
	jsonw_lit(cv->w, "[");
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1)
			jsonw_lit(cv->w, ",");
		lua_rawgeti(L, idx, i);
		cv->path[depth + 1].key = NULL;
		cv->path[depth + 1].idx = i;
		if (value_write(cv, lua_gettop(L), depth + 1))
			return -1;
		lua_pop(L, 1);
	}
	jsonw_lit(cv->w, "]");
	return 0;
}

/* Writes the Lua value at idx as JSON; 0, or -1 with the error written (the stack above idx is
 * then left as it is: the caller's protected call unwinds it). */
static int value_write(struct conv *cv, int idx, int depth)
{
	lua_State *L = cv->L;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		if (!jsonw_utf8_valid(s, len))
			return conv_fail(cv, depth, "not valid UTF-8");
		jsonw_string(cv->w, s, len);
		return 0;
	}
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			jsonw_int(cv->w, lua_tointeger(L, idx));
		else if (isfinite(lua_tonumber(L, idx)))
			jsonw_real(cv->w, lua_tonumber(L, idx));
		else
			return conv_fail(cv, depth, "NaN and infinity have no JSON form");
		return 0;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			jsonw_lit(cv->w, "true");
		else
			jsonw_lit(cv->w, "false");
		return 0;
	case LUA_TTABLE:
		return table_write(cv, idx, depth);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == &null_sentinel) {
			jsonw_lit(cv->w, "null");
			return 0;
		}
		break;
	}
	return conv_fail(cv, depth, "a %s value has no JSON form", luaL_typename(L, idx));
}

struct call {
	const struct script *script;
	const event *ev;
	jsonw *w;
	formatted *out;
	int ok;
	char *err;
	size_t errlen;
};

/* Checks the shape of the result (on top) and writes it; sets c->out and c->ok, or writes
 * c->err. */
static void result_write(lua_State *L, struct call *c)
{
	static const char *const fields[] = {"title", "message", "data"};
	struct conv cv = {
	    .L = L, .w = c->w, .script = c->script->name, .err = c->err, .errlen = c->errlen};
	int res = lua_gettop(L);
	size_t ends[3];

	if (!lua_istable(L, res)) {
		char msg[64];
		snprintf(msg, sizeof msg, "must return a table, not %s", luaL_typename(L, res));
		failure(c->err, c->errlen, c->script->name, msg);
		return;
	}
	lua_getfield(L, res, "title");
	lua_getfield(L, res, "message");
	lua_getfield(L, res, "data");
	for (int i = 0; i < 3; i++) {
		int type = lua_type(L, res + 1 + i);
		cv.path[0].key = fields[i];
		cv.path[0].len = strlen(fields[i]);
		if (i < 2 && type != LUA_TSTRING) {
			conv_fail(&cv, 0, "must be a string, not %s", lua_typename(L, type));
			return;
		}
		if (i == 2 && type != LUA_TTABLE && type != LUA_TNIL) {
			conv_fail(&cv, 0, "must be a table, not %s", lua_typename(L, type));
			return;
		}
	}
	jsonw_reset(c->w);
	for (int i = 0; i < 3; i++) {
		cv.path[0].key = fields[i];
		cv.path[0].len = strlen(fields[i]);
		if (i == 2 && lua_isnil(L, res + 3))
			jsonw_lit(c->w, "{}");
		else if (value_write(&cv, res + 1 + i, 0))
			return;
		if (i == 2 && !c->w->oom && c->w->p[ends[1]] == '[') {
			conv_fail(&cv, 0, "must be an object, not an array");
			return;
		}
		ends[i] = c->w->len;
	}
	if (c->w->oom) {
		failure(c->err, c->errlen, c->script->name, "out of memory");
		jsonw_free(c->w);
		return;
	}
	c->out->title = c->w->p;
	c->out->title_len = ends[0];
	c->out->message = c->w->p + ends[0];
	c->out->message_len = ends[1] - ends[0];
	c->out->data = c->w->p + ends[1];
	c->out->data_len = ends[2] - ends[1];
	c->ok = 1;
}

static int call_protected(lua_State *L)
{
	struct call *c = lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->script->ref);
	push_tape(L, c->ev->root, 0);
	lua_call(L, 1, 1);
	result_write(L, c);
	return 0;
}

/* ---- The interface ---- */

/* Run fn(arg) in the sandbox within the budgets: 0, or HERALD_EFORMAT with "SCRIPT: reason" in
 * err, the failure counted, and the state ready for the next call. */
static int protected_call(formatter *f, lua_CFunction fn, void *arg, const char *script, char *err,
                          size_t errlen)
{
	struct lstate *s = f->st;
	int status;

	watch_begin(s);
	lua_pushcfunction(s->L, fn);
	lua_pushlightuserdata(s->L, arg);
	status = lua_pcall(s->L, 1, 0, 0);
	watch_end(s);
	if (status == LUA_OK)
		return 0;
	call_failure(s, status, script, err, errlen);
	fault_count(f, script, fault_kind(s, status));
	lua_pop(s->L, 1);
	if (status == LUA_ERRMEM)
		lua_gc(s->L, LUA_GCCOLLECT);
	return HERALD_EFORMAT;
}

int formatter_format(formatter *f, const event *ev, formatted *out, char *err, size_t errlen)
{
	struct lstate *s = f->st;
	struct call c = {.ev = ev, .w = &f->out, .out = out, .err = err, .errlen = errlen};

	/* authorize.lua answers subscription requests; it never formats an event. */
	if (strcmp(ev->type, AUTHORIZE) == 0 || !(c.script = lstate_find(s, ev->type)))
		c.script = s->fallback;
	if (!c.script) {
		snprintf(err, errlen, "%s.lua: no such script and no default.lua", ev->type);
		return HERALD_ENOTFOUND;
	}
	if (protected_call(f, call_protected, &c, c.script->name, err, errlen))
		return HERALD_EFORMAT;
	if (!c.ok) {
		fault_count(f, c.script->name, 0);
		return HERALD_EFORMAT;
	}
	return 0;
}

int formatter_run(formatter *f, const event *ev, json_t **out, char *err, size_t errlen)
{
	formatted r;
	jsonw w = JSONW_INIT;
	int rc;

	*out = NULL;
	if ((rc = formatter_format(f, ev, &r, err, errlen)))
		return rc;
	jsonw_lit(&w, "{\"title\":");
	jsonw_raw(&w, r.title, r.title_len);
	jsonw_lit(&w, ",\"message\":");
	jsonw_raw(&w, r.message, r.message_len);
	jsonw_lit(&w, ",\"data\":");
	jsonw_raw(&w, r.data, r.data_len);
	jsonw_lit(&w, "}");
	if (!w.oom)
		*out = json_loadb(w.p, w.len, JSON_ALLOW_NUL, NULL);
	jsonw_free(&w);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return HERALD_ENOMEM;
	}
	return 0;
}

struct authorize_call {
	const struct script *script;
	int64_t user, project;
	int allowed;
};

static int authorize_protected(lua_State *L)
{
	struct authorize_call *c = lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->script->ref);
	lua_pushinteger(L, (lua_Integer)c->user);
	lua_pushinteger(L, (lua_Integer)c->project);
	lua_call(L, 2, 1);
	/* Only `true` allows: a script that forgets to return refuses. */
	c->allowed = lua_isboolean(L, -1) && lua_toboolean(L, -1);
	return 0;
}

int formatter_authorize(formatter *f, int64_t user, int64_t project, char *err, size_t errlen)
{
	struct authorize_call c = {
	    .script = lstate_find(f->st, AUTHORIZE), .user = user, .project = project};

	if (!c.script) {
		snprintf(err, errlen, "%s.lua: no such script", AUTHORIZE);
		return HERALD_ENOTFOUND;
	}
	if (protected_call(f, authorize_protected, &c, c.script->name, err, errlen))
		return HERALD_EFORMAT;
	return c.allowed;
}

int formatter_has(const formatter *f, const char *name)
{
	return lstate_find(f->st, name) != NULL;
}

int formatter_create(const char *dir, long long instructions, long long memory, formatter **out,
                     char *err, size_t errlen)
{
	formatter *f;
	int rc = HERALD_ENOMEM;

	*out = NULL;
	if (instructions <= 0 || memory <= 0) {
		snprintf(err, errlen, "the Lua instruction and memory budgets must be positive");
		return HERALD_ECONFIG;
	}
	if (!(f = calloc(1, sizeof *f)) || !(f->dir = strdup(dir))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	f->instructions = instructions;
	f->memory = memory;
	if (watch_start(&f->watch, instructions, memory)) {
		snprintf(err, errlen, "cannot start the Lua watchdog thread");
		goto fail;
	}
	f->watching = 1;
	if ((rc = lstate_new(dir, instructions, memory, &f->watch, &f->st, err, errlen)))
		goto fail;
	f->st->owner = f;
	*out = f;
	return 0;
fail:
	formatter_destroy(f);
	return rc;
}

int formatter_reload(formatter *f, char *err, size_t errlen)
{
	struct lstate *s;
	int rc = lstate_new(f->dir, f->instructions, f->memory, &f->watch, &s, err, errlen);

	if (rc)
		return rc;
	lstate_free(f->st);
	f->st = s;
	s->owner = f;
	return 0;
}

void formatter_set_print(formatter *f, formatter_print_fn fn, void *arg)
{
	f->print = fn;
	f->print_arg = arg;
}

void formatter_destroy(formatter *f)
{
	if (!f)
		return;
	lstate_free(f->st);
	if (f->watching)
		watch_stop(&f->watch);
	jsonw_free(&f->out);
	free(f->faults);
	free(f->dir);
	free(f);
}
