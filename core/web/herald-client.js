/*
 * herald-client.js - the browser client of Herald's notifications API, as an ES module with no
 * dependencies. It behaves as the wsService of the API reference: connect, disconnect, on, off,
 * subscribe, unsubscribe, isConnected; reconnects after 1, 2, 4, 8 and 16 s, then gives up with
 * an `error` event of type `connection_lost`. On top of that it asks getToken() for a fresh token
 * before every (re)connect, re-sends its subscriptions after a reconnect, and resumes from the
 * last stream position it saw so that nothing sent while it was away is missed.
 *
 * Types: herald-client.d.ts beside this file. Usage: README.md of core/web in Herald's sources.
 */

/** Delays before reconnect attempts 1..5, in milliseconds (the reference's 1, 2, 4, 8, 16 s). */
export const DEFAULT_BACKOFF = Object.freeze([1000, 2000, 4000, 8000, 16000]);

const CONNECTION_ERROR = 'WebSocket connection failed';
const CONNECTION_LOST = 'Unable to reconnect to server. Please refresh the page.';
const WS_OPEN = 1; /* WebSocket.OPEN */

export function createHeraldClient(options) {
	const { url, getToken } = options || {};
	if (typeof url !== 'string' || url === '')
		throw new TypeError('createHeraldClient: `url` must be a non-empty string');
	if (typeof getToken !== 'function')
		throw new TypeError('createHeraldClient: `getToken` must be a function');
	const backoff = options.backoff === undefined ? DEFAULT_BACKOFF : [...options.backoff];
	if (!backoff.every((d) => Number.isFinite(d) && d >= 0))
		throw new TypeError('createHeraldClient: `backoff` must list delays in milliseconds');
	const WebSocketImpl = options.WebSocket || globalThis.WebSocket;
	const setTimer = options.setTimeout || globalThis.setTimeout.bind(globalThis);
	const clearTimer = options.clearTimeout || globalThis.clearTimeout.bind(globalThis);

	const listeners = new Map(); /* event type -> Set of functions */
	const projects = new Set();  /* project ids to (re-)subscribe on every connect */
	let wanted = false;  /* between connect() and disconnect() or giving up */
	let socket = null;   /* the current WebSocket, connecting or open */
	let opened = false;  /* whether `socket` reached the open state */
	let timer = null;    /* the pending reconnect */
	let retries = 0;     /* reconnect attempts since the last open connection */
	let attempt = 0;     /* the number of the attempt under way: 0 first, 1..n reconnects */
	let generation = 0;  /* bumped by disconnect(), so a getToken() still pending is ignored */
	let lastPos = null;  /* the last stream position seen, for resume */

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

	function subscribeMessage(projectId, since) {
		const message = { type: 'subscribe_project', project_id: projectId };
		if (since !== null)
			message.since = since;
		return message;
	}

	function socketUrl(token) {
		let u = url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
		if (lastPos !== null)
			u += '&since=' + encodeURIComponent(lastPos);
		return u;
	}

	async function open() {
		const gen = generation;
		setState('connecting');
		let token;
		try {
			token = await getToken();
			if (typeof token !== 'string' || token === '')
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
			ws = new WebSocketImpl(socketUrl(token));
		} catch (err) {
			failed(err);
			return;
		}
		socket = ws;
		opened = false;
		ws.onopen = () => {
			if (ws !== socket)
				return;
			opened = true;
			retries = 0;
			/* Re-subscriptions resume from where the previous connection stopped. */
			for (const id of projects)
				send(subscribeMessage(id, lastPos));
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
			if (!opened) {
				failed(null);
				return;
			}
			emit('close', { code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
			retry();
		};
	}

	/* An attempt that did not reach the open state. */
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

	function receive(raw) {
		let message;
		try {
			message = JSON.parse(raw);
		} catch {
			return; /* the hub sends JSON only; anything else is not ours to interpret */
		}
		if (message === null || typeof message !== 'object' || typeof message.type !== 'string')
			return;
		if (message.type === 'notification_received' && typeof message.pos === 'string')
			lastPos = message.pos;
		emit(message.type, message);
	}

	function isConnected() {
		return socket !== null && opened && socket.readyState === WS_OPEN;
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
			open();
		},

		/** Close the connection, stop reconnecting, and forget the stream position. */
		disconnect() {
			const wasOpen = socket !== null && opened;
			wanted = false;
			generation++;
			if (timer !== null) {
				clearTimer(timer);
				timer = null;
			}
			if (socket !== null) {
				const ws = socket;
				socket = null;
				ws.close(1000);
			}
			lastPos = null;
			attempt = 0;
			if (wasOpen)
				emit('close', { code: 1000, reason: '', wasClean: true });
			setState('disconnected');
		},

		on(type, fn) {
			if (!listeners.has(type))
				listeners.set(type, new Set());
			listeners.get(type).add(fn);
		},

		off(type, fn) {
			const set = listeners.get(type);
			if (set && set.delete(fn) && set.size === 0)
				listeners.delete(type);
		},

		/** Join room project_{projectId}, now if connected, and again after every reconnect. */
		subscribe(projectId) {
			projects.add(projectId);
			if (isConnected())
				send(subscribeMessage(projectId, null));
		},

		unsubscribe(projectId) {
			projects.delete(projectId);
			if (isConnected())
				send({ type: 'unsubscribe_project', project_id: projectId });
		},

		isConnected,
	};
}
