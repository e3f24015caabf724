/*
 * herald-client.js - the browser client of Herald's notifications API, as an ES module with no
 * dependencies. It behaves as the wsService of the API reference: connect, disconnect, on, off,
 * subscribe, unsubscribe, isConnected; reconnects after 1, 2, 4, 8 and 16 s, then gives up with
 * an `error` event of type `connection_lost`. On top of that it asks getToken() for a fresh token
 * before every (re)connect and before the current one expires, tells a refused token from a
 * network failure, re-sends its subscriptions after a reconnect, and resumes every room from the
 * last position it saw in that room, so that nothing sent while it was away is missed or repeated.
 *
 * Types: herald-client.d.ts beside this file. Usage: clients/js/README.md in Herald's sources.
 * Herald serves this file at /herald-client.js.
 */

/** Delays before reconnect attempts 1..5, in milliseconds (the reference's 1, 2, 4, 8, 16 s). */
export const DEFAULT_BACKOFF = Object.freeze([1000, 2000, 4000, 8000, 16000]);

/** How long before its `exp` a token is replaced on the open connection, in milliseconds. */
export const DEFAULT_REFRESH_BEFORE = 60000;

const CONNECTION_ERROR = 'WebSocket connection failed';
const CONNECTION_LOST = 'Unable to reconnect to server. Please refresh the page.';
const AUTH_FAILED = 'The server refused the token';
const WS_OPEN = 1; /* WebSocket.OPEN */
const MAX_TIMER = 0x7fffffff; /* setTimeout's longest delay */
const RETRY_REFRESH = 5000; /* when getToken() gave the same token again, ask again this much later */
const PROBE_TIMEOUT = 5000; /* for the plain HTTP request that tells a refused token */

/* Events the client emits itself: a notification's event_type never shadows one of them. */
const OWN_EVENTS = new Set(['open', 'close', 'state', 'error', 'auth_failed', 'resume_failed',
	'notification_received']);

/* <thing>_created, _updated, _deleted (and _added, _removed) are also emitted as <thing>_changed. */
const CHANGE = /^(.+)_(created|updated|deleted|added|removed)$/;

/** A project id as the hub wants it: a positive integer; numeric strings ("2") are accepted. */
export function toProjectId(id) {
	const n = typeof id === 'string' && /^\s*[1-9][0-9]*\s*$/.test(id) ? Number(id) : id;
	if (!Number.isSafeInteger(n) || n < 1)
		throw new TypeError(`not a project id: ${JSON.stringify(id)}`);
	return n;
}

/* The `exp` claim of a JWT in milliseconds, or null. The token is not verified: only the hub can. */
function tokenExpiry(token) {
	try {
		const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		const bytes = Uint8Array.from(atob(part + '='.repeat((4 - (part.length % 4)) % 4)),
			(c) => c.charCodeAt(0));
		const { exp } = JSON.parse(new TextDecoder().decode(bytes));
		return Number.isFinite(exp) ? exp * 1000 : null;
	} catch {
		return null;
	}
}

export function createHeraldClient(options) {
	const { url, getToken } = options || {};
	if (typeof url !== 'string' || url === '')
		throw new TypeError('createHeraldClient: `url` must be a non-empty string');
	if (typeof getToken !== 'function')
		throw new TypeError('createHeraldClient: `getToken` must be a function');
	const backoff = options.backoff === undefined ? DEFAULT_BACKOFF : [...options.backoff];
	if (!backoff.every((d) => Number.isFinite(d) && d >= 0))
		throw new TypeError('createHeraldClient: `backoff` must list delays in milliseconds');
	const refreshBefore = options.refreshBefore === undefined ? DEFAULT_REFRESH_BEFORE
		: options.refreshBefore;
	if (refreshBefore !== null && !(Number.isFinite(refreshBefore) && refreshBefore >= 0))
		throw new TypeError('createHeraldClient: `refreshBefore` must be milliseconds or null');
	const WebSocketImpl = options.WebSocket || globalThis.WebSocket;
	const fetchImpl = options.fetch === undefined ? globalThis.fetch : options.fetch;
	const setTimer = options.setTimeout || globalThis.setTimeout.bind(globalThis);
	const clearTimer = options.clearTimeout || globalThis.clearTimeout.bind(globalThis);
	const now = options.now || Date.now;

	const listeners = new Map(); /* event type -> Set of functions */
	const projects = new Set();  /* project ids to (re-)subscribe on every connect */
	let wanted = false;  /* between connect() and disconnect() or giving up */
	let socket = null;   /* the current WebSocket, connecting or open */
	let opened = false;  /* whether `socket` reached the open state */
	let timer = null;    /* the pending reconnect */
	let retries = 0;     /* reconnect attempts since the last open connection */
	let attempt = 0;     /* the number of the attempt under way: 0 first, 1..n reconnects */
	let generation = 0;  /* bumped by disconnect(), so a getToken() still pending is ignored */
	let token = null;    /* the token of the current socket */
	let nextToken = null; /* a token already fetched for the next attempt */
	let authFailed = false; /* auth_failed emitted since the last open connection */
	let refreshTimer = null;
	let refreshAt = 0;

	/*
	 * Resume. The hub replays each room on its own: the user room right after the handshake
	 * (`since` in the URL), each project room right after its subscribe_project (`since` in the
	 * message). So each room resumes from the last position seen in that room; a connection cut
	 * anywhere (between or during replays, during re-subscription, live) loses and repeats
	 * nothing. A room with no position of its own yet starts from a floor: the last position
	 * received before the connection it is sent on, which is never later than anything the room
	 * could have missed (see clients/js/README.md, "Resume").
	 */
	let userPos = null;            /* position in the user room, or its floor */
	const projectPos = new Map();  /* project id -> position (or floor); null: sent, none yet */
	let lastPos = null;            /* the last position received, in any room */
	let roomless = false;          /* the hub sent a position without `room` (older hubs) */

	function emit(type, data) {
		const set = listeners.get(type);
		if (!set)
			return;
		for (const fn of [...set]) {
			try {
				fn(data);
			} catch (err) {
				/* One failing listener must not starve the others nor break the client. */
				(globalThis.reportError || console.error)(err);
			}
		}
	}

	function setState(state, extra) {
		emit('state', { state, attempt, maxAttempts: backoff.length, ...extra });
	}

	function send(message) {
		socket.send(JSON.stringify(message));
	}

	/* The position to resume a room from: its own, else the floor, recorded as its own. */
	function userSince() {
		if (roomless)
			return lastPos;
		if (userPos === null)
			userPos = lastPos;
		return userPos;
	}

	/* For the re-subscriptions sent when a connection opens. */
	function projectSince(id) {
		const pos = projectPos.get(id);
		if (pos === undefined) {
			/* Never sent on any connection: it asks for nothing old. */
			projectPos.set(id, null);
			return null;
		}
		if (roomless)
			return lastPos;
		if (pos === null)
			projectPos.set(id, lastPos);
		return projectPos.get(id);
	}

	function subscribeMessage(id, since) {
		const message = { type: 'subscribe_project', project_id: id };
		if (since !== null)
			message.since = since;
		return message;
	}

	function withToken(base, tok) {
		return base + (base.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(tok);
	}

	function socketUrl(tok) {
		const since = userSince();
		return withToken(url, tok) + (since === null ? '' : '&since=' + encodeURIComponent(since));
	}

	/*
	 * After an attempt that did not open: ask the same endpoint over plain HTTP with the same
	 * token. The hub answers 403 to a refused token (and never upgrades a plain GET); anything
	 * else, or no answer at all, is taken for a network failure.
	 */
	async function refused(tok) {
		if (typeof fetchImpl !== 'function')
			return false;
		const abort = new AbortController();
		let timeout = null;
		try {
			const res = await Promise.race([
				fetchImpl(withToken(url.replace(/^ws/i, 'http'), tok),
					{ cache: 'no-store', credentials: 'omit', signal: abort.signal }),
				new Promise((resolve) => {
					timeout = setTimer(() => resolve(null), PROBE_TIMEOUT);
				}),
			]);
			return res !== null && res.status === 403;
		} catch {
			return false;
		} finally {
			clearTimer(timeout);
			abort.abort();
		}
	}

	async function open() {
		const gen = generation;
		setState('connecting');
		let tok = nextToken;
		nextToken = null;
		try {
			if (tok === null)
				tok = await getToken();
			if (typeof tok !== 'string' || tok === '')
				throw new Error('getToken() gave no token');
		} catch (err) {
			if (gen === generation)
				failed(err);
			return;
		}
		if (gen !== generation)
			return;
		let ws;
		try {
			ws = new WebSocketImpl(socketUrl(tok));
		} catch (err) {
			failed(err);
			return;
		}
		socket = ws;
		token = tok;
		opened = false;
		ws.onopen = () => {
			if (ws !== socket)
				return;
			opened = true;
			retries = 0;
			authFailed = false;
			/* Re-subscriptions resume each room from where it stopped. */
			for (const id of projects)
				send(subscribeMessage(id, projectSince(id)));
			scheduleRefresh();
			setState('open');
			emit('open', {});
		};
		ws.onmessage = (ev) => {
			if (ws === socket)
				receive(ev.data);
		};
		ws.onclose = (ev) => {
			if (ws !== socket)
				return;
			socket = null;
			stopRefresh();
			if (!opened) {
				notOpened(tok, gen);
				return;
			}
			emit('close', { code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
			retry();
		};
	}

	async function notOpened(tok, gen) {
		const isRefused = await refused(tok);
		if (gen !== generation)
			return;
		if (!isRefused) {
			failed(null);
			return;
		}
		if (!authFailed) {
			authFailed = true;
			const data = { type: 'auth_failed', message: AUTH_FAILED };
			emit('auth_failed', data);
			emit('error', data);
		}
		let fresh = null;
		try {
			fresh = await getToken();
		} catch {
			/* no new token: the same as the old one */
		}
		if (gen !== generation)
			return;
		if (typeof fresh !== 'string' || fresh === '' || fresh === tok) {
			/* Retrying with a token the hub refused cannot succeed: stop here. */
			wanted = false;
			setState('unauthorized');
			return;
		}
		nextToken = fresh;
		retry();
	}

	/* An attempt that did not reach the open state, for another reason than the token. */
	function failed(cause) {
		const data = { type: 'connection_error', message: CONNECTION_ERROR };
		if (cause)
			data.cause = cause;
		emit('error', data);
		retry();
	}

	function retry() {
		if (retries >= backoff.length) {
			wanted = false;
			nextToken = null;
			setState('lost');
			emit('error', { type: 'connection_lost', message: CONNECTION_LOST });
			return;
		}
		const delay = backoff[retries++];
		attempt = retries;
		setState('reconnecting', { delay });
		timer = setTimer(() => {
			timer = null;
			open();
		}, delay);
	}

	/* Token refresh: before the token's exp, send the hub a newer one on the open connection. */
	function scheduleRefresh() {
		stopRefresh();
		const exp = refreshBefore === null ? null : tokenExpiry(token);
		if (exp === null)
			return;
		refreshAt = exp - refreshBefore;
		refreshTimer = setTimer(refresh, Math.min(Math.max(0, refreshAt - now()), MAX_TIMER));
	}

	function stopRefresh() {
		if (refreshTimer !== null) {
			clearTimer(refreshTimer);
			refreshTimer = null;
		}
	}

	async function refresh() {
		refreshTimer = null;
		const ws = socket;
		if (!isConnected())
			return;
		if (now() < refreshAt) { /* a delay longer than a timer can wait */
			scheduleRefresh();
			return;
		}
		let fresh = null;
		try {
			fresh = await getToken();
		} catch (err) {
			(globalThis.reportError || console.error)(err);
		}
		if (ws !== socket || !isConnected())
			return;
		if (typeof fresh === 'string' && fresh !== '' && fresh !== token) {
			send({ type: 'refresh_token', token: fresh });
			token = fresh;
			scheduleRefresh();
		} else if (now() < (tokenExpiry(token) ?? 0)) {
			/* No newer token yet: ask again shortly, until the old one expires (then the hub
			 * closes with 4001 and the reconnect fetches a token anyway). */
			refreshTimer = setTimer(refresh, RETRY_REFRESH);
		}
	}

	function receive(raw) {
		let message;
		try {
			message = JSON.parse(raw);
		} catch {
			return; /* the hub sends JSON only; anything else is not ours to interpret */
		}
		if (message === null || typeof message !== 'object' || typeof message.type !== 'string')
			return;
		if (message.type === 'notification_received') {
			notification(message);
			return;
		}
		emit(message.type, message);
	}

	function notification(n) {
		if (typeof n.pos === 'string') {
			lastPos = n.pos;
			const room = typeof n.room === 'string' ? n.room : '';
			if (room.startsWith('user_')) {
				userPos = n.pos;
			} else if (room.startsWith('project_')) {
				const id = Number(room.slice(8));
				if (projects.has(id))
					projectPos.set(id, n.pos);
			} else {
				roomless = true;
			}
		}
		emit('notification_received', n);
		if (typeof n.event_type === 'string' && !OWN_EVENTS.has(n.event_type)) {
			emit(n.event_type, n);
			const change = CHANGE.exec(n.event_type);
			if (change && !OWN_EVENTS.has(`${change[1]}_changed`))
				emit(`${change[1]}_changed`, n);
		}
	}

	function isConnected() {
		return socket !== null && opened && socket.readyState === WS_OPEN;
	}

	function off(type, fn) {
		const set = listeners.get(type);
		if (set && set.delete(fn) && set.size === 0)
			listeners.delete(type);
	}

	/* Plain functions, not methods: apps destructure them (const { on, off } = client). */
	return {
		/** Open the connection (no-op while connecting, connected or waiting to reconnect). */
		connect() {
			if (wanted)
				return;
			wanted = true;
			retries = 0;
			attempt = 0;
			authFailed = false;
			open();
		},

		/** Close the connection, stop reconnecting, and forget the stream positions. */
		disconnect() {
			const wasOpen = socket !== null && opened;
			wanted = false;
			generation++;
			if (timer !== null) {
				clearTimer(timer);
				timer = null;
			}
			stopRefresh();
			if (socket !== null) {
				const ws = socket;
				socket = null;
				ws.close(1000);
			}
			userPos = lastPos = nextToken = null;
			projectPos.clear();
			roomless = false;
			attempt = 0;
			if (wasOpen)
				emit('close', { code: 1000, reason: '', wasClean: true });
			setState('disconnected');
		},

		/** Add a listener; returns the function that removes it. */
		on(type, fn) {
			if (!listeners.has(type))
				listeners.set(type, new Set());
			listeners.get(type).add(fn);
			return () => off(type, fn);
		},

		off,

		/** Join room project_{projectId}, now if connected, and again after every reconnect. */
		subscribe(projectId) {
			const id = toProjectId(projectId);
			if (projects.has(id))
				return;
			projects.add(id);
			projectPos.delete(id);
			if (isConnected()) {
				/* A new subscription wants only what comes next. */
				projectPos.set(id, null);
				send(subscribeMessage(id, null));
			}
		},

		unsubscribe(projectId) {
			const id = toProjectId(projectId);
			projects.delete(id);
			projectPos.delete(id);
			if (isConnected())
				send({ type: 'unsubscribe_project', project_id: id });
		},

		isConnected,
	};
}
