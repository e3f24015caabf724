// Unit tests of core/web/herald-client.js with Node's test runner, a fake WebSocket and a fake
// clock: the reconnect schedule, the error events, tokens, subscriptions and resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createHeraldClient, DEFAULT_BACKOFF } from '../../core/web/herald-client.js';

const BASE_URL = 'ws://hub.example:8000/ws/notifications/';
const LOST = 'Unable to reconnect to server. Please refresh the page.';

// Lets pending promise callbacks (the client awaits getToken()) run to completion.
const settle = () => new Promise((resolve) => setImmediate(resolve));

// Timers that run only when the test advances time.
class FakeClock {
	now = 0;
	#timers = new Map();
	#nextId = 1;

	setTimeout = (fn, ms) => {
		const id = this.#nextId++;
		this.#timers.set(id, { at: this.now + ms, fn });
		return id;
	};

	clearTimeout = (id) => {
		this.#timers.delete(id);
	};

	// The delays, from now, of the timers still pending.
	pending() {
		return [...this.#timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
	}

	async advance(ms) {
		const target = this.now + ms;
		for (;;) {
			let next = null;
			for (const [id, t] of this.#timers)
				if (t.at <= target && (next === null || t.at < next[1].at))
					next = [id, t];
			if (next === null)
				break;
			this.#timers.delete(next[0]);
			this.now = next[1].at;
			next[1].fn();
			await settle();
		}
		this.now = target;
	}
}

// A WebSocket whose life the test drives: open(), fail(), drop(), receive().
function fakeWebSocketClass() {
	const sockets = [];
	class FakeWebSocket {
		readyState = 0;
		sent = [];
		closedWith = null;
		onopen = null;
		onmessage = null;
		onclose = null;
		onerror = null;

		constructor(url) {
			this.url = url;
			sockets.push(this);
		}

		send(data) {
			assert.equal(this.readyState, 1, 'send() on a socket that is not open');
			this.sent.push(JSON.parse(data));
		}

		close(code) {
			this.closedWith = code;
			this.readyState = 3;
		}

		open() {
			this.readyState = 1;
			this.onopen?.({});
		}

		// The handshake or the TCP connection failed (browsers fire error, then close 1006).
		fail() {
			this.readyState = 3;
			this.onerror?.({});
			this.onclose?.({ code: 1006, reason: '', wasClean: false });
		}

		// An open connection ends (the network, or the hub closing it).
		drop(code = 1006) {
			this.readyState = 3;
			this.onclose?.({ code, reason: '', wasClean: code !== 1006 });
		}

		receive(message) {
			this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
		}
	}
	return { FakeWebSocket, sockets };
}

// A client over fakes, recording every event it emits and every token it hands out.
function setup(extra = {}) {
	const clock = new FakeClock();
	const { FakeWebSocket, sockets } = fakeWebSocketClass();
	const tokens = [];
	const client = createHeraldClient({
		url: BASE_URL,
		getToken: () => {
			const token = `tok.${tokens.length + 1}/+=`;
			tokens.push(token);
			return token;
		},
		WebSocket: FakeWebSocket,
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
		...extra,
	});
	const events = [];
	for (const type of ['open', 'close', 'state', 'error', 'notification_received', 'resume_failed'])
		client.on(type, (data) => events.push({ type, data }));
	const last = () => sockets[sockets.length - 1];
	const of = (type) => events.filter((e) => e.type === type).map((e) => e.data);
	return { clock, sockets, tokens, client, events, last, of };
}

async function connected(extra) {
	const env = setup(extra);
	env.client.connect();
	await settle();
	env.last().open();
	return env;
}

const query = (url) => new URL(url).searchParams;

test('connect() asks for a token and opens the endpoint with it, without since', async () => {
	const { client, sockets, tokens, last, of } = setup();
	assert.equal(client.isConnected(), false);
	client.connect();
	await settle();
	assert.equal(sockets.length, 1);
	assert.equal(tokens.length, 1);
	assert.equal(last().url, `${BASE_URL}?token=${encodeURIComponent(tokens[0])}`);
	assert.equal(query(last().url).get('token'), tokens[0]);
	assert.equal(query(last().url).has('since'), false);
	assert.equal(client.isConnected(), false, 'not connected while the handshake is under way');
	last().open();
	assert.equal(client.isConnected(), true);
	assert.equal(of('open').length, 1);
	assert.deepEqual(of('state').map((s) => s.state), ['connecting', 'open']);
	client.connect(); // already connected: nothing happens
	await settle();
	assert.equal(sockets.length, 1);
});

test('a url with a query string gets the token appended with &', async () => {
	const { client, last } = setup({ url: `${BASE_URL}?client=demo` });
	client.connect();
	await settle();
	assert.equal(query(last().url).get('client'), 'demo');
	assert.equal(query(last().url).get('token'), 'tok.1/+=');
});

test('reconnects after 1, 2, 4, 8, 16 s, then gives up with connection_lost', async () => {
	const { client, clock, sockets, tokens, last, of } = await connected();
	last().drop();
	assert.equal(client.isConnected(), false);
	assert.deepEqual(of('close').map((c) => c.code), [1006]);
	assert.deepEqual(of('error'), [], 'losing an open connection is not a connection_error');

	const schedule = [];
	for (let attempt = 1; attempt <= 5; attempt++) {
		const [delay] = clock.pending();
		assert.deepEqual(clock.pending(), [delay], 'exactly one reconnect pending');
		schedule.push(delay);
		const before = sockets.length;
		await clock.advance(delay - 1);
		assert.equal(sockets.length, before, `attempt ${attempt} started early`);
		await clock.advance(1);
		assert.equal(sockets.length, before + 1, `attempt ${attempt} did not start on time`);
		assert.equal(tokens.length, before + 1, 'a fresh token for every attempt');
		assert.equal(query(last().url).get('token'), tokens[tokens.length - 1]);
		last().fail();
		assert.equal(of('error').filter((e) => e.type === 'connection_error').length, attempt,
			'one connection_error per failed attempt');
	}
	assert.deepEqual(schedule, [1000, 2000, 4000, 8000, 16000]);
	assert.deepEqual(schedule, DEFAULT_BACKOFF);

	const errors = of('error');
	assert.deepEqual(errors.slice(0, 5).map((e) => e.type), Array(5).fill('connection_error'));
	assert.equal(errors[0].message, 'WebSocket connection failed');
	assert.deepEqual(errors[5], { type: 'connection_lost', message: LOST });
	assert.equal(errors.length, 6);
	assert.deepEqual(clock.pending(), [], 'no further try is scheduled');
	const count = sockets.length;
	await clock.advance(3600 * 1000);
	assert.equal(sockets.length, count, 'no attempt after connection_lost');

	const states = of('state');
	assert.deepEqual(states.filter((s) => s.state === 'reconnecting').map((s) => [s.attempt, s.delay]),
		[[1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 16000]]);
	assert.equal(states.at(-1).state, 'lost');
	assert.equal(states.at(-1).maxAttempts, 5);
});

test('a first connect that fails retries 5 times too, with connection_error each time', async () => {
	const { client, clock, sockets, tokens, last, of } = setup();
	client.connect();
	await settle();
	last().fail();
	for (const delay of [1000, 2000, 4000, 8000, 16000]) {
		assert.deepEqual(clock.pending(), [delay]);
		await clock.advance(delay);
		last().fail();
	}
	assert.equal(sockets.length, 6);
	assert.equal(tokens.length, 6);
	assert.deepEqual(of('error').map((e) => e.type),
		[...Array(6).fill('connection_error'), 'connection_lost']);
	assert.deepEqual(clock.pending(), []);

	// connect() after giving up starts over, with a full set of tries.
	client.connect();
	await settle();
	assert.equal(sockets.length, 7);
	last().fail();
	assert.deepEqual(clock.pending(), [1000]);
});

test('an open connection resets the schedule', async () => {
	const { clock, last } = await connected();
	last().drop();
	await clock.advance(1000);
	last().fail();
	assert.deepEqual(clock.pending(), [2000]);
	await clock.advance(2000);
	last().open();
	last().drop();
	assert.deepEqual(clock.pending(), [1000]);
});

test('getToken may return a promise, and a failing getToken is a failed attempt', async () => {
	const { FakeWebSocket, sockets } = fakeWebSocketClass();
	const clock = new FakeClock();
	const answers = [Promise.reject(new Error('refresh failed')), Promise.resolve(''), 'x.y.z'];
	let calls = 0;
	const client = createHeraldClient({
		url: BASE_URL,
		getToken: () => answers[calls++],
		WebSocket: FakeWebSocket,
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
	});
	const errors = [];
	client.on('error', (e) => errors.push(e));
	client.connect();
	await settle();
	assert.equal(sockets.length, 0, 'no socket without a token');
	assert.equal(errors.length, 1);
	assert.equal(errors[0].type, 'connection_error');
	assert.equal(errors[0].cause.message, 'refresh failed');
	await clock.advance(1000);
	assert.equal(sockets.length, 0, 'an empty token is no token');
	assert.equal(errors.length, 2);
	await clock.advance(2000);
	assert.equal(calls, 3);
	assert.equal(sockets.length, 1);
	assert.equal(query(sockets[0].url).get('token'), 'x.y.z');
	sockets[0].open();
	assert.equal(client.isConnected(), true);
});

test('subscriptions are sent when connected and re-sent after a reconnect', async () => {
	const { client, clock, last } = setup();
	client.subscribe(2); // before connect(): remembered, sent on open
	client.connect();
	await settle();
	last().open();
	assert.deepEqual(last().sent, [{ type: 'subscribe_project', project_id: 2 }]);
	client.subscribe(3);
	client.subscribe(4);
	client.unsubscribe(4);
	assert.deepEqual(last().sent.slice(1), [
		{ type: 'subscribe_project', project_id: 3 },
		{ type: 'subscribe_project', project_id: 4 },
		{ type: 'unsubscribe_project', project_id: 4 },
	]);
	last().drop();
	client.subscribe(5); // while waiting to reconnect: no socket to send on, remembered
	client.unsubscribe(2);
	await clock.advance(1000);
	assert.deepEqual(last().sent, [], 'nothing is sent before the socket opens');
	last().open();
	assert.deepEqual(last().sent, [
		{ type: 'subscribe_project', project_id: 3 },
		{ type: 'subscribe_project', project_id: 5 },
	]);
});

test('no since before a position was seen; after one, since on the URL and re-subscriptions',
	async () => {
		const { client, clock, last } = setup();
		client.subscribe(2);
		client.connect();
		await settle();
		last().open();
		last().receive({ type: 'notification_received', title: 'No position' });
		last().receive({ type: 'notification_received', title: 'Bad position', pos: 17 });
		last().receive({ type: 'error', message: 'x', code: 'unknown_type', pos: 'not-a-notif' });
		last().drop();
		await clock.advance(1000);
		assert.equal(query(last().url).has('since'), false, 'no position seen yet');
		last().open();
		assert.deepEqual(last().sent, [{ type: 'subscribe_project', project_id: 2 }]);

		const pos = 'e9f/1729780200000-3 &x=y';
		last().receive({ type: 'notification_received', title: 'A', pos: 'e9f/1729780200000-2' });
		last().receive({ type: 'notification_received', title: 'B', pos });
		client.subscribe(8); // a new subscription while connected wants only what comes next
		assert.deepEqual(last().sent.at(-1), { type: 'subscribe_project', project_id: 8 });
		last().drop();
		await clock.advance(1000);
		assert.ok(last().url.endsWith(`&since=${encodeURIComponent(pos)}`), last().url);
		assert.equal(query(last().url).get('since'), pos);
		last().open();
		assert.deepEqual(last().sent, [
			{ type: 'subscribe_project', project_id: 2, since: pos },
			{ type: 'subscribe_project', project_id: 8, since: pos },
		]);

		// disconnect() forgets the position: the next connect() is a fresh one.
		client.disconnect();
		client.connect();
		await settle();
		assert.equal(query(last().url).has('since'), false);
		last().open();
		assert.deepEqual(last().sent.map((m) => 'since' in m), [false, false]);
	});

test('the position survives giving up, so a later connect() still resumes', async () => {
	const { client, clock, last } = await connected({ backoff: [10] });
	last().receive({ type: 'notification_received', pos: 'p-1' });
	last().drop();
	await clock.advance(10);
	last().fail();
	client.connect();
	await settle();
	assert.equal(query(last().url).get('since'), 'p-1');
});

test('messages are emitted by type; on() and off() manage listeners', async (t) => {
	const { client, last } = await connected();
	const seen = [];
	const a = (m) => seen.push(['a', m.title]);
	const b = (m) => seen.push(['b', m.title]);
	client.on('notification_received', a);
	client.on('notification_received', b);
	client.on('notification_received', a); // the same function twice is one listener
	const notification = {
		type: 'notification_received', title: 'Milestone Created', message: "Milestone 'S' has been created",
		event_type: 'milestone_created', project_id: 2, data: { id: 42 },
	};
	last().receive(notification);
	assert.deepEqual(seen, [['a', 'Milestone Created'], ['b', 'Milestone Created']]);
	client.off('notification_received', a);
	client.off('notification_received', () => {}); // not registered: harmless
	client.off('never_registered', a);
	last().receive({ ...notification, title: 'Second' });
	assert.deepEqual(seen.slice(2), [['b', 'Second']]);

	const got = [];
	client.on('milestone_changed', (m) => got.push(m));
	last().receive({ type: 'milestone_changed', project_id: 2 });
	last().receive('not json');
	last().receive('[1,2]');
	last().receive('{"no":"type"}');
	assert.deepEqual(got, [{ type: 'milestone_changed', project_id: 2 }]);

	// A listener that throws is reported and does not keep the others from running.
	const report = t.mock.method(console, 'error', () => {});
	client.on('ping_me', () => {
		throw new Error('listener bug');
	});
	const after = [];
	client.on('ping_me', (m) => after.push(m.n));
	last().receive({ type: 'ping_me', n: 1 });
	assert.deepEqual(after, [1]);
	assert.equal(report.mock.callCount(), 1);
	assert.equal(report.mock.calls[0].arguments[0].message, 'listener bug');
});

test('server error messages arrive as error events of type error', async () => {
	const { last, of } = await connected();
	const message = { type: 'error', message: 'project_id must be a positive integer', code: 'bad_project_id' };
	last().receive(message);
	assert.deepEqual(of('error'), [message]);
});

test('resume_failed from the hub is emitted for the app to refetch', async () => {
	const { last, of, client } = await connected();
	const answer = { type: 'resume_failed', room: 'project_2', reason: 'expired' };
	last().receive(answer);
	last().receive({ type: 'resume_failed', room: 'user_7', reason: 'reset' });
	assert.deepEqual(of('resume_failed'), [answer, { type: 'resume_failed', room: 'user_7', reason: 'reset' }]);
	assert.equal(client.isConnected(), true, 'the connection stays open');
});

test('isConnected() follows the socket', async () => {
	const { client, clock, last } = await connected();
	assert.equal(client.isConnected(), true);
	last().readyState = 2; // closing: the close event has not arrived yet
	assert.equal(client.isConnected(), false);
	last().readyState = 1;
	last().drop();
	assert.equal(client.isConnected(), false);
	await clock.advance(1000);
	assert.equal(client.isConnected(), false);
	last().open();
	assert.equal(client.isConnected(), true);
	client.disconnect();
	assert.equal(client.isConnected(), false);
});

test('disconnect() closes with 1000 and stops every pending try', async () => {
	const { client, clock, sockets, last, of } = await connected();
	const first = last();
	client.disconnect();
	assert.equal(first.closedWith, 1000);
	assert.deepEqual(of('close'), [{ code: 1000, reason: '', wasClean: true }]);
	assert.equal(of('state').at(-1).state, 'disconnected');
	first.onclose?.({ code: 1000, reason: '', wasClean: true }); // the browser's late close event
	assert.deepEqual(clock.pending(), [], 'no reconnect after disconnect()');

	// While waiting to reconnect.
	client.connect();
	await settle();
	last().fail();
	assert.deepEqual(clock.pending(), [1000]);
	client.disconnect();
	assert.deepEqual(clock.pending(), []);
	await clock.advance(60000);

	// While getToken() is still pending.
	let release;
	const { FakeWebSocket, sockets: slow } = fakeWebSocketClass();
	const c2 = createHeraldClient({
		url: BASE_URL,
		getToken: () => new Promise((resolve) => (release = resolve)),
		WebSocket: FakeWebSocket,
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
	});
	c2.connect();
	await settle();
	c2.disconnect();
	release('late');
	await settle();
	assert.equal(slow.length, 0, 'a token that arrives after disconnect() opens nothing');
	assert.equal(sockets.length, 2);
});

test('the backoff option replaces the schedule; bad options are refused', async () => {
	const { clock, last, sockets, of } = await connected({ backoff: [50, 70] });
	last().drop();
	assert.deepEqual(clock.pending(), [50]);
	await clock.advance(50);
	last().fail();
	assert.deepEqual(clock.pending(), [70]);
	await clock.advance(70);
	last().fail();
	assert.deepEqual(clock.pending(), []);
	assert.equal(sockets.length, 3);
	assert.equal(of('error').at(-1).type, 'connection_lost');

	assert.throws(() => createHeraldClient({ getToken: () => 't' }), TypeError);
	assert.throws(() => createHeraldClient({ url: BASE_URL }), TypeError);
	assert.throws(() => createHeraldClient({ url: BASE_URL, getToken: () => 't', backoff: [1, -1] }), TypeError);
	assert.throws(() => createHeraldClient({ url: BASE_URL, getToken: () => 't', backoff: ['1s'] }), TypeError);
});

test('a WebSocket constructor that throws is a failed attempt', async () => {
	const clock = new FakeClock();
	let tries = 0;
	const client = createHeraldClient({
		url: 'nonsense',
		getToken: () => 't',
		WebSocket: class {
			constructor() {
				tries++;
				throw new SyntaxError('bad url');
			}
		},
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
		backoff: [5],
	});
	const errors = [];
	client.on('error', (e) => errors.push(e));
	client.connect();
	await settle();
	await clock.advance(5);
	assert.equal(tries, 2);
	assert.deepEqual(errors.map((e) => e.type), ['connection_error', 'connection_error', 'connection_lost']);
	assert.equal(errors[0].cause.name, 'SyntaxError');
});
