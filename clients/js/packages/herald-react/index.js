/*
 * herald-react - React bindings of herald-client: one client per <HeraldProvider>, the seed's
 * useWebSocket() and NotificationContext (useNotification(), toasts), project subscriptions, and
 * an opt-in bridge that shows notifications and connection errors as toasts.
 *
 * Plain ES module without JSX, so it needs no build. Types: index.d.ts. Usage: README.md of
 * clients/js in Herald's sources.
 */
import {
	createContext, createElement as h, useCallback, useContext, useEffect, useMemo, useRef,
	useState,
} from 'react';
import { createHeraldClient, toProjectId } from 'herald-client';

const HeraldContext = createContext(null);

/**
 * Creates one client for `url`, connects it while mounted, disconnects it when unmounted.
 * getToken may change between renders: the latest one is always called.
 */
export function HeraldProvider({ url, getToken, options, children }) {
	const tokenRef = useRef(getToken);
	tokenRef.current = getToken;
	const optionsRef = useRef(options);
	optionsRef.current = options;
	const client = useMemo(() => createHeraldClient({
		...optionsRef.current,
		url,
		getToken: () => tokenRef.current(),
	}), [url]);
	useEffect(() => {
		client.connect();
		return () => client.disconnect();
	}, [client]);
	return h(HeraldContext.Provider, { value: client }, children);
}

/** The client of the nearest <HeraldProvider>. */
export function useHeraldClient() {
	const client = useContext(HeraldContext);
	if (client === null)
		throw new Error('herald-react: this hook must be used inside <HeraldProvider>');
	return client;
}

/**
 * The seed's useWebSocket(): { on, off, subscribe, unsubscribe, isConnected }. The functions are
 * the same from one render to the next, and every listener added through them is removed when
 * the component unmounts, even one it forgot to remove.
 */
export function useWebSocket() {
	const client = useHeraldClient();
	const added = useRef(new Map()); /* type -> Set of functions added through this hook */
	useEffect(() => {
		const mine = added.current;
		return () => {
			for (const [type, fns] of mine)
				for (const fn of fns)
					client.off(type, fn);
			mine.clear();
		};
	}, [client]);
	return useMemo(() => {
		const off = (type, fn) => {
			added.current.get(type)?.delete(fn);
			client.off(type, fn);
		};
		return {
			on(type, fn) {
				if (!added.current.has(type))
					added.current.set(type, new Set());
				added.current.get(type).add(fn);
				client.on(type, fn);
				return () => off(type, fn);
			},
			off,
			subscribe: client.subscribe,
			unsubscribe: client.unsubscribe,
			isConnected: client.isConnected,
		};
	}, [client]);
}

/* Subscriptions held by mounted components, per client: project id -> count. */
const held = new WeakMap();

/**
 * Keeps room project_{projectId} joined while the component is mounted. Several components may
 * hold the same project: it is left when the last one unmounts or moves to another project.
 * null, undefined and '' (a route parameter not there yet) hold nothing.
 */
export function useProjectSubscription(projectId) {
	const client = useHeraldClient();
	const id = projectId === null || projectId === undefined || projectId === ''
		? null : toProjectId(projectId);
	useEffect(() => {
		if (id === null)
			return undefined;
		if (!held.has(client))
			held.set(client, new Map());
		const counts = held.get(client);
		counts.set(id, (counts.get(id) || 0) + 1);
		if (counts.get(id) === 1)
			client.subscribe(id);
		return () => {
			counts.set(id, counts.get(id) - 1);
			if (counts.get(id) === 0) {
				counts.delete(id);
				client.unsubscribe(id);
			}
		};
	}, [client, id]);
}

// ------------------------------------------------------------------------------ notifications

const NotificationContext = createContext(null);
const TYPES = new Set(['success', 'error', 'warning', 'info']);
let nextId = 1;

/**
 * The seed's NotificationProvider: holds the notifications shown as toasts and renders them with
 * <ToastList> (unless `toasts` is false: render your own from useNotification().notifications).
 */
export function NotificationProvider({ children, defaultDuration = 5000, toasts = true,
	className, max = 5 }) {
	const [notifications, setNotifications] = useState([]);
	const timers = useRef(new Map());

	const removeNotification = useCallback((id) => {
		clearTimeout(timers.current.get(id));
		timers.current.delete(id);
		setNotifications((list) => list.filter((n) => n.id !== id));
	}, []);

	const addNotification = useCallback(({ type = 'info', message, description, duration } = {}) => {
		if (!TYPES.has(type))
			throw new TypeError(`addNotification: type must be success, error, warning or info, not ${type}`);
		if (typeof message !== 'string' || message === '')
			throw new TypeError('addNotification: message is required');
		const notification = {
			id: nextId++, type, message, description,
			duration: duration === undefined ? defaultDuration : duration,
			createdAt: Date.now(),
		};
		setNotifications((list) => [...list, notification]);
		if (notification.duration > 0)
			timers.current.set(notification.id,
				setTimeout(() => removeNotification(notification.id), notification.duration));
		return notification.id;
	}, [defaultDuration, removeNotification]);

	useEffect(() => {
		const pending = timers.current;
		return () => {
			for (const timer of pending.values())
				clearTimeout(timer);
			pending.clear();
		};
	}, []);

	const value = useMemo(() => ({ addNotification, removeNotification, notifications }),
		[addNotification, removeNotification, notifications]);
	return h(NotificationContext.Provider, { value }, children,
		toasts ? h(ToastList, { notifications: notifications.slice(-max), onDismiss: removeNotification,
			className }) : null);
}

/** The seed's useNotification(): { addNotification, removeNotification, notifications }. */
export function useNotification() {
	const value = useContext(NotificationContext);
	if (value === null)
		throw new Error('herald-react: useNotification() must be used inside <NotificationProvider>');
	return value;
}

/**
 * The default toast list: a labelled region whose polite live region announces new toasts (an
 * error toast is an alert). Each toast has a dismiss button; Escape dismisses the toast that has
 * the focus. No inline style: styles.css of this package, or the app's own CSS, styles the
 * classes herald-toasts, herald-toast, herald-toast--<type>, herald-toast__message,
 * herald-toast__description and herald-toast__close.
 */
export function ToastList({ notifications, onDismiss, className }) {
	return h('section', {
		className: className ? `herald-toasts ${className}` : 'herald-toasts',
		'aria-label': 'Notifications',
		'aria-live': 'polite',
		'aria-relevant': 'additions',
	}, notifications.map((n) => h('div', {
		key: n.id,
		className: `herald-toast herald-toast--${n.type}`,
		role: n.type === 'error' ? 'alert' : 'status',
		'data-type': n.type,
		onKeyDown: (ev) => {
			if (ev.key === 'Escape') {
				ev.stopPropagation();
				onDismiss(n.id);
			}
		},
	},
	h('div', { className: 'herald-toast__body' },
		h('p', { className: 'herald-toast__message' }, n.message),
		n.description ? h('p', { className: 'herald-toast__description' }, n.description) : null),
	h('button', {
		type: 'button',
		className: 'herald-toast__close',
		'aria-label': `Dismiss: ${n.message}`,
		onClick: () => onDismiss(n.id),
	}, '\u00d7'))));
}

// ------------------------------------------------------------------------------ the bridge

/** The seed's toasts for the client's errors. */
export const CONNECTION_TOASTS = Object.freeze({
	connection_error: { type: 'error', message: 'Connection failed, reconnecting...', duration: 7000 },
	connection_lost: { type: 'error', message: 'Connection lost. Please refresh the page.', duration: 0 },
	auth_failed: { type: 'error', message: 'Your session has expired. Please sign in again.', duration: 0 },
});

/**
 * Opt-in: shows every incoming notification as an info toast (its title, then its message) and
 * the client's connection errors as the seed's error toasts. Needs both providers above it.
 */
export function useNotificationBridge({ notifications = true, errors = true, duration } = {}) {
	const { on } = useWebSocket();
	const { addNotification } = useNotification();
	useEffect(() => {
		const stops = [];
		if (notifications)
			stops.push(on('notification_received', (n) => addNotification({
				type: 'info', message: n.title, description: n.message, duration,
			})));
		if (errors)
			stops.push(on('error', (e) => {
				const toast = CONNECTION_TOASTS[e.type];
				if (toast)
					addNotification(toast);
			}));
		return () => stops.forEach((stop) => stop());
	}, [on, addNotification, notifications, errors, duration]);
}

/** useNotificationBridge() as a component: <NotificationBridge /> inside both providers. */
export function NotificationBridge(props) {
	useNotificationBridge(props);
	return null;
}
