// A real React app (test/app, built with esbuild from react, react-dom and herald-react) in
// headless Chromium against the real herald binary. The app and the hub share one origin, as
// behind a reverse proxy: the test's proxy serves the app and its small API (a token endpoint,
// the milestones of a project) and passes /ws/ to the hub, counting handshakes and probes.
//
// Environment: HERALD_BUILD_DIR, HERALD_SOURCE_DIR. Screenshots and the hub's log go to
// $HERALD_BUILD_DIR/artifacts/ (js-app-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

import {
	ARTIFACTS, BACKOFF, HERALD, Hub, LATE, PROJECT, Proxy, USER, WAIT, jwt, launchBrowser,
	milestoneEvent, sleep, until,
} from './lib/hub.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Signed with another secret: the hub refuses it.
const BAD_TOKEN = (() => {
	const good = jwt(USER);
	return `${good.slice(0, good.lastIndexOf('.'))}.${Buffer.alloc(32, 7).toString('base64url')}`;
})();

let workdir, hub, proxy, browser, page;
const api = { milestones: new Map(), fetches: 0, tokens: 0 };

// The app's API: GET /api/token, GET /api/projects/:id/milestones; and the built app.
function appServer(dir) {
	const files = { '/': ['index.html', 'text/html'], '/main.js': ['main.js', 'text/javascript'],
		'/main.css': ['main.css', 'text/css'] };
	return http.createServer((req, res) => {
		const url = new URL(req.url, 'http://app');
		const send = (status, type, body) => {
			res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
			res.end(body);
		};
		if (url.pathname === '/api/token') {
			api.tokens++;
			send(200, 'text/plain', url.searchParams.has('bad') ? BAD_TOKEN : jwt(USER));
			return;
		}
		const m = /^\/api\/projects\/(\d+)\/milestones$/.exec(url.pathname);
		if (m) {
			api.fetches++;
			send(200, 'application/json', JSON.stringify(api.milestones.get(Number(m[1])) || []));
			return;
		}
		const file = files[url.pathname];
		if (!file) {
			send(404, 'text/plain', 'not found');
			return;
		}
		send(200, file[1], fs.readFileSync(path.join(dir, file[0])));
	});
}

const status = () => page.$eval('#status', (el) => el.dataset.state);
const events = (on) => page.evaluate((type) => window.heraldEvents.filter((e) => e.on === type), on);
const toast = (type, text) => page.locator(`.herald-toast.herald-toast--${type}`, { hasText: text });
const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `js-app-${name}.png`), fullPage: true });

async function openApp(query) {
	await page.goto(`http://127.0.0.1:${proxy.port}/${query}`);
}

before(async () => {
	assert.ok(fs.existsSync(HERALD), `no herald binary at ${HERALD} (set HERALD_BUILD_DIR)`);
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-app-'));
	const dist = path.join(workdir, 'dist');
	await esbuild.build({
		entryPoints: [path.join(HERE, 'app/main.jsx')], bundle: true, outdir: dist, format: 'esm',
		jsx: 'automatic', define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'warning',
	});
	fs.copyFileSync(path.join(HERE, 'app/index.html'), path.join(dist, 'index.html'));
	hub = await new Hub(workdir).start();
	proxy = await new Proxy(hub.port, { app: appServer(dist) }).start();
	browser = await launchBrowser();
	page = browser.page;
	page.on('pageerror', (err) => console.error('page error:', err));
});

after(async () => {
	await browser?.close();
	await proxy?.close();
	if (hub) {
		const problems = await hub.stop();
		if (fs.existsSync(hub.logPath))
			fs.copyFileSync(hub.logPath, path.join(ARTIFACTS, 'js-app-herald.log'));
		assert.deepEqual(problems, [], hub.log().slice(-4000));
	}
	if (workdir)
		fs.rmSync(workdir, { recursive: true, force: true });
});

test("the seed's ProjectDetail refetches its milestones when a milestone event is posted",
	async () => {
		api.milestones.set(PROJECT.id, [{ id: 1, title: 'Kick-off' }]);
		await openApp(`?project=${PROJECT.id}`);
		await until('the app to connect', async () => (await status()) === 'open');
		await until('the first fetch', () => page.$eval('#milestones', (ul) => ul.dataset.fetches === '1'));
		// The project id came as a string (a route parameter) and went out as a number.
		const [hs] = proxy.handshakes;
		await until('the subscription', () => hs.sent.length >= 1);
		assert.deepEqual(JSON.parse(hs.sent[0]), { type: 'subscribe_project', project_id: PROJECT.id });

		// The back end creates a milestone, then tells the hub.
		api.milestones.get(PROJECT.id).push({ id: 2, title: 'Sprint Planning' });
		await hub.post(milestoneEvent(2));
		await until('the refetched list', async () =>
			(await page.$$eval('#milestones li', (lis) => lis.map((li) => li.textContent))).length === 2);
		assert.deepEqual(await page.$$eval('#milestones li', (lis) => lis.map((li) => li.textContent)),
			['Kick-off', 'Sprint Planning']);
		assert.equal(await page.$eval('#milestones', (ul) => ul.dataset.fetches), '2');

		// The incoming notification shows as a toast (the bridge).
		const incoming = toast('info', 'Milestone Created');
		await incoming.waitFor({ state: 'visible', timeout: WAIT });
		assert.equal(await incoming.locator('.herald-toast__description').textContent(),
			"Milestone 'Milestone 2' has been created");
		await shot('incoming-notification');

		// An update and a deletion refetch too; another project's event does not reach it.
		await hub.post(milestoneEvent(2, PROJECT, 'milestone_updated'));
		await hub.post(milestoneEvent(9, { id: 3, title: 'Other' }));
		await hub.post(milestoneEvent(2, PROJECT, 'milestone_deleted'));
		await until('two more fetches', () => page.$eval('#milestones', (ul) => ul.dataset.fetches === '4'));
		const changed = await events('milestone_changed');
		assert.deepEqual(changed.map((e) => e.id), [2, 2, 2]);
		await sleep(500);
		assert.equal(api.fetches, 4, 'one fetch per milestone event of the project, no more');
	});

test('addNotification() shows an accessible toast that the keyboard dismisses', async () => {
	await page.click('#action');
	const done = toast('success', 'Action completed!');
	await done.waitFor({ state: 'visible', timeout: WAIT });
	assert.equal(await done.getAttribute('role'), 'status');
	assert.equal(await done.locator('.herald-toast__description').textContent(), 'Details here');
	const region = page.locator('section.herald-toasts');
	assert.equal(await region.getAttribute('aria-live'), 'polite');
	assert.equal(await region.getAttribute('aria-label'), 'Notifications');
	await shot('toasts');

	// Tab to its dismiss button and press Enter; then another one with Escape.
	const close = done.locator('.herald-toast__close');
	await close.focus();
	assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')),
		'Dismiss: Action completed!');
	await page.keyboard.press('Enter');
	await done.waitFor({ state: 'detached', timeout: WAIT });
	await page.click('#action');
	await done.waitFor({ state: 'visible', timeout: WAIT });
	await done.locator('.herald-toast__close').focus();
	await page.keyboard.press('Escape');
	await done.waitFor({ state: 'detached', timeout: WAIT });

	// Left alone, it goes after its 5 s.
	await page.click('#action');
	await done.waitFor({ state: 'visible', timeout: WAIT });
	const shownAt = Date.now();
	await done.waitFor({ state: 'detached', timeout: 10000 });
	const shown = Date.now() - shownAt;
	assert.ok(shown >= 4500 && shown <= 6500, `the toast was shown for ${shown} ms`);
});

test('a bad token gives auth_failed and no retry loop', async () => {
	const other = await browser.context.newPage();
	const before = proxy.handshakes.length;
	const probesBefore = proxy.probes.length;
	try {
		await other.goto(`http://127.0.0.1:${proxy.port}/?project=${PROJECT.id}&bad=1`);
		const refused = other.locator('.herald-toast.herald-toast--error',
			{ hasText: 'Your session has expired. Please sign in again.' });
		await refused.waitFor({ state: 'visible', timeout: WAIT });
		await other.screenshot({ path: path.join(ARTIFACTS, 'js-app-auth-failed.png'), fullPage: true });
		assert.equal(await other.$eval('#status', (el) => el.dataset.state), 'unauthorized');
		// Longer than the first two delays of the schedule: no further attempt.
		await sleep(BACKOFF[0] + BACKOFF[1] + LATE);
		const attempts = proxy.handshakes.slice(before);
		assert.equal(attempts.length, 1, 'one handshake, no retry with the refused token');
		assert.equal(attempts[0].url.searchParams.get('token'), BAD_TOKEN);
		const probes = proxy.probes.slice(probesBefore);
		assert.equal(probes.length, 1, 'one plain GET to tell the refusal from a network failure');
		assert.equal(probes[0].url.searchParams.get('token'), BAD_TOKEN);
		const log = await other.evaluate(() => window.heraldEvents);
		assert.deepEqual(log.filter((e) => e.on === 'auth_failed').map((e) => e.type), ['auth_failed']);
		assert.deepEqual(log.filter((e) => e.on === 'error').map((e) => e.type), ['auth_failed'],
			'no connection_error, no connection_lost');
		assert.equal(await other.locator('.herald-toast', { hasText: 'Connection failed' }).count(), 0);
	} finally {
		await other.close();
	}
});

test("a hub stopped for good gives the seed's connection_lost toast after five tries", async () => {
	assert.equal(await status(), 'open');
	const stoppedAt = Date.now();
	assert.deepEqual(await hub.stop(), []);
	const lost = toast('error', 'Connection lost. Please refresh the page.');
	await lost.waitFor({ state: 'visible', timeout: 31000 + 5 * LATE + WAIT });
	await shot('connection-lost');
	assert.equal(await status(), 'lost');
	const attempts = proxy.wsAttemptsSince(stoppedAt);
	assert.equal(attempts.length, 5, 'five tries');
	const log = await page.evaluate(() => window.heraldEvents);
	const errors = log.filter((e) => e.on === 'error' && e.t >= stoppedAt).map((e) => e.type);
	assert.deepEqual(errors, [...Array(5).fill('connection_error'), 'connection_lost']);
	// The connection_lost toast stays; no further try.
	await sleep(3000);
	assert.equal(await lost.count(), 1);
	assert.equal(proxy.wsAttemptsSince(stoppedAt).length, 5);
});
