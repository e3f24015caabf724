// Type declarations of herald-client.js, Herald's browser client.

/** The author of the change a notification reports, as the back end gave it. */
export interface Actor {
	id: number;
	username: string;
	first_name: string;
	last_name: string;
	[extra: string]: unknown;
}

/** A notification pushed by the hub (the reference's "Notification Received"). */
export interface NotificationReceived {
	type: 'notification_received';
	title: string;
	message: string;
	event_type: string;
	/** ISO-8601 UTC, e.g. "2025-10-24T14:30:00Z". */
	timestamp: string;
	/** null when the event named no actor. */
	actor: Actor | null;
	/** null when the event was addressed to users rather than to a project. */
	project_id: number | null;
	/** null when the event gave no project title. */
	project_title: string | null;
	data: Record<string, unknown>;
	/** The room it reached this connection through: "user_{id}" or "project_{id}". */
	room?: string;
	/** The hub's stream position, opaque to the client; absent when the hub offers none. */
	pos?: string;
	[extra: string]: unknown;
}

/** The hub's answer to a client message it refused; the connection stays open. */
export interface ServerError {
	type: 'error';
	message: string;
	code: string;
}

/** Raised by the client when one (re)connect attempt fails; it retries by itself. */
export interface ConnectionError {
	type: 'connection_error';
	message: 'WebSocket connection failed';
	/** What failed when the attempt never reached the network (getToken() threw, bad URL). */
	cause?: unknown;
}

/** Raised by the client when it gives up reconnecting. */
export interface ConnectionLost {
	type: 'connection_lost';
	message: 'Unable to reconnect to server. Please refresh the page.';
}

/** Raised once when the hub refuses the token (HTTP 403), on `auth_failed` and on `error`. */
export interface AuthFailed {
	type: 'auth_failed';
	message: 'The server refused the token';
}

export type ErrorEvent = ConnectionError | ConnectionLost | AuthFailed | ServerError;

/** The hub could not replay what a room missed: the app should refetch that room's data. */
export interface ResumeFailed {
	type: 'resume_failed';
	/** "project_{id}" or "user_{id}". */
	room: string;
	/** expired: older than the hub's history; reset: the hub's log was reset; invalid: not a position. */
	reason: 'expired' | 'reset' | 'invalid';
}

/** An open connection ended (not emitted for attempts that never opened). */
export interface CloseInfo {
	code: number;
	reason: string;
	wasClean: boolean;
}

export type ConnectionState =
	| 'disconnected' /* before connect(), or after disconnect() */
	| 'connecting'   /* an attempt is under way */
	| 'open'
	| 'reconnecting' /* waiting `delay` ms before attempt `attempt` */
	| 'lost'         /* gave up after maxAttempts failed reconnects */
	| 'unauthorized'; /* the hub refused the token and getToken() gave no other */

export interface StateChange {
	state: ConnectionState;
	/** 0 for the first connect, 1..maxAttempts for reconnects. */
	attempt: number;
	maxAttempts: number;
	/** Only with state 'reconnecting'. */
	delay?: number;
}

/** Messages the hub sends, by type. */
export type ServerMessage = NotificationReceived | ServerError | ResumeFailed;

/** The events of the client: server messages by their `type`, and the client's own. */
export interface HeraldEventMap {
	notification_received: NotificationReceived;
	error: ErrorEvent;
	auth_failed: AuthFailed;
	resume_failed: ResumeFailed;
	open: Record<string, never>;
	close: CloseInfo;
	state: StateChange;
}

/**
 * The type of an event: the client's own, or a notification's `event_type`
 * (milestone_created …) or `<thing>_changed` (milestone_changed …), whose data is the
 * notification.
 */
export type EventData<K extends string> = K extends keyof HeraldEventMap ? HeraldEventMap[K]
	: NotificationReceived;

/** What on() returns: removes the listener it added. */
export type Unsubscribe = () => void;

/** A project id: a positive integer, or the same as a numeric string ("2", a route parameter). */
export type ProjectId = number | string;

export interface HeraldClientOptions {
	/** The WebSocket endpoint without token, e.g. "wss://example.com/ws/notifications/". */
	url: string;
	/** Called before every connect and reconnect, and before the token expires; returns the JWT. */
	getToken: () => string | Promise<string>;
	/** Delays before reconnect attempts 1..n in ms; default [1000, 2000, 4000, 8000, 16000]. */
	backoff?: readonly number[];
	/** Send a new token this many ms before the current one's exp (default 60000); null: never. */
	refreshBefore?: number | null;
	/** For tests: a WebSocket class, fetch, timer functions and a clock. */
	WebSocket?: new (url: string) => WebSocket;
	fetch?: ((url: string, init?: RequestInit) => Promise<{ status: number }>) | null;
	setTimeout?: (fn: () => void, ms: number) => unknown;
	clearTimeout?: (id: any) => void;
	now?: () => number;
}

export interface HeraldClient {
	/** Open the connection; no-op while connecting, connected or waiting to reconnect. */
	connect(): void;
	/** Close, stop reconnecting, and forget the stream positions (subscriptions are kept). */
	disconnect(): void;
	/** Add a listener; returns the function that removes it. */
	on<K extends string>(type: K, fn: (data: EventData<K>) => void): Unsubscribe;
	off<K extends string>(type: K, fn: (data: EventData<K>) => void): void;
	/** Join room project_{id} now if connected, and again after every reconnect. */
	subscribe(projectId: ProjectId): void;
	unsubscribe(projectId: ProjectId): void;
	isConnected(): boolean;
}

export declare const DEFAULT_BACKOFF: readonly number[];
export declare const DEFAULT_REFRESH_BEFORE: number;

/** A project id as the hub wants it; throws a TypeError for anything else. */
export declare function toProjectId(id: ProjectId): number;

export declare function createHeraldClient(options: HeraldClientOptions): HeraldClient;
