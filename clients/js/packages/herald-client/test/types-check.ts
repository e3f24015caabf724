// Compiled (never run) by types.test.mjs with tsc --strict: typical uses of the client must
// type-check against herald-client.d.ts, and the misuses marked below must not.
import {
	createHeraldClient,
	DEFAULT_BACKOFF,
	type HeraldClient,
	type NotificationReceived,
	type ErrorEvent,
	type StateChange,
} from '../herald-client.js';

const client: HeraldClient = createHeraldClient({
	url: 'wss://example.com/ws/notifications/',
	getToken: async () => 'jwt',
	backoff: DEFAULT_BACKOFF,
});

const onNotification = (n: NotificationReceived): void => {
	const line: string = `${n.title}: ${n.message} (${n.event_type}, project ${n.project_id})`;
	const who: string = n.actor ? n.actor.username : 'someone';
	const project: number | null = n.project_id;
	const title: string | null = n.project_title;
	const room: string | undefined = n.room;
	console.log(project, title, room);
	// @ts-expect-error actor is null for events without one
	console.log(n.actor.username);
	// @ts-expect-error project_id is null for events addressed to users
	const id: number = n.project_id;
	console.log(id);
	const pos: string | undefined = n.pos;
	console.log(line, who, pos, n.data.id);
};
client.on('notification_received', onNotification);
client.off('notification_received', onNotification);

client.on('error', (e: ErrorEvent) => {
	if (e.type === 'connection_lost') {
		const text: 'Unable to reconnect to server. Please refresh the page.' = e.message;
		console.log(text);
	} else if (e.type === 'error') {
		console.log(e.code);
	}
});
client.on('resume_failed', (r) => {
	const reason: 'expired' | 'reset' | 'invalid' = r.reason;
	console.log(r.room, reason);
});
client.on('state', (s: StateChange) => console.log(s.state, s.attempt, s.maxAttempts, s.delay));
client.on('close', (c) => console.log(c.code, c.wasClean));
const stop: () => void = client.on('milestone_changed', (data) => console.log(data.project_id, data.title));
stop();
client.on('auth_failed', (a) => {
	const t: 'auth_failed' = a.type;
	console.log(t);
});
client.on('error', (e) => {
	if (e.type === 'auth_failed') console.log(e.message);
});

// Apps destructure the client, as useWebSocket() users do.
const { on, off, subscribe, unsubscribe, isConnected, connect, disconnect } = client;
connect();
subscribe(2);
unsubscribe(2);
const up: boolean = isConnected();
console.log(up, on, off);
disconnect();

client.subscribe('2'); // a route parameter
// @ts-expect-error a project id is a number or a numeric string
client.subscribe({ id: 2 });
// @ts-expect-error getToken is required
createHeraldClient({ url: 'ws://x/' });
client.on('resume_failed', (r) => {
	// @ts-expect-error reason is one of three words
	const bad: 'gone' = r.reason;
	console.log(bad);
});
client.on('state', (s) => {
	if (s.state === 'unauthorized') console.log(s);
	// @ts-expect-error there is no such state
	if (s.state === 'reconnected') console.log(s);
});
