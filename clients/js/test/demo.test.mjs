// End-to-end tests of the demo page and the browser client in headless Chromium, against the
// real herald binary. Between page and hub sits a small TCP proxy of the test's own that can cut
// every connection and refuse new ones, and that reads what the page sends (handshake URLs and
// WebSocket frames), so the reconnect schedule and the resume requests are seen on the wire.
//
// Environment: HERALD_BUILD_DIR (the build with `herald` and plugins/), HERALD_SOURCE_DIR.
// Artifacts (screenshots, the hub's log) go to $HERALD_BUILD_DIR/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
	ARTIFACTS, BACKOFF, HERALD, Hub, LATE, PROJECT, Proxy, SOURCE_DIR, USER, WAIT, httpGet, jwt,
	launchBrowser, milestoneEvent, sleep, until,
} from './lib/hub.mjs';

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
	hub = new Hub(workdir, { demo: true });
	await hub.start();
	proxy = await new Proxy(hub.port).start();
	browser = await launchBrowser();
	page = browser.page;
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
	const client = 'clients/js/packages/herald-client';
	const files = [
		['/herald-client.js', `${client}/herald-client.js`, 'text/javascript'],
		['/herald-client.d.ts', `${client}/herald-client.d.ts`, 'text/plain'],
		['/demo/', 'core/web/demo.html', 'text/html'],
		['/demo/demo.js', 'core/web/demo.js', 'text/javascript'],
		['/demo/demo.css', 'core/web/demo.css', 'text/css'],
	];
	for (const [urlPath, file, type] of files) {
		const res = await httpGet(hub.port, urlPath);
		assert.equal(res.status, 200, urlPath);
		assert.ok(res.headers.get('content-type').startsWith(type), `${urlPath}: ${res.headers.get('content-type')}`);
		assert.ok(res.body.equals(fs.readFileSync(path.join(SOURCE_DIR, file))),
			`${urlPath} is not ${file} as it is in the source tree`);
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
