// Type declarations of herald-client.js, Herald's browser client.

/** The author of the change a notification reports. */
export interface Actor {
	id: number;
	username: string;
	first_name: string;
	last_name: string;
}

/** A notification pushed by the hub (the reference's "Notification Received"). */
export interface NotificationReceived {
	type: 'notification_received';
	title: string;
	message: string;
	event_type: string;
	/** ISO-8601 UTC, e.g. "2025-10-24T14:30:00Z". */
	timestamp: string;
	actor: Actor;
	project_id: number;
	project_title: string;
	data: Record<string, unknown>;
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

export type ErrorEvent = ConnectionError | ConnectionLost | ServerError;

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
	| 'lost';        /* gave up after maxAttempts failed reconnects */

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
	resume_failed: ResumeFailed;
	open: Record<string, never>;
	close: CloseInfo;
	state: StateChange;
}

export interface HeraldClientOptions {
	/** The WebSocket endpoint without token, e.g. "wss://example.com/ws/notifications/". */
	url: string;
	/** Called before every connect and reconnect; returns the JWT (or a promise of it). */
	getToken: () => string | Promise<string>;
	/** Delays before reconnect attempts 1..n in ms; default [1000, 2000, 4000, 8000, 16000]. */
	backoff?: readonly number[];
	/** For tests: a WebSocket class, and timer functions. */
	WebSocket?: new (url: string) => WebSocket;
	setTimeout?: (fn: () => void, ms: number) => unknown;
	clearTimeout?: (id: any) => void;
}

export interface HeraldClient {
	/** Open the connection; no-op while connecting, connected or waiting to reconnect. */
	connect(): void;
	/** Close, stop reconnecting, and forget the stream position (subscriptions are kept). */
	disconnect(): void;
	on<K extends keyof HeraldEventMap>(type: K, fn: (data: HeraldEventMap[K]) => void): void;
	on(type: string, fn: (data: any) => void): void;
	off<K extends keyof HeraldEventMap>(type: K, fn: (data: HeraldEventMap[K]) => void): void;
	off(type: string, fn: (data: any) => void): void;
	/** Join room project_{id} now if connected, and again after every reconnect. */
	subscribe(projectId: number): void;
	unsubscribe(projectId: number): void;
	isConnected(): boolean;
}

export declare const DEFAULT_BACKOFF: readonly number[];

export declare function createHeraldClient(options: HeraldClientOptions): HeraldClient;
