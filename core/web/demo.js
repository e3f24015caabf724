// The demo page of Herald: connect with a token, subscribe to projects, see notifications as
// toasts. Plain DOM; the client is the one Herald serves at /herald-client.js.
import { createHeraldClient } from '../herald-client.js';

const $ = (id) => document.getElementById(id);
const ui = {
	connectForm: $('connect-form'),
	url: $('url'),
	token: $('token'),
	connect: $('connect'),
	disconnect: $('disconnect'),
	projectForm: $('project-form'),
	project: $('project'),
	projects: $('projects'),
	notifications: $('notifications'),
	log: $('log'),
	status: $('status'),
	toasts: $('toasts'),
};

const projects = new Set();
let client = null;

ui.url.value = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/notifications/`;

function el(tag, className, text) {
	const node = document.createElement(tag);
	if (className)
		node.className = className;
	if (text !== undefined)
		node.textContent = text;
	return node;
}

const LIST_MAX = 500; // entries kept in each list, so a page left open does not grow forever

// Add to a scrolling list, keeping it scrolled to the newest entry.
function append(list, item) {
	list.append(item);
	while (list.children.length > LIST_MAX)
		list.firstElementChild.remove();
	list.scrollTop = list.scrollHeight;
}

const clock = () => new Date().toLocaleTimeString([], { hour12: false });

// The NotificationContext of the API reference: addNotification({type, message, description,
// duration}); a duration of 0 keeps the toast until it is closed.
function addNotification({ type = 'info', message, description, duration = 5000 }) {
	const toast = el('div', `toast toast-${type}`);
	toast.setAttribute('role', type === 'error' ? 'alert' : 'status');
	const body = el('div', 'toast-body');
	body.append(el('strong', 'toast-message', message));
	if (description)
		body.append(el('p', 'toast-description', description));
	const close = el('button', 'toast-close', '\u00d7');
	close.type = 'button';
	close.setAttribute('aria-label', 'Dismiss');
	const dismiss = () => toast.remove();
	close.addEventListener('click', dismiss);
	toast.append(body, close);
	ui.toasts.append(toast);
	if (duration > 0)
		setTimeout(dismiss, duration);
}

function log(kind, text, attrs = {}) {
	const item = el('li', `log-${kind}`);
	item.dataset.kind = kind;
	item.dataset.t = String(Date.now());
	for (const [key, value] of Object.entries(attrs))
		item.dataset[key] = String(value);
	item.append(el('time', null, clock()), ` ${text}`);
	append(ui.log, item);
}

function describeState({ state, attempt, maxAttempts, delay }) {
	switch (state) {
	case 'connecting':
		return attempt === 0 ? 'Connecting…' : `Reconnecting (attempt ${attempt} of ${maxAttempts})…`;
	case 'open':
		return 'Connected';
	case 'reconnecting':
		return `Connection down; attempt ${attempt} of ${maxAttempts} in ${delay / 1000} s`;
	case 'lost':
		return `Connection lost after ${maxAttempts} failed attempts`;
	case 'unauthorized':
		return 'Token refused: paste a valid one and connect again';
	default:
		return 'Disconnected';
	}
}

function onState(change) {
	const text = describeState(change);
	ui.status.textContent = text;
	ui.status.dataset.state = change.state;
	ui.status.dataset.attempt = String(change.attempt);
	ui.connect.disabled = !['disconnected', 'lost', 'unauthorized'].includes(change.state);
	ui.disconnect.disabled = !ui.connect.disabled;
	log('state', text, { state: change.state, attempt: change.attempt });
}

function onNotification(n) {
	addNotification({ type: 'info', message: n.title, description: n.message, duration: 5000 });
	const item = el('li', 'notification');
	item.dataset.eventType = String(n.event_type);
	item.dataset.projectId = String(n.project_id);
	if (n.data && n.data.id !== undefined)
		item.dataset.dataId = String(n.data.id);
	if (n.pos !== undefined)
		item.dataset.pos = String(n.pos);
	item.append(el('time', null, clock()), ' ', el('strong', null, n.title), ` ${n.message}`);
	append(ui.notifications, item);
}

function onError(e) {
	if (e.type === 'connection_error') {
		addNotification({ type: 'error', message: 'Connection failed, reconnecting...', duration: 7000 });
		log('error', 'connection_error: ' + e.message, { type: e.type });
	} else if (e.type === 'auth_failed') {
		addNotification({ type: 'error', message: 'Token refused', description: e.message, duration: 0 });
		log('error', 'auth_failed: ' + e.message, { type: e.type });
	} else if (e.type === 'connection_lost') {
		addNotification({
			type: 'error', message: 'Connection lost. Please refresh the page.',
			description: e.message, duration: 0,
		});
		log('error', 'connection_lost: ' + e.message, { type: e.type });
	} else {
		addNotification({ type: 'error', message: e.message, description: e.code, duration: 7000 });
		log('error', `error from the hub: ${e.message} (${e.code})`, { type: e.type });
	}
}

function onResumeFailed(r) {
	addNotification({
		type: 'warning', message: 'Missed notifications could not be replayed',
		description: `${r.room}: ${r.reason}. Reload that data from the application.`, duration: 7000,
	});
	log('resume', `resume_failed for ${r.room} (${r.reason})`, { room: r.room, reason: r.reason });
}

function onOpen() {
	addNotification({ type: 'success', message: 'Connected', duration: 3000 });
}

function onClose(c) {
	log('close', `closed (code ${c.code}${c.reason ? `, ${c.reason}` : ''})`, { code: c.code });
}

function renderProjects() {
	ui.projects.replaceChildren(...[...projects].sort((a, b) => a - b).map((id) => {
		const chip = el('li', 'chip');
		chip.dataset.projectId = String(id);
		const remove = el('button', 'chip-remove', '\u00d7');
		remove.type = 'button';
		remove.setAttribute('aria-label', `Unsubscribe from project ${id}`);
		remove.addEventListener('click', () => {
			projects.delete(id);
			client?.unsubscribe(id);
			log('subscription', `unsubscribed from project ${id}`);
			renderProjects();
		});
		chip.append(`project_${id} `, remove);
		return chip;
	}));
}

ui.connectForm.addEventListener('submit', (ev) => {
	ev.preventDefault();
	client?.disconnect();
	client = createHeraldClient({
		url: ui.url.value.trim(),
		// Read at every (re)connect, so a fresh token pasted meanwhile is used.
		getToken: () => ui.token.value.trim(),
	});
	client.on('state', onState);
	client.on('open', onOpen);
	client.on('close', onClose);
	client.on('notification_received', onNotification);
	client.on('error', onError);
	client.on('resume_failed', onResumeFailed);
	for (const id of projects)
		client.subscribe(id);
	client.connect();
});

ui.disconnect.addEventListener('click', () => client?.disconnect());

ui.projectForm.addEventListener('submit', (ev) => {
	ev.preventDefault();
	const id = Number(ui.project.value);
	if (!Number.isInteger(id) || id < 1)
		return;
	projects.add(id);
	client?.subscribe(id);
	log('subscription', `subscribed to project ${id}`, { projectId: id });
	renderProjects();
	ui.project.value = '';
});
