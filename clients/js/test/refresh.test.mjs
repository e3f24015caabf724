// Token refresh against the real herald binary with auth.close_on_expiry: the hub closes a
// connection with 4001 when its token's exp passes, unless the client sent a newer token first.
// herald-client in Node (over the `ws` package), tokens valid for a few seconds.
//
// Environment: HERALD_BUILD_DIR, HERALD_SOURCE_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

import { createHeraldClient } from 'herald-client';
import { ARTIFACTS, HERALD, Hub, jwt, sleep, until, userEvent } from './lib/hub.mjs';

const TTL = 4; // seconds a token is valid

let workdir, hub;

before(async () => {
	assert.ok(fs.existsSync(HERALD), `no herald binary at ${HERALD} (set HERALD_BUILD_DIR)`);
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-refresh-'));
	hub = await new Hub(workdir, { auth: ['  close_on_expiry: true'] }).start();
});

after(async () => {
	if (hub) {
		const problems = await hub.stop();
		if (fs.existsSync(hub.logPath))
			fs.copyFileSync(hub.logPath, path.join(ARTIFACTS, 'js-refresh-herald.log'));
		assert.deepEqual(problems, [], hub.log().slice(-4000));
	}
	if (workdir)
		fs.rmSync(workdir, { recursive: true, force: true });
});

// A client of `user` with short tokens; records closes and the tokens it was given.
function shortLived(user, refreshBefore) {
	const tokens = [];
	const client = createHeraldClient({
		url: `ws://127.0.0.1:${hub.port}/ws/notifications/`,
		getToken: () => {
			tokens.push(jwt(user, { ttl: TTL }));
			return tokens.at(-1);
		},
		WebSocket,
		refreshBefore,
	});
	const closes = [];
	const got = [];
	client.on('close', (c) => closes.push(c.code));
	client.on('notification_received', (n) => got.push(n.data.id));
	const errors = [];
	client.on('error', (e) => errors.push(e));
	return { client, tokens, closes, got, errors };
}

test('with refresh_token sent before exp, the connection outlives its first tokens', async () => {
	const { client, tokens, closes, got, errors } = shortLived(41, 2000);
	try {
		client.connect();
		await until('open', () => client.isConnected());
		await sleep((2 * TTL + 1) * 1000); // past the exp of the first two tokens
		assert.deepEqual(closes, [], 'never closed');
		assert.ok(client.isConnected());
		assert.ok(tokens.length >= 3, `tokens: ${tokens.length}`);
		assert.deepEqual(errors, [], 'the hub accepted every refresh_token');
		// Still the same connection, still delivering.
		await hub.post(userEvent(1, [41]));
		await until('the notification', () => got.includes(1));
	} finally {
		client.disconnect();
	}
});

test('without refresh, the hub closes with 4001 at exp and the client reconnects', async () => {
	const { client, closes } = shortLived(42, null);
	try {
		client.connect();
		await until('open', () => client.isConnected());
		await until('the close at exp', () => closes.length === 1, (TTL + 3) * 1000);
		assert.deepEqual(closes, [4001]);
		await until('open again with a new token', () => client.isConnected());
	} finally {
		client.disconnect();
	}
});
