// Unit tests of herald-react with Node's test runner: React renders into jsdom, the client talks
// to a fake WebSocket on a fake clock, toasts expire on Node's mocked timers.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { JSDOM } from 'jsdom';

import { FakeClock, fakeWebSocketClass, settle } from '../../../test/lib/fakes.mjs';

// React reads the DOM globals when it is loaded: set them first.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://app.example/' });
for (const key of ['window', 'document', 'navigator', 'HTMLElement', 'Node', 'Event', 'KeyboardEvent',
	'MouseEvent', 'getComputedStyle'])
	Object.defineProperty(globalThis, key, { value: dom.window[key], configurable: true, writable: true });
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const React = await import('react');
const { createRoot } = await import('react-dom/client');
const {
	HeraldProvider, useWebSocket, useProjectSubscription, useHeraldClient, NotificationProvider,
	useNotification, NotificationBridge, CONNECTION_TOASTS,
} = await import('herald-react');

const { act, createElement: h, useEffect, useState } = React;
const URL_ = 'ws://hub.example/ws/notifications/';

let root, container, sockets, FakeWebSocket, clock, probes;

beforeEach(() => {
	container = document.createElement('div');
	document.body.append(container);
	root = createRoot(container);
	({ FakeWebSocket, sockets } = fakeWebSocketClass());
	clock = new FakeClock();
	probes = [];
});

afterEach(async () => {
	await act(async () => root.unmount());
	container.remove();
});

const render = (element) => act(async () => root.render(element));
const last = () => sockets[sockets.length - 1];
const clientOptions = () => ({
	WebSocket: FakeWebSocket, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout,
	fetch: async (url) => {
		probes.push(url);
		return { status: 426 };
	},
});

// A HeraldProvider over the fakes, around `children`.
function withHerald(children, { getToken = () => 'tok' } = {}) {
	return h(HeraldProvider, { url: URL_, getToken, options: clientOptions() }, children);
}

async function openSocket() {
	await act(async () => {
		await settle();
		last().open();
	});
}

const received = (extra) => ({
	type: 'notification_received', title: 'Milestone Created',
	message: "Milestone 'Sprint Planning' has been created", event_type: 'milestone_created',
	timestamp: '2025-10-24T14:30:00Z', actor: null, project_id: 2, project_title: 'Mobile App',
	data: { id: 42 }, ...extra,
});

async function receive(message) {
	await act(async () => last().receive(message));
}

// ------------------------------------------------------------------------------- HeraldProvider

test('HeraldProvider connects while mounted with the latest getToken, and disconnects', async () => {
	await render(withHerald(h('p', null, 'app'), { getToken: () => 'first' }));
	await openSocket();
	assert.equal(new URL(last().url).searchParams.get('token'), 'first');
	await render(withHerald(h('p', null, 'app'), { getToken: () => 'second' }));
	assert.equal(sockets.length, 1, 'one client, one connection');
	await act(async () => last().drop());
	await act(async () => clock.advance(1000));
	assert.equal(sockets.length, 2);
	assert.equal(new URL(last().url).searchParams.get('token'), 'second', 'the latest getToken');
	last().open();
	await render(h('p', null, 'gone'));
	assert.equal(last().closedWith, 1000);
});

test('the hooks need their providers', async () => {
	function Uses({ hook }) {
		hook();
		return null;
	}
	const r = createRoot(document.createElement('div'));
	await assert.rejects(async () => act(async () => r.render(h(Uses, { hook: useWebSocket }))),
		/inside <HeraldProvider>/);
	await assert.rejects(async () => act(async () => r.render(h(Uses, { hook: useNotification }))),
		/inside <NotificationProvider>/);
	await act(async () => r.unmount());
});

// ------------------------------------------------------------------------------- useWebSocket

test("the seed's ProjectDetail: on('milestone_changed') refetches for its project only", async () => {
	const fetches = [];
	function ProjectDetail({ projectId }) {
		const { on, off } = useWebSocket();
		useProjectSubscription(projectId);
		useEffect(() => {
			const handleMilestoneChange = (data) => {
				if (data.project_id === Number(projectId))
					fetches.push(['milestones', data.event_type]); // queryClient.invalidateQueries
			};
			on('milestone_changed', handleMilestoneChange);
			return () => {
				off('milestone_changed', handleMilestoneChange);
			};
		}, [projectId]);
		return h('div', null, `project ${projectId}`);
	}
	await render(withHerald(h(ProjectDetail, { projectId: '2' })));
	await openSocket();
	assert.deepEqual(last().sent, [{ type: 'subscribe_project', project_id: 2 }]);
	await receive(received({ event_type: 'milestone_updated' }));
	await receive(received({ event_type: 'milestone_deleted', project_id: 3 }));
	await receive(received({ event_type: 'team_member_added' }));
	assert.deepEqual(fetches, [['milestones', 'milestone_updated']]);

	// Another project: the old room is left, the new one joined, the handler follows.
	await render(withHerald(h(ProjectDetail, { projectId: '3' })));
	assert.deepEqual(last().sent.slice(1), [
		{ type: 'unsubscribe_project', project_id: 2 },
		{ type: 'subscribe_project', project_id: 3 },
	]);
	await receive(received({ event_type: 'milestone_created', project_id: 3 }));
	assert.deepEqual(fetches.at(-1), ['milestones', 'milestone_created']);
	assert.equal(fetches.length, 2);
});

test('useWebSocket: stable functions, and listeners removed on unmount even if never off()ed',
	async () => {
		const seen = [];
		const apis = [];
		function Leaky({ label }) {
			const ws = useWebSocket();
			apis.push(ws);
			useEffect(() => {
				ws.on('notification_received', (n) => seen.push(`${label}:${n.title}`));
				// no cleanup: the hook removes it on unmount
			}, []);
			return null;
		}
		function App({ show, n }) {
			return h('div', null, show ? h(Leaky, { label: 'a', n }) : null);
		}
		await render(withHerald(h(App, { show: true, n: 1 })));
		await render(withHerald(h(App, { show: true, n: 2 })));
		await openSocket();
		assert.ok(apis.length >= 2);
		for (const key of ['on', 'off', 'subscribe', 'unsubscribe', 'isConnected'])
			assert.equal(apis[0][key], apis.at(-1)[key], `${key} keeps its identity`);
		assert.equal(apis.at(-1).isConnected(), true);
		await receive(received({ title: 'one' }));
		await render(withHerald(h(App, { show: false })));
		await receive(received({ title: 'two' }));
		assert.deepEqual(seen, ['a:one']);
	});

test('on() through the hook returns a remover; subscribe and unsubscribe pass through', async () => {
	let api;
	function Grab() {
		api = useWebSocket();
		return null;
	}
	await render(withHerald(h(Grab)));
	await openSocket();
	const seen = [];
	const stop = api.on('milestone_created', (n) => seen.push(n.data.id));
	await receive(received());
	stop();
	await receive(received());
	assert.deepEqual(seen, [42]);
	api.subscribe('7');
	api.unsubscribe(7);
	assert.deepEqual(last().sent, [
		{ type: 'subscribe_project', project_id: 7 },
		{ type: 'unsubscribe_project', project_id: 7 },
	]);
});

test('useProjectSubscription: shared by components, left by the last one; none for no id',
	async () => {
		function Holder({ id }) {
			useProjectSubscription(id);
			return null;
		}
		function App({ a, b, c }) {
			return h('div', null, a ? h(Holder, { id: 5 }) : null, b ? h(Holder, { id: '5' }) : null,
				h(Holder, { id: c }));
		}
		await render(withHerald(h(App, { a: true, b: true, c: undefined })));
		await openSocket();
		assert.deepEqual(last().sent, [{ type: 'subscribe_project', project_id: 5 }]);
		await render(withHerald(h(App, { a: false, b: true, c: '' })));
		assert.equal(last().sent.length, 1, 'still held by the other component');
		await render(withHerald(h(App, { a: false, b: false, c: null })));
		assert.deepEqual(last().sent.slice(1), [{ type: 'unsubscribe_project', project_id: 5 }]);
	});

// ------------------------------------------------------------------------------- notifications

function toasts() {
	return [...container.querySelectorAll('.herald-toast')].map((el) => ({
		type: el.dataset.type,
		role: el.getAttribute('role'),
		message: el.querySelector('.herald-toast__message').textContent,
		description: el.querySelector('.herald-toast__description')?.textContent,
	}));
}

test('addNotification() shows toasts in an aria-live list; duration 0 stays', async (t) => {
	t.mock.timers.enable({ apis: ['setTimeout'] });
	let api;
	function MyComponent() {
		api = useNotification();
		return h('button', {
			onClick: () => api.addNotification({
				type: 'success', message: 'Action completed!', description: 'Details here', duration: 5000,
			}),
		}, 'Do Action');
	}
	await render(h(NotificationProvider, null, h(MyComponent)));
	const list = container.querySelector('section.herald-toasts');
	assert.equal(list.getAttribute('aria-live'), 'polite');
	assert.equal(list.getAttribute('aria-label'), 'Notifications');
	await act(async () => container.querySelector('button').click());
	await act(async () => {
		api.addNotification({ type: 'error', message: 'Failed to create milestone', description: 'Title is required', duration: 7000 });
		api.addNotification({ type: 'warning', message: 'Stays', duration: 0 });
		api.addNotification({ message: 'Default info' });
	});
	assert.deepEqual(toasts(), [
		{ type: 'success', role: 'status', message: 'Action completed!', description: 'Details here' },
		{ type: 'error', role: 'alert', message: 'Failed to create milestone', description: 'Title is required' },
		{ type: 'warning', role: 'status', message: 'Stays', description: undefined },
		{ type: 'info', role: 'status', message: 'Default info', description: undefined },
	]);
	assert.equal(api.notifications.length, 4);
	assert.equal(container.querySelector('[style]'), null, 'no inline style: CSS decides');

	await act(async () => t.mock.timers.tick(4999));
	assert.equal(toasts().length, 4);
	await act(async () => t.mock.timers.tick(1)); // 5000: the success and the default info
	assert.deepEqual(toasts().map((x) => x.message), ['Failed to create milestone', 'Stays']);
	await act(async () => t.mock.timers.tick(2000));
	assert.deepEqual(toasts().map((x) => x.message), ['Stays']);
	await act(async () => t.mock.timers.tick(3600 * 1000));
	assert.deepEqual(toasts().map((x) => x.message), ['Stays']);

	assert.throws(() => api.addNotification({ type: 'fatal', message: 'x' }), TypeError);
	assert.throws(() => api.addNotification({ type: 'info' }), TypeError);
});

test('toasts are dismissed with their button or with Escape', async () => {
	let api;
	function Grab() {
		api = useNotification();
		return null;
	}
	await render(h(NotificationProvider, null, h(Grab)));
	await act(async () => {
		api.addNotification({ message: 'first', duration: 0 });
		api.addNotification({ message: 'second', duration: 0 });
		api.addNotification({ message: 'third', duration: 0 });
	});
	const close = container.querySelectorAll('.herald-toast__close')[0];
	assert.equal(close.tagName, 'BUTTON');
	assert.equal(close.getAttribute('type'), 'button', 'a real button: focusable, Enter and Space');
	assert.equal(close.getAttribute('aria-label'), 'Dismiss: first');
	await act(async () => close.click());
	assert.deepEqual(toasts().map((x) => x.message), ['second', 'third']);

	const button = container.querySelectorAll('.herald-toast__close')[1];
	button.focus();
	assert.equal(document.activeElement, button);
	await act(async () => button.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
	assert.deepEqual(toasts().map((x) => x.message), ['second']);
	await act(async () => api.removeNotification(api.notifications[0].id));
	assert.deepEqual(toasts(), []);
});

test('toasts={false} renders no list; the notifications are there to render', async () => {
	let api;
	function Own() {
		api = useNotification();
		return h('ul', { id: 'own' }, api.notifications.map((n) => h('li', { key: n.id }, n.message)));
	}
	await render(h(NotificationProvider, { toasts: false }, h(Own)));
	await act(async () => api.addNotification({ message: 'mine', duration: 0 }));
	assert.equal(container.querySelector('.herald-toasts'), null);
	assert.equal(container.querySelector('#own').textContent, 'mine');
});

// ------------------------------------------------------------------------------- the bridge

test("the bridge shows notifications and the seed's connection errors as toasts", async (t) => {
	const app = (bridge) => withHerald(h(NotificationProvider, { max: 10 }, bridge ? h(NotificationBridge) : null));
	await render(app(true));
	await openSocket();
	await receive(received());
	assert.deepEqual(toasts(), [{ type: 'info', role: 'status', message: 'Milestone Created',
		description: "Milestone 'Sprint Planning' has been created" }]);

	// The connection drops and every try fails: five connection_error toasts, then connection_lost.
	await act(async () => last().drop());
	for (const delay of [1000, 2000, 4000, 8000, 16000]) {
		await act(async () => clock.advance(delay));
		await act(async () => last().fail());
	}
	const errors = toasts().filter((x) => x.type === 'error');
	assert.deepEqual(errors.map((x) => x.message), [
		...Array(5).fill(CONNECTION_TOASTS.connection_error.message),
		'Connection lost. Please refresh the page.',
	]);
	assert.equal(CONNECTION_TOASTS.connection_lost.duration, 0, 'connection_lost stays');
	assert.equal(probes.length, 5, 'each failed try asked whether the token was refused');

	// Without the bridge, nothing is shown.
	t.mock.timers.enable({ apis: ['setTimeout'] });
	await render(h('div'));
	await render(app(false));
	await openSocket();
	await receive(received());
	assert.deepEqual(toasts(), []);
});

test('the bridge shows auth_failed once when the hub refuses the token', async () => {
	const options = { ...clientOptions(), fetch: async () => ({ status: 403 }) };
	await render(h(HeraldProvider, { url: URL_, getToken: () => 'bad', options },
		h(NotificationProvider, null, h(NotificationBridge))));
	await act(async () => {
		await settle();
		await last().fail();
		await settle();
	});
	assert.deepEqual(toasts().map((x) => x.message), [CONNECTION_TOASTS.auth_failed.message]);
	await act(async () => clock.advance(60000));
	assert.equal(sockets.length, 1, 'no retry with the same refused token');
});

test('useHeraldClient gives the client itself', async () => {
	let client;
	function Grab() {
		client = useHeraldClient();
		const [n] = useState(0);
		return h('i', null, n);
	}
	await render(withHerald(h(Grab)));
	assert.equal(typeof client.connect, 'function');
	assert.equal(typeof client.disconnect, 'function');
});
