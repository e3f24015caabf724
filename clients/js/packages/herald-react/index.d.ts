// Type declarations of herald-react.
import type { JSX, ReactNode } from 'react';
import type {
	EventData, HeraldClient, HeraldClientOptions, ProjectId, Unsubscribe,
} from 'herald-client';

export type * from 'herald-client';

export interface HeraldProviderProps {
	/** The WebSocket endpoint without token, e.g. "wss://example.com/ws/notifications/". */
	url: string;
	/** Returns the JWT (or a promise of it); the latest function given is the one called. */
	getToken: () => string | Promise<string>;
	/** Other options of createHeraldClient (backoff, refreshBefore, …), read when url changes. */
	options?: Omit<HeraldClientOptions, 'url' | 'getToken'>;
	children?: ReactNode;
}

/** One client for `url`, connected while mounted. */
export declare function HeraldProvider(props: HeraldProviderProps): JSX.Element;

/** The client of the nearest <HeraldProvider>. */
export declare function useHeraldClient(): HeraldClient;

export interface WebSocketApi {
	/** Add a listener (removed at the latest when the component unmounts); returns its remover. */
	on<K extends string>(type: K, fn: (data: EventData<K>) => void): Unsubscribe;
	off<K extends string>(type: K, fn: (data: EventData<K>) => void): void;
	subscribe(projectId: ProjectId): void;
	unsubscribe(projectId: ProjectId): void;
	isConnected(): boolean;
}

/** The seed's useWebSocket(); the functions keep their identity across renders. */
export declare function useWebSocket(): WebSocketApi;

/** Keeps room project_{projectId} joined while mounted; null, undefined or '' hold nothing. */
export declare function useProjectSubscription(projectId: ProjectId | null | undefined): void;

export type NotificationType = 'success' | 'error' | 'warning' | 'info';

/** The seed's addNotification() parameters. */
export interface NotificationInput {
	type?: NotificationType;
	/** Main message (required). */
	message: string;
	/** Optional detailed text. */
	description?: string;
	/** Auto-dismiss after this many ms (default 5000); 0 keeps it until dismissed. */
	duration?: number;
}

export interface AppNotification {
	id: number;
	type: NotificationType;
	message: string;
	description?: string;
	duration: number;
	/** Date.now() when it was added. */
	createdAt: number;
}

export interface NotificationApi {
	/** Shows a toast; returns its id. */
	addNotification(notification: NotificationInput): number;
	removeNotification(id: number): void;
	/** The notifications shown now, oldest first. */
	notifications: readonly AppNotification[];
}

export interface NotificationProviderProps {
	children?: ReactNode;
	/** The duration of a notification that gives none, in ms; default 5000. */
	defaultDuration?: number;
	/** false: render no toast list (render your own from useNotification().notifications). */
	toasts?: boolean;
	/** An extra class for the toast list. */
	className?: string;
	/** How many toasts the list shows at most (the newest); default 5. */
	max?: number;
}

export declare function NotificationProvider(props: NotificationProviderProps): JSX.Element;

/** The seed's useNotification(). */
export declare function useNotification(): NotificationApi;

export interface ToastListProps {
	notifications: readonly AppNotification[];
	onDismiss: (id: number) => void;
	className?: string;
}

/** The default toast list (what NotificationProvider renders). */
export declare function ToastList(props: ToastListProps): JSX.Element;

/** The toasts the bridge shows for the client's errors. */
export declare const CONNECTION_TOASTS: Readonly<Record<'connection_error' | 'connection_lost' | 'auth_failed',
	Required<Omit<NotificationInput, 'description'>>>>;

export interface NotificationBridgeOptions {
	/** Show each notification_received as an info toast (default true). */
	notifications?: boolean;
	/** Show connection_error, connection_lost and auth_failed as error toasts (default true). */
	errors?: boolean;
	/** The duration of the notifications' toasts, in ms (default: the provider's). */
	duration?: number;
}

export declare function useNotificationBridge(options?: NotificationBridgeOptions): void;
export declare function NotificationBridge(props: NotificationBridgeOptions): null;
