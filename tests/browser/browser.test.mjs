// End-to-end tests of the demo page and the browser client in headless Chromium, against the
// real herald binary. Between page and hub sits a small TCP proxy of the test's own that can cut
// every connection and refuse new ones, and that reads what the page sends (handshake URLs and
// WebSocket frames), so the reconnect schedule and the resume requests are seen on the wire.
//
// Environment: HERALD_BUILD_DIR (the build with `herald` and plugins/), HERALD_SOURCE_DIR.
// Artifacts (screenshots, the hub's log) go to $HERALD_BUILD_DIR/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = process.env.HERALD_SOURCE_DIR || path.resolve(HERE, '../..');
const BUILD_DIR = process.env.HERALD_BUILD_DIR || path.join(SOURCE_DIR, 'build');
const HERALD = path.join(BUILD_DIR, 'herald');
const WEBHOOK = path.join(BUILD_DIR, 'plugins', 'webhook.so');
const ARTIFACTS = path.join(BUILD_DIR, 'artifacts');
const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--headless'];

const SECRET = 'herald-browser-test-secret-0123456789';
const WEBHOOK_TOKEN = 'herald-browser-test-webhook-token';
const USER = 7;
const PROJECT = { id: 2, title: 'Mobile App Development' };
const ACTOR = { id: 5, username: 'jane_smith', first_name: 'Jane', last_name: 'Smith' };
const BACKOFF = [1000, 2000, 4000, 8000, 16000]; // API.md's, the client's default
const LATE = 800; // how much later than its delay a reconnect attempt may be seen
const WAIT = 15000; // for something that must happen soon

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
	const server = net.createServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const { port } = server.address();
	server.close();
	await once(server, 'close');
	return port;
}

async function until(what, fn, timeout = WAIT) {
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

function jwt(userId) {
	const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
	const now = Math.floor(Date.now() / 1000);
	const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
		token_type: 'access', exp: now + 900, iat: now, jti: randomUUID(), user_id: userId,
	})}`;
	return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

function milestoneEvent(id) {
	return {
		event_type: 'milestone_created', project: PROJECT, actor: ACTOR,
		data: { id, title: `Milestone ${id}`, progress: 0 }, timestamp: '2025-10-24T14:30:00Z',
	};
}

async function httpGet(port, urlPath) {
	const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { redirect: 'manual' });
	return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

// ------------------------------------------------------------------------------- the hub

class Hub {
	constructor(dir, { demo, webhook }) {
		this.dir = dir;
		this.demo = demo;
		this.webhook = webhook;
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
			'auth:', '  algorithms: [HS256]', '  secret: {env: HERALD_JWT_SECRET}',
			'scripts:', `  dir: ${JSON.stringify(path.join(SOURCE_DIR, 'scripts'))}`,
			`plugin_dir: ${JSON.stringify(path.join(BUILD_DIR, 'plugins'))}`,
			'plugins:', ...plugin,
			'log:', '  level: debug', '',
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
function takeFrames(buf, out) {
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

class Proxy {
	refusing = false;
	handshakes = []; // {t, url, refused, sent: [text frames the page sent on it]}
	#pairs = new Set();

	constructor(targetPort) {
		this.targetPort = targetPort;
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
			const requestLine = first.toString('latin1').split('\r\n', 1)[0];
			const match = /^GET (\S*\/ws\/notifications\/\S*) HTTP/.exec(requestLine);
			const hs = match ? { t, url: new URL(match[1], 'ws://x'), refused: this.refusing, sent: [] } : null;
			if (hs)
				this.handshakes.push(hs);
			if (this.refusing) {
				client.resetAndDestroy();
				return;
			}
			const upstream = net.connect(this.targetPort, '127.0.0.1');
			const pair = { client, upstream };
			this.#pairs.add(pair);
			upstream.on('error', () => client.resetAndDestroy());
			client.on('error', () => upstream.destroy());
			upstream.on('close', () => {
				client.destroy();
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
			upstream.pipe(client);
		});
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

// ------------------------------------------------------------------------------- the page

let workdir, hub, proxy, browser, page;
const pageErrors = [];

async function notificationIds() {
	return page.$$eval('#notifications li', (items) => items.map((li) => Number(li.dataset.dataId)));
}

async function status() {
	return page.$eval('#status', (el) => ({ state: el.dataset.state, text: el.textContent }));
}

// The gaps between consecutive attempts (the first measured from `from`) match the backoff.
function checkSchedule(attempts, from, delays) {
	const times = [from, ...attempts.map((a) => a.t)];
	const gaps = attempts.map((_, i) => times[i + 1] - times[i]);
	for (let i = 0; i < delays.length; i++)
		assert.ok(gaps[i] >= delays[i] - 20 && gaps[i] <= delays[i] + LATE,
			`attempt ${i + 1} came ${gaps[i]} ms after the previous one, expected ${delays[i]} ms (gaps: ${gaps})`);
}

before(async () => {
	assert.ok(fs.existsSync(HERALD), `no herald binary at ${HERALD} (set HERALD_BUILD_DIR)`);
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-browser-'));
	hub = new Hub(workdir, { demo: true, webhook: fs.existsSync(WEBHOOK) });
	await hub.start();
	proxy = await new Proxy(hub.port).start();
	browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
	page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
	page.on('console', (msg) => {
		if (msg.type() === 'error')
			pageErrors.push(msg.text());
	});
	page.on('pageerror', (err) => pageErrors.push(String(err)));
});

after(async () => {
	await browser?.close();
	await proxy?.close();
	if (hub) {
		const problems = await hub.stop();
		if (fs.existsSync(hub.logPath))
			fs.copyFileSync(hub.logPath, path.join(ARTIFACTS, 'browser-herald.log'));
		assert.deepEqual(problems, [], hub.log().slice(-4000));
	}
	if (workdir)
		fs.rmSync(workdir, { recursive: true, force: true });
});

test('the client and the demo are served with their types, a CSP and cache headers', async () => {
	const files = [
		['/herald-client.js', 'herald-client.js', 'text/javascript'],
		['/herald-client.d.ts', 'herald-client.d.ts', 'text/plain'],
		['/demo/', 'demo.html', 'text/html'],
		['/demo/demo.js', 'demo.js', 'text/javascript'],
		['/demo/demo.css', 'demo.css', 'text/css'],
	];
	for (const [urlPath, file, type] of files) {
		const res = await httpGet(hub.port, urlPath);
		assert.equal(res.status, 200, urlPath);
		assert.ok(res.headers.get('content-type').startsWith(type), `${urlPath}: ${res.headers.get('content-type')}`);
		assert.ok(res.body.equals(fs.readFileSync(path.join(SOURCE_DIR, 'core/web', file))),
			`${urlPath} is not core/web/${file} as it is in the source tree`);
		assert.ok(res.headers.get('cache-control'), `${urlPath} has no Cache-Control`);
		assert.equal(res.headers.get('x-content-type-options'), 'nosniff', urlPath);
		// Apps on other origins import the client as a module, which is a CORS fetch.
		if (!urlPath.startsWith('/demo/'))
			assert.equal(res.headers.get('access-control-allow-origin'), '*', urlPath);
	}
	const csp = (await httpGet(hub.port, '/demo/')).headers.get('content-security-policy') || '';
	assert.match(csp, /script-src 'self'/, `CSP: ${csp}`);
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `CSP: ${csp}`);
});

test('the demo is off unless the config enables it; the client is always served', async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-browser-nodemo-'));
	const plain = new Hub(dir, { demo: false, webhook: false });
	let problems;
	try {
		await plain.start();
		assert.equal((await httpGet(plain.port, '/demo/')).status, 404);
		assert.equal((await httpGet(plain.port, '/demo/demo.js')).status, 404);
		assert.equal((await httpGet(plain.port, '/herald-client.js')).status, 200);
	} finally {
		problems = await plain.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	}
	assert.deepEqual(problems, []);
});

test('the type declarations compile against typical and wrong uses', async () => {
	const tsc = path.join(HERE, 'node_modules/.bin/tsc');
	await promisify(execFile)(tsc, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
		'--moduleResolution', 'nodenext', '--lib', 'es2022,dom', path.join(HERE, 'types-check.ts')]);
});

test('the page connects, subscribes, and shows a posted notification as a toast', async () => {
	await page.goto(`http://127.0.0.1:${proxy.port}/demo/`);
	await page.fill('#token', jwt(USER));
	await page.click('#connect');
	await until('the status line to say connected', async () => (await status()).state === 'open');
	assert.equal((await status()).text, 'Connected');
	const [first] = proxy.handshakes;
	assert.equal(first.url.searchParams.has('since'), false, 'a first connect asks for no resume');

	await page.fill('#project', String(PROJECT.id));
	await page.click('#subscribe');
	// Once the proxy has passed the frame on, the hub reads it before the event posted next.
	await until('the subscribe frame', () => first.sent.length === 1);
	assert.deepEqual(JSON.parse(first.sent[0]), { type: 'subscribe_project', project_id: PROJECT.id });

	await hub.post(milestoneEvent(1));
	const toast = page.locator('.toast.toast-info', { hasText: 'Milestone Created' });
	await toast.waitFor({ state: 'visible', timeout: WAIT });
	const shownAt = Date.now();
	assert.equal(await toast.locator('.toast-message').textContent(), 'Milestone Created');
	assert.equal(await toast.locator('.toast-description').textContent(),
		"Milestone 'Milestone 1' has been created");
	await page.screenshot({ path: path.join(ARTIFACTS, 'browser-toast.png'), fullPage: true });
	assert.deepEqual(await notificationIds(), [1]);

	// It dismisses itself after its duration, 5 s.
	await toast.waitFor({ state: 'detached', timeout: 10000 });
	const shown = Date.now() - shownAt;
	assert.ok(shown >= 4500 && shown <= 6500, `the toast was shown for ${shown} ms`);
	assert.deepEqual(pageErrors, [], 'no console error (a CSP violation would be one)');
});

test('cut off for a while, the page reconnects on its schedule and gets exactly what it missed',
	async () => {
		const pos = await page.$eval('#notifications li', (li) => li.dataset.pos);
		assert.ok(pos, 'the hub gave the notification a stream position (pos)');

		const cutAt = Date.now();
		proxy.cut();
		await until('the page to notice', async () => (await status()).state === 'reconnecting');
		for (const id of [2, 3, 4])
			await hub.post(milestoneEvent(id));
		// Attempts come at +1 s and +3 s (refused) and +7 s (let through).
		await until('two refused attempts', () => proxy.wsAttemptsSince(cutAt).length === 2, 6000);
		proxy.pass();
		await until('the page to be connected again', async () => (await status()).state === 'open', 10000);

		const attempts = proxy.wsAttemptsSince(cutAt);
		assert.deepEqual(attempts.map((a) => a.refused), [true, true, false]);
		checkSchedule(attempts, cutAt, BACKOFF.slice(0, 3));
		const resumed = attempts[2];
		assert.equal(resumed.url.searchParams.get('since'), pos, 'reconnects with since=<last pos>');
		assert.ok(resumed.url.searchParams.get('token'), 'with a token');
		await until('the re-subscription', () => resumed.sent.length >= 1);
		assert.deepEqual(JSON.parse(resumed.sent[0]),
			{ type: 'subscribe_project', project_id: PROJECT.id, since: pos });

		await until('the missed notifications', async () => (await notificationIds()).length >= 4);
		await hub.post(milestoneEvent(5));
		await until('the live notification', async () => (await notificationIds()).includes(5));
		// Replay comes before live ones: with 5 there, any duplicate would already show.
		assert.deepEqual(await notificationIds(), [1, 2, 3, 4, 5]);
		const toasts = await page.$$eval('.toast.toast-info .toast-description', (els) => els.map((e) => e.textContent));
		for (const id of [2, 3, 4, 5])
			assert.ok(toasts.includes(`Milestone 'Milestone ${id}' has been created`), `no toast for ${id}: ${toasts}`);
		await page.screenshot({ path: path.join(ARTIFACTS, 'browser-resumed.png'), fullPage: true });
	});

test('with the hub unreachable, the page gives up with connection_lost after five tries', async () => {
	const errorsBefore = await page.$$eval('#log li[data-type="connection_error"]', (els) => els.length);
	const cutAt = Date.now();
	proxy.cut();
	const lost = page.locator('.toast.toast-error', { hasText: 'Connection lost. Please refresh the page.' });
	await lost.waitFor({ state: 'visible', timeout: 31000 + 5 * LATE + WAIT });
	const s = await status();
	assert.equal(s.state, 'lost');
	assert.equal(s.text, 'Connection lost after 5 failed attempts');
	const attempts = proxy.wsAttemptsSince(cutAt);
	assert.equal(attempts.length, 5);
	assert.ok(attempts.every((a) => a.refused));
	checkSchedule(attempts, cutAt, BACKOFF);
	const errors = await page.$$eval('#log li[data-type="connection_error"]', (els) => els.length);
	assert.equal(errors - errorsBefore, 5, 'one connection_error per failed try');
	await page.screenshot({ path: path.join(ARTIFACTS, 'browser-connection-lost.png'), fullPage: true });

	// No further try: the proxy, letting connections through again, sees none.
	proxy.pass();
	await sleep(3000);
	assert.equal(proxy.wsAttemptsSince(cutAt).length, 5);
	assert.equal((await status()).state, 'lost');
});
