// Unit tests of herald-client.js with Node's test runner, a fake WebSocket and a fake
// clock: the reconnect schedule, the events, tokens and their refresh, refused tokens,
// subscriptions and resume (one position per room).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createHeraldClient, DEFAULT_BACKOFF } from '../herald-client.js';
import { FakeClock, fakeWebSocketClass, settle } from '../../../test/lib/fakes.mjs';

const BASE_URL = 'ws://hub.example:8000/ws/notifications/';
const LOST = 'Unable to reconnect to server. Please refresh the page.';

// A client over fakes, recording every event it emits and every token it hands out.
function setup(extra = {}) {
	const clock = new FakeClock();
	const { FakeWebSocket, sockets } = fakeWebSocketClass();
	const tokens = [];
	// The hub's answer to the plain GET the client makes after a failed attempt.
	const http = { status: 426, probes: [] };
	const client = createHeraldClient({
		url: BASE_URL,
		getToken: () => {
			const token = `tok.${tokens.length + 1}/+=`;
			tokens.push(token);
			return token;
		},
		WebSocket: FakeWebSocket,
		fetch: async (url, init) => {
			http.probes.push({ url, init });
			if (http.status instanceof Error)
				throw http.status;
			return http.status === 'hang' ? new Promise(() => {}) : { status: http.status };
		},
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
		now: () => clock.now,
		...extra,
	});
	const events = [];
	for (const type of ['open', 'close', 'state', 'error', 'notification_received', 'resume_failed',
		'auth_failed'])
		client.on(type, (data) => events.push({ type, data }));
	const last = () => sockets[sockets.length - 1];
	const of = (type) => events.filter((e) => e.type === type).map((e) => e.data);
	return { clock, sockets, tokens, client, events, last, of, http };
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
		await last().fail();
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
	await last().fail();
	for (const delay of [1000, 2000, 4000, 8000, 16000]) {
		assert.deepEqual(clock.pending(), [delay]);
		await clock.advance(delay);
		await last().fail();
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
	await last().fail();
	assert.deepEqual(clock.pending(), [1000]);
});

test('an open connection resets the schedule', async () => {
	const { clock, last } = await connected();
	last().drop();
	await clock.advance(1000);
	await last().fail();
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

test('from a hub that sends no room: one position for all rooms (older hubs)',
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
	await last().fail();
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
	await last().fail();
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
	await last().fail();
	assert.deepEqual(clock.pending(), [70]);
	await clock.advance(70);
	await last().fail();
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

// ------------------------------------------------------------------ events, listeners, ids

test('on() returns a function that removes the listener', async () => {
	const { client, last } = await connected();
	const seen = [];
	const stop = client.on('notification_received', (n) => seen.push(n.title));
	last().receive({ type: 'notification_received', title: 'one' });
	stop();
	stop(); // twice is harmless
	last().receive({ type: 'notification_received', title: 'two' });
	assert.deepEqual(seen, ['one']);
});

test('a notification is also emitted under its event_type and as <thing>_changed', async () => {
	const { client, last } = await connected();
	const seen = [];
	for (const type of ['milestone_created', 'milestone_changed', 'team_member_changed',
		'project_changed', 'digest', 'error', 'open'])
		client.on(type, (n) => seen.push([type, n.event_type]));
	const n = (event_type) => ({ type: 'notification_received', event_type, project_id: 2, data: {} });
	for (const type of ['milestone_created', 'milestone_updated', 'milestone_deleted',
		'team_member_added', 'team_member_removed', 'project_updated', 'digest', 'error', 'open'])
		last().receive(n(type));
	assert.deepEqual(seen, [
		['milestone_created', 'milestone_created'], ['milestone_changed', 'milestone_created'],
		['milestone_changed', 'milestone_updated'], ['milestone_changed', 'milestone_deleted'],
		['team_member_changed', 'team_member_added'], ['team_member_changed', 'team_member_removed'],
		['project_changed', 'project_updated'], ['digest', 'digest'],
		// an event_type that is one of the client's own events is not emitted under it
	]);
	// The seed's ProjectDetail handler receives the notification itself.
	let got = null;
	client.on('milestone_changed', (data) => (got = data));
	last().receive({ ...n('milestone_updated'), data: { id: 42 } });
	assert.equal(got.project_id, 2);
	assert.deepEqual(got.data, { id: 42 });
});

test('project ids may be numeric strings; anything else is refused', async () => {
	const { client, last } = await connected();
	client.subscribe('2');
	client.subscribe(2); // the same project
	client.subscribe(' 3 ');
	client.unsubscribe('3');
	assert.deepEqual(last().sent, [
		{ type: 'subscribe_project', project_id: 2 },
		{ type: 'subscribe_project', project_id: 3 },
		{ type: 'unsubscribe_project', project_id: 3 },
	]);
	for (const bad of ['abc', '', '0', '02', '1.5', 0, -1, 1.5, null, undefined, {}, 2 ** 53])
		assert.throws(() => client.subscribe(bad), TypeError, String(bad));
	assert.equal(last().sent.length, 3);
});

// ------------------------------------------------------------------ auth failures

test('a refused token: auth_failed once, a new token asked for, and no retry when it is the same',
	async () => {
		const { client, clock, sockets, last, of, http } = setup({ getToken: () => 'bad.token' });
		http.status = 403;
		client.connect();
		await settle();
		await last().fail();
		assert.equal(http.probes.length, 1);
		assert.equal(http.probes[0].url,
			'http://hub.example:8000/ws/notifications/?token=bad.token', 'same endpoint, same token');
		const failure = { type: 'auth_failed', message: 'The server refused the token' };
		assert.deepEqual(of('auth_failed'), [failure]);
		assert.deepEqual(of('error'), [failure], 'on error too, and no connection_error');
		assert.equal(of('state').at(-1).state, 'unauthorized');
		assert.deepEqual(clock.pending(), [], 'no retry');
		await clock.advance(60000);
		assert.equal(sockets.length, 1);
		assert.equal(client.isConnected(), false);

		// connect() tries again (the app may have signed in meanwhile).
		client.connect();
		await settle();
		assert.equal(sockets.length, 2);
	});

test('a refused token that getToken() replaces is retried on schedule with the new one', async () => {
	const given = ['old.token', 'new.token'];
	const { client, clock, sockets, last, of, http } = setup({ getToken: () => given.shift() });
	http.status = 403;
	client.connect();
	await settle();
	await last().fail();
	assert.equal(of('auth_failed').length, 1);
	assert.deepEqual(clock.pending(), [1000]);
	await clock.advance(1000);
	assert.equal(sockets.length, 2);
	assert.equal(query(last().url).get('token'), 'new.token', 'the token fetched after the 403');
	last().open();
	assert.equal(client.isConnected(), true);
	assert.deepEqual(of('error').map((e) => e.type), ['auth_failed']);
});

test('tokens that keep being refused: one auth_failed, then connection_lost after five tries',
	async () => {
		const { client, clock, sockets, last, of, http } = setup();
		http.status = 403;
		client.connect();
		await settle();
		await last().fail();
		for (const delay of DEFAULT_BACKOFF) {
			await clock.advance(delay);
			await last().fail();
		}
		assert.equal(sockets.length, 6);
		assert.deepEqual(of('error').map((e) => e.type), ['auth_failed', 'connection_lost']);
		assert.equal(of('state').at(-1).state, 'lost');
	});

test('a probe that is not a 403, fails or hangs is a network failure', async () => {
	for (const status of [426, 503, new TypeError('Failed to fetch'), 'hang']) {
		const { client, clock, last, of, http } = setup({ url: 'wss://hub.example/ws/notifications/' });
		http.status = status;
		client.connect();
		await settle();
		await last().fail();
		if (status === 'hang') {
			assert.deepEqual(of('error'), [], 'waits for the answer');
			await clock.advance(5000);
		}
		assert.equal(http.probes[0].url, 'https://hub.example/ws/notifications/?token=tok.1%2F%2B%3D');
		assert.deepEqual(of('error').map((e) => e.type), ['connection_error'], String(status));
		assert.deepEqual(of('auth_failed'), []);
		assert.deepEqual(clock.pending(), [1000]);
	}
});

test('a 403 after an open connection was lost starts a new auth_failed streak', async () => {
	const given = ['a', 'b', 'b'];
	const { client, clock, last, of, http } = setup({ getToken: () => given.shift() });
	client.connect();
	await settle();
	last().open();
	last().drop(4001); // the token expired
	http.status = 403;
	await clock.advance(1000);
	assert.equal(query(last().url).get('token'), 'b');
	await last().fail();
	assert.equal(of('auth_failed').length, 1);
	assert.equal(of('state').at(-1).state, 'unauthorized');
	assert.equal(client.isConnected(), false);
});

// ------------------------------------------------------------------ token refresh

function fakeJwt(exp, n = 0) {
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ user_id: 7, exp, n, name: 'Zoë' })}.sig`;
}

test('before the token expires, a newer one from getToken() is sent as refresh_token', async () => {
	let n = 0;
	// Tokens valid for 900 s from the fake clock's now.
	const { clock, last, client } = setup({
		getToken: () => fakeJwt(Math.floor(clock.now / 1000) + 900, n++),
	});
	client.connect();
	await settle();
	last().open();
	const first = query(last().url).get('token');
	await clock.advance(840000 - 1);
	assert.deepEqual(last().sent, [], 'not before exp - 60 s');
	await clock.advance(1);
	assert.equal(last().sent.length, 1);
	const [message] = last().sent;
	assert.equal(message.type, 'refresh_token');
	assert.notEqual(message.token, first);
	assert.equal(message.token, fakeJwt(840 + 900, 1));
	// And again before the new token's exp.
	await clock.advance(840000);
	assert.deepEqual(last().sent.map((m) => m.type), ['refresh_token', 'refresh_token']);
	assert.equal(last().sent[1].token, fakeJwt(1680 + 900, 2));
	// Not while disconnected: the one reconnect attempt (left connecting) is the only other call.
	const socket = last();
	socket.drop();
	await clock.advance(3600000);
	assert.equal(n, 4);
	assert.equal(socket.sent.length, 2);
});

test('when getToken() gives the same token, it is asked again every 5 s until exp', async () => {
	let calls = 0;
	const fixed = fakeJwt(100);
	const { clock, last, client } = setup({
		getToken: () => (calls++ < 3 ? fixed : fakeJwt(1000)),
		refreshBefore: 20000,
	});
	client.connect();
	await settle();
	last().open();
	await clock.advance(80000); // exp - 20 s
	assert.equal(calls, 2);
	assert.deepEqual(last().sent, []);
	await clock.advance(5000);
	assert.equal(calls, 3);
	await clock.advance(5000);
	assert.equal(calls, 4);
	assert.deepEqual(last().sent, [{ type: 'refresh_token', token: fakeJwt(1000) }]);
});

test('no refresh with refreshBefore: null, nor for a token without exp', async () => {
	for (const extra of [{ refreshBefore: null, getToken: () => fakeJwt(10) },
		{ getToken: () => 'opaque-token' }]) {
		const { clock, last, client } = setup(extra);
		client.connect();
		await settle();
		last().open();
		assert.deepEqual(clock.pending(), []);
		await clock.advance(20000);
		assert.deepEqual(last().sent, []);
	}
	assert.throws(() => setup({ refreshBefore: -1 }), TypeError);
});

// ------------------------------------------------------------------ resume, one position per room

const note = (room, pos, id) => ({ type: 'notification_received', event_type: 'milestone_created',
	room, pos, data: { id } });

// The since of the URL and of each re-subscription of the socket just opened.
function resumeRequest(socket) {
	const subs = {};
	for (const m of socket.sent)
		if (m.type === 'subscribe_project')
			subs[m.project_id] = m.since ?? null;
	return { user: query(socket.url).get('since'), ...subs };
}

async function reconnect(env) {
	env.last().drop();
	await env.clock.advance(1000);
	env.last().open();
	return resumeRequest(env.last());
}

test('each room resumes from its own position, wherever the connection was cut', async () => {
	const env = setup();
	env.client.subscribe(2);
	env.client.subscribe(3);
	env.client.connect();
	await settle();
	env.last().open();
	assert.deepEqual(resumeRequest(env.last()), { user: null, 2: null, 3: null });

	// Live: the rooms' notifications interleave.
	env.last().receive(note('user_7', 'e:1-0', 1));
	env.last().receive(note('project_2', 'e:2-0', 2));
	env.last().receive(note('project_3', 'e:3-0', 3));
	env.last().receive(note('user_7', 'e:4-0', 4));
	// Cut mid-live.
	assert.deepEqual(await reconnect(env), { user: 'e:4-0', 2: 'e:2-0', 3: 'e:3-0' });

	// Cut mid-replay of the user room: the projects keep their positions.
	env.last().receive(note('user_7', 'e:5-0', 5));
	assert.deepEqual(await reconnect(env), { user: 'e:5-0', 2: 'e:2-0', 3: 'e:3-0' });

	// Cut between the replays of project 2 and project 3.
	env.last().receive(note('user_7', 'e:9-0', 9));
	env.last().receive(note('project_2', 'e:6-0', 6));
	env.last().receive(note('project_2', 'e:8-0', 8));
	assert.deepEqual(await reconnect(env), { user: 'e:9-0', 2: 'e:8-0', 3: 'e:3-0' });

	// Cut during re-subscription: nothing received, everything as it was.
	assert.deepEqual(await reconnect(env), { user: 'e:9-0', 2: 'e:8-0', 3: 'e:3-0' });

	// Cut right after the handshake: the same.
	env.last().drop();
	await env.clock.advance(1000);
	await env.last().fail();
	await env.clock.advance(2000);
	env.last().open();
	assert.deepEqual(resumeRequest(env.last()), { user: 'e:9-0', 2: 'e:8-0', 3: 'e:3-0' });
});

test('a room with no position of its own resumes from the last position seen before', async () => {
	const env = setup();
	env.client.connect();
	await settle();
	env.last().open();
	env.client.subscribe(2);
	assert.deepEqual(env.last().sent, [{ type: 'subscribe_project', project_id: 2 }],
		'a subscription made while connected asks for nothing old');
	env.last().receive(note('project_2', 'e:1-0', 1));
	// The user room had nothing: it starts from the last position received before the cut.
	assert.deepEqual(await reconnect(env), { user: 'e:1-0', 2: 'e:1-0' });
	env.client.subscribe(4);
	env.last().receive(note('project_2', 'e:2-0', 2));
	// Project 4 had nothing: the same floor.
	assert.deepEqual(await reconnect(env), { user: 'e:1-0', 2: 'e:2-0', 4: 'e:2-0' });
	// A position received on this connection (here: the replay of project 2) must not become
	// project 4's: its own replay, which may hold older ones, has not come yet.
	env.last().receive(note('project_2', 'e:3-0', 3));
	assert.deepEqual(await reconnect(env), { user: 'e:1-0', 2: 'e:3-0', 4: 'e:2-0' });
});

test('positions: unsubscribe forgets a room, other rooms are ignored, disconnect forgets all',
	async () => {
		const env = setup();
		env.client.subscribe(2);
		env.client.connect();
		await settle();
		env.last().open();
		env.last().receive(note('project_2', 'e:1-0', 1));
		env.last().receive(note('project_9', 'e:2-0', 2)); // not subscribed (any more)
		env.client.unsubscribe(2);
		env.client.subscribe(2);
		assert.deepEqual(env.last().sent.at(-1), { type: 'subscribe_project', project_id: 2 });
		assert.deepEqual(await reconnect(env), { user: 'e:2-0', 2: 'e:2-0' });
		env.client.disconnect();
		env.client.connect();
		await settle();
		env.last().open();
		assert.deepEqual(resumeRequest(env.last()), { user: null, 2: null });
	});

test('a subscription made while reconnecting asks for nothing old', async () => {
	const env = setup();
	env.client.connect();
	await settle();
	env.last().open();
	env.last().receive(note('user_7', 'e:1-0', 1));
	env.last().drop();
	env.client.subscribe(5);
	await env.clock.advance(1000);
	env.last().open();
	assert.deepEqual(resumeRequest(env.last()), { user: 'e:1-0', 5: null });
});
