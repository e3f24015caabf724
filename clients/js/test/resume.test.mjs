// Resume that holds wherever a connection is cut: herald-client in Node (over the `ws` package)
// against the real herald binary, through the test's proxy. The user room and two project rooms
// miss notifications during an outage; the reconnect that follows is cut after exactly k frames
// of the hub, for every k: right after the handshake, mid-replay of the user room, between
// replays, during the re-subscriptions, mid-replay of a project, after the replays, mid-live.
// After the next reconnect every room must have received each of its notifications once, in
// order. This needs the hub's "room" field on notifications (one position per room). And the
// notifications have the shape herald-client.d.ts declares, nulls included.
//
// Environment: HERALD_BUILD_DIR, HERALD_SOURCE_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

import { createHeraldClient } from 'herald-client';
import {
	ARTIFACTS, HERALD, Hub, Proxy, jwt, milestoneEvent, sleep, until, userEvent,
} from './lib/hub.mjs';

const REPLAYED = 6; // frames of the resumed connection's replays: 2 per room
const LIVE = 3;     // then one live notification per room

let workdir, hub, proxy;

before(async () => {
	assert.ok(fs.existsSync(HERALD), `no herald binary at ${HERALD} (set HERALD_BUILD_DIR)`);
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-resume-'));
	hub = await new Hub(workdir).start();
	proxy = await new Proxy(hub.port).start();
});

after(async () => {
	await proxy?.close();
	if (hub) {
		const problems = await hub.stop();
		if (fs.existsSync(hub.logPath))
			fs.copyFileSync(hub.logPath, path.join(ARTIFACTS, 'js-resume-herald.log'));
		assert.deepEqual(problems, [], hub.log().slice(-4000));
	}
	if (workdir)
		fs.rmSync(workdir, { recursive: true, force: true });
});

// One run: fresh user and project rooms, an outage, a reconnect cut after `cutAfter` frames.
async function run(cutAfter) {
	const user = 100 + cutAfter;
	const rooms = {
		[`user_${user}`]: (id) => userEvent(id, [user]),
		[`project_${1000 + 2 * cutAfter}`]: (id) => milestoneEvent(id, { id: 1000 + 2 * cutAfter, title: 'A' }),
		[`project_${1001 + 2 * cutAfter}`]: (id) => milestoneEvent(id, { id: 1001 + 2 * cutAfter, title: 'B' }),
	};
	const names = Object.keys(rooms);
	const posted = Object.fromEntries(names.map((r) => [r, []]));
	const got = Object.fromEntries(names.map((r) => [r, []]));
	let next = 1;
	// One notification in each room, in this order.
	const postRound = async () => {
		for (const room of names) {
			const id = next++;
			posted[room].push(id);
			await hub.post(rooms[room](id));
		}
	};
	const received = () => names.every((r) => got[r].length >= posted[r].length);

	const client = createHeraldClient({
		url: `ws://127.0.0.1:${proxy.port}/ws/notifications/`,
		getToken: () => jwt(user),
		WebSocket,
		backoff: Array(10).fill(200),
		refreshBefore: null,
	});
	const states = [];
	client.on('state', (s) => states.push(s.state));
	// Which room a notification came through: its `room`; the test's own bookkeeping falls back
	// on the event's addressing (user events have no project), so a hub without `room` is seen
	// to fail on the notifications themselves, and on the missing field.
	let withoutRoom = 0;
	client.on('notification_received', (n) => {
		if (typeof n.room !== 'string')
			withoutRoom++;
		got[n.room ?? (n.project_id === null ? `user_${user}` : `project_${n.project_id}`)]
			?.push(n.data.id);
	});
	const resumeFailed = [];
	client.on('resume_failed', (r) => resumeFailed.push(r));
	const opens = () => states.filter((s) => s === 'open').length;
	try {
		const first = proxy.handshakes.length;
		client.subscribe(names[1].slice(8));
		client.subscribe(names[2].slice(8));
		client.connect();
		await until('the first connection', () => opens() === 1);
		await until('both subscriptions sent', () => proxy.handshakes[first]?.sent.length === 2);
		await sleep(200); // for the hub to read them before the events that follow
		await postRound();
		await until('the first round, live', received);

		// An outage: the rooms get two rounds meanwhile.
		proxy.cut();
		await until('the client to notice', () => states.at(-1) === 'reconnecting');
		await postRound();
		await postRound();
		proxy.limitNext(cutAfter);
		const resumed = proxy.handshakes.length;
		proxy.pass();
		await until('the resumed connection', () => proxy.handshakes.length > resumed &&
			!proxy.handshakes.at(-1).refused, 5000);
		const hs = proxy.handshakes.at(-1);
		if (cutAfter > REPLAYED) {
			// Live notifications on the connection that will be cut.
			await until('the replays', () => hs.received.length >= REPLAYED);
			await postRound();
		}
		await until(`the cut after ${cutAfter} frames`, () => hs.cut);
		// The next connection resumes each room from where it stopped.
		const opened = opens();
		await until('the next connection', () => opens() > opened);
		await postRound();
		await until('every notification', received);
		await sleep(300); // a duplicate would come by now
		return { posted, got, resumeFailed, frames: hs.received.length, withoutRoom };
	} finally {
		client.disconnect();
	}
}

for (let k = 0; k <= REPLAYED + LIVE - 1; k++) {
	const where = k === 0 ? 'right after the handshake'
		: k < 2 ? 'mid-replay of the user room'
		: k === 2 ? 'between replays, the re-subscriptions sent'
		: k < REPLAYED ? (k % 2 === 0 ? 'between project replays' : 'mid-replay of a project')
		: k === REPLAYED ? 'after the replays' : 'mid-live';
	test(`cut after ${k} frames (${where}): every room gets each notification once, in order`,
		async () => {
			const { posted, got, resumeFailed, frames, withoutRoom } = await run(k);
			assert.equal(frames, k, 'the proxy cut where it was told');
			assert.deepEqual(resumeFailed, []);
			assert.deepEqual(got, posted);
			assert.equal(withoutRoom, 0, 'every notification names its room');
		});
}

// What herald-client.d.ts declares for NotificationReceived, checked on what the hub sends.
function checkShape(n) {
	const nullable = (type) => (v) => v === null || typeof v === type;
	const fields = {
		type: (v) => v === 'notification_received', title: (v) => typeof v === 'string',
		message: (v) => typeof v === 'string', event_type: (v) => typeof v === 'string',
		timestamp: (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v),
		actor: (v) => v === null || (typeof v === 'object' && typeof v.id === 'number' &&
			typeof v.username === 'string'),
		project_id: nullable('number'), project_title: nullable('string'),
		data: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
		room: (v) => /^(user|project)_\d+$/.test(v), pos: (v) => typeof v === 'string',
	};
	for (const [key, ok] of Object.entries(fields))
		assert.ok(ok(n[key]), `${key}: ${JSON.stringify(n[key])}`);
}

test('notifications have the shape the declarations give them, nulls included', async () => {
	const user = 90;
	const got = [];
	const client = createHeraldClient({
		url: `ws://127.0.0.1:${hub.port}/ws/notifications/`, getToken: () => jwt(user), WebSocket,
	});
	client.on('notification_received', (n) => got.push(n));
	try {
		client.subscribe(900);
		client.connect();
		await until('open', () => client.isConnected());
		await sleep(200);
		await hub.post(userEvent(1, [user]));
		await hub.post(milestoneEvent(2, { id: 900, title: 'Shapes' }));
		await until('both notifications', () => got.length === 2);
	} finally {
		client.disconnect();
	}
	const [toUser, toProject] = got;
	checkShape(toUser);
	checkShape(toProject);
	assert.equal(toUser.actor, null, 'an event without actor');
	assert.equal(toUser.project_id, null, 'an event addressed to users');
	assert.equal(toUser.project_title, null);
	assert.equal(toUser.room, `user_${user}`);
	assert.equal(toProject.project_id, 900);
	assert.equal(toProject.project_title, 'Shapes');
	assert.equal(toProject.actor.username, 'jane_smith');
	assert.equal(toProject.room, 'project_900');
});
