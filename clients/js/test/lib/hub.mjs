// What the end-to-end tests share: the real herald binary started on a free port with a config
// of the test's own (Hub), a TCP proxy in front of it that can cut every connection, refuse new
// ones, stop after a number of frames and serve an app on the same origin (Proxy), Chromium, and
// tokens and events.
//
// Environment: HERALD_BUILD_DIR (the build with `herald` and plugins/), HERALD_SOURCE_DIR.
// Artifacts (screenshots, the hub's logs) go to $HERALD_BUILD_DIR/artifacts/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.HERALD_SOURCE_DIR || path.resolve(HERE, '../../../..');
export const BUILD_DIR = process.env.HERALD_BUILD_DIR || path.join(SOURCE_DIR, 'build');
export const HERALD = path.join(BUILD_DIR, 'herald');
export const WEBHOOK = path.join(BUILD_DIR, 'plugins', 'webhook.so');
export const ARTIFACTS = path.join(BUILD_DIR, 'artifacts');
const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--disable-background-networking', '--disable-component-update',
	'--disable-sync'];

export const SECRET = 'herald-browser-test-secret-0123456789';
export const WEBHOOK_TOKEN = 'herald-browser-test-webhook-token';
export const USER = 7;
export const PROJECT = { id: 2, title: 'Mobile App Development' };
export const ACTOR = { id: 5, username: 'jane_smith', first_name: 'Jane', last_name: 'Smith' };
export const BACKOFF = [1000, 2000, 4000, 8000, 16000]; // API.md's, the client's default
export const LATE = 800; // how much later than its delay a reconnect attempt may be seen
export const WAIT = 15000; // for something that must happen soon

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort() {
	const server = net.createServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const { port } = server.address();
	server.close();
	await once(server, 'close');
	return port;
}

export async function until(what, fn, timeout = WAIT) {
	const deadline = Date.now() + timeout;
	for (;;) {
		const value = await fn();
		if (value)
			return value;
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		await sleep(25);
	}
}

// A token in the style of Django SimpleJWT, valid for `ttl` seconds.
export function jwt(userId, { ttl = 900 } = {}) {
	const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
	const now = Math.floor(Date.now() / 1000);
	const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
		token_type: 'access', exp: now + ttl, iat: now, jti: randomUUID(), user_id: userId,
	})}`;
	return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

export function milestoneEvent(id, project = PROJECT, eventType = 'milestone_created') {
	return {
		event_type: eventType, project, actor: ACTOR,
		data: { id, title: `Milestone ${id}`, progress: 0 }, timestamp: '2025-10-24T14:30:00Z',
	};
}

// An event for the user rooms of `users` (no project: project_id and project_title are null).
export function userEvent(id, users) {
	return {
		event_type: 'milestone_updated', users, actor: null,
		data: { id, title: `Milestone ${id}`, progress: 50 }, timestamp: '2025-10-24T14:30:00Z',
	};
}

export async function httpGet(port, urlPath) {
	const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { redirect: 'manual' });
	return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

// ------------------------------------------------------------------------------- the hub

export class Hub {
	// config: more YAML lines, appended to the config (e.g. a history section).
	constructor(dir, { demo = false, webhook = fs.existsSync(WEBHOOK), auth = [], config = [] } = {}) {
		this.dir = dir;
		this.demo = demo;
		this.webhook = webhook;
		this.auth = auth;
		this.extra = config;
		this.logPath = path.join(dir, 'herald.log');
	}

	async start() {
		this.port = await freePort();
		this.webhookPort = await freePort();
		const plugin = this.webhook
			? ['  - name: webhook', '    options:', '      listen: 127.0.0.1',
				`      port: ${this.webhookPort}`, '      bearer_token: {env: HERALD_WEBHOOK_TOKEN}']
			: ['  - name: stdin'];
		const config = [
			'server:', '  listen: 127.0.0.1', `  port: ${this.port}`,
			...(this.demo ? ['  demo: true'] : []),
			'auth:', '  algorithms: [HS256]', '  secret: {env: HERALD_JWT_SECRET}', ...this.auth,
			'scripts:', `  dir: ${JSON.stringify(path.join(SOURCE_DIR, 'scripts'))}`,
			`plugin_dir: ${JSON.stringify(path.join(BUILD_DIR, 'plugins'))}`,
			'plugins:', ...plugin,
			'log:', '  level: debug', ...this.extra, '',
		].join('\n');
		const configPath = path.join(this.dir, 'herald.yaml');
		fs.writeFileSync(configPath, config);
		const log = fs.openSync(this.logPath, 'w');
		this.proc = spawn(HERALD, ['-c', configPath], {
			cwd: this.dir,
			stdio: ['pipe', log, log],
			env: { ...process.env, HERALD_JWT_SECRET: SECRET, HERALD_WEBHOOK_TOKEN: WEBHOOK_TOKEN },
		});
		fs.closeSync(log);
		this.exited = once(this.proc, 'exit');
		await until('/healthz to answer 200', async () => {
			if (this.proc.exitCode !== null)
				throw new Error(`herald exited with ${this.proc.exitCode} at start:\n${this.log()}`);
			try {
				return (await httpGet(this.port, '/healthz')).status === 200;
			} catch {
				return false;
			}
		}, 30000);
		return this;
	}

	log() {
		try {
			return fs.readFileSync(this.logPath, 'utf8');
		} catch {
			return '';
		}
	}

	// Hand one event to the hub: POST to the webhook, or a line on the stdin source.
	async post(event) {
		if (!this.webhook) {
			this.proc.stdin.write(`${JSON.stringify(event)}\n`);
			return;
		}
		const res = await fetch(`http://127.0.0.1:${this.webhookPort}/events`, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${WEBHOOK_TOKEN}` },
			body: JSON.stringify(event),
			signal: AbortSignal.timeout(WAIT),
		});
		const body = await res.text();
		assert.ok(res.status >= 200 && res.status < 300, `webhook answered ${res.status}: ${body}`);
	}

	// SIGTERM (by pid), then what is wrong with the exit: [] when nothing.
	async stop() {
		if (!this.proc)
			return [];
		if (this.proc.exitCode === null && this.proc.signalCode === null) {
			this.proc.kill('SIGTERM');
			const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
			await this.exited;
			clearTimeout(timer);
		}
		const problems = this.log().split('\n').filter((l) =>
			/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.test(l));
		if (this.proc.exitCode !== 0)
			problems.unshift(`herald exited with ${this.proc.exitCode ?? this.proc.signalCode}`);
		return problems;
	}
}

// ------------------------------------------------------------------------------- the proxy

// Text frames a client sends are masked; this reads them out of the byte stream.
export function takeFrames(buf, out) {
	for (;;) {
		if (buf.length < 2)
			return buf;
		const opcode = buf[0] & 0x0f;
		let len = buf[1] & 0x7f;
		let off = 2;
		if (len === 126) {
			if (buf.length < 4)
				return buf;
			len = buf.readUInt16BE(2);
			off = 4;
		} else if (len === 127) {
			if (buf.length < 10)
				return buf;
			len = Number(buf.readBigUInt64BE(2));
			off = 10;
		}
		const masked = (buf[1] & 0x80) !== 0;
		const end = off + (masked ? 4 : 0) + len;
		if (buf.length < end)
			return buf;
		const payload = Buffer.from(buf.subarray(end - len, end));
		if (masked)
			for (let i = 0; i < len; i++)
				payload[i] ^= buf[off + (i & 3)];
		if (opcode === 1)
			out.push(payload.toString('utf8'));
		buf = buf.subarray(end);
	}
}

// The length of the first whole frame in buf and its opcode, or null.
function firstFrame(buf) {
	if (buf.length < 2)
		return null;
	let len = buf[1] & 0x7f;
	let off = 2;
	if (len === 126) {
		if (buf.length < 4)
			return null;
		len = buf.readUInt16BE(2);
		off = 4;
	} else if (len === 127) {
		if (buf.length < 10)
			return null;
		len = Number(buf.readBigUInt64BE(2));
		off = 10;
	}
	const end = off + ((buf[1] & 0x80) !== 0 ? 4 : 0) + len;
	return buf.length < end ? null : { end, opcode: buf[0] & 0x0f, payload: buf.subarray(end - len, end) };
}

export class Proxy {
	refusing = false;
	// WebSocket handshakes: {t, url, refused, sent: [text frames the page sent], received: [text
	// frames the hub sent], cut: whether limitNext() cut it}
	handshakes = [];
	probes = []; // plain GETs of the WebSocket path: {t, url, refused}
	#pairs = new Set();
	#limit = null;

	// app: an http.Server that answers every request outside /ws/ (same origin as the hub).
	constructor(targetPort, { app = null } = {}) {
		this.targetPort = targetPort;
		this.app = app;
		this.server = net.createServer((client) => this.#accept(client));
	}

	async start() {
		this.server.listen(0, '127.0.0.1');
		await once(this.server, 'listening');
		this.port = this.server.address().port;
		return this;
	}

	#accept(client) {
		const t = Date.now();
		client.on('error', () => {});
		client.once('data', (first) => {
			const head = first.toString('latin1');
			const requestLine = head.split('\r\n', 1)[0];
			const match = /^GET (\S*\/ws\/notifications\/\S*) HTTP/.exec(requestLine);
			if (!match && this.app) {
				client.pause();
				client.unshift(first);
				this.app.emit('connection', client);
				client.resume();
				return;
			}
			const upgrade = /\r\nupgrade:\s*websocket\r\n/i.test(head);
			const entry = match ? { t, url: new URL(match[1], 'ws://x'), refused: this.refusing } : null;
			const hs = entry && upgrade ? { ...entry, sent: [], received: [], cut: false } : null;
			if (hs)
				this.handshakes.push(hs);
			else if (entry)
				this.probes.push(entry);
			if (this.refusing) {
				client.resetAndDestroy();
				return;
			}
			const limit = hs ? this.#limit : null;
			if (hs)
				this.#limit = null;
			const upstream = net.connect(this.targetPort, '127.0.0.1');
			const pair = { client, upstream };
			this.#pairs.add(pair);
			upstream.on('error', () => client.resetAndDestroy());
			client.on('error', () => upstream.destroy());
			upstream.on('close', () => {
				client.end();
				this.#pairs.delete(pair);
			});
			client.on('close', () => upstream.destroy());
			upstream.write(first);
			// After its handshake a page sends only frames (nothing before the 101 arrives).
			let pending = Buffer.alloc(0);
			client.on('data', (chunk) => {
				upstream.write(chunk);
				if (hs)
					pending = takeFrames(Buffer.concat([pending, chunk]), hs.sent);
			});
			if (!hs) {
				upstream.pipe(client);
				return;
			}
			// The hub's side: the 101 answer, then frames, read one by one to count them.
			let buf = Buffer.alloc(0);
			let headers = true;
			const done = () => limit !== null && hs.received.length >= limit;
			upstream.on('data', (chunk) => {
				if (hs.cut)
					return;
				buf = Buffer.concat([buf, chunk]);
				let pass = 0;
				if (headers) {
					const end = buf.indexOf('\r\n\r\n');
					if (end < 0)
						return;
					headers = false;
					pass = end + 4;
				}
				let frame;
				while (!done() && (frame = firstFrame(buf.subarray(pass)))) {
					pass += frame.end;
					if (frame.opcode === 1)
						hs.received.push(frame.payload.toString('utf8'));
				}
				client.write(buf.subarray(0, pass));
				buf = buf.subarray(pass);
				if (done()) {
					// An orderly end: the page reads every byte written so far, then the close.
					hs.cut = true;
					client.end();
					upstream.destroy();
					this.#pairs.delete(pair);
				}
			});
		});
	}

	// The next WebSocket connection is cut right after the hub sent it n text frames.
	limitNext(n) {
		this.#limit = n;
	}

	// Drop every connection, page side with a reset, and refuse new ones until pass().
	cut() {
		this.refusing = true;
		for (const { client, upstream } of this.#pairs) {
			client.resetAndDestroy();
			upstream.destroy();
		}
		this.#pairs.clear();
	}

	pass() {
		this.refusing = false;
	}

	wsAttemptsSince(t) {
		return this.handshakes.filter((h) => h.t >= t);
	}

	async close() {
		this.cut();
		this.server.close();
	}
}

// Headless Chromium with a new empty profile; close() also removes the profile.
export async function launchBrowser() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true,
		viewport: { width: 1200, height: 800 },
	});
	const page = context.pages()[0] || await context.newPage();
	return {
		context, page,
		async close() {
			await context.close();
			fs.rmSync(profile, { recursive: true, force: true });
		},
	};
}
