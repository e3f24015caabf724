// A scratch app that installs the packed tarballs of herald-client and herald-react and must
// type-check with tsc --strict (pack.test.mjs): the seed's front-end examples written with the
// packages, as clients/js/README.md shows them. Lines marked @ts-expect-error are misuses the
// declarations must refuse.
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
	createHeraldClient, type ErrorEvent, type NotificationReceived, type StateChange,
} from 'herald-client';
import {
	HeraldProvider, NotificationBridge, NotificationProvider, useNotification,
	useProjectSubscription, useWebSocket, type AppNotification,
} from 'herald-react';
import 'herald-react/styles.css';

declare function getAccessToken(): Promise<string>;
declare function showErrorToast(message: string): void;
declare const queryClient: { invalidateQueries(filter: { queryKey: unknown[] }): void };

// The seed's wsService, without React.
export const wsService = createHeraldClient({
	url: 'wss://herald.example.com/ws/notifications/',
	getToken: () => getAccessToken(),
});
wsService.on('notification_received', (data) => {
	console.log(`${data.title}: ${data.message}`);
});
wsService.on('error', (data: ErrorEvent) => {
	if (data.type === 'connection_error')
		showErrorToast('Connection failed, reconnecting...');
	if (data.type === 'connection_lost')
		showErrorToast('Connection lost. Please refresh the page.');
	if (data.type === 'auth_failed')
		window.location.assign('/login');
});
const stop = wsService.on('state', (s: StateChange) => console.log(s.state));
stop();
wsService.connect();
wsService.subscribe(123);
wsService.subscribe('123');
console.log(wsService.isConnected());

// The seed's ProjectDetail (a route parameter is a string).
function ProjectDetail({ projectId }: { projectId: string }) {
	const { on, off } = useWebSocket();
	useProjectSubscription(projectId);

	useEffect(() => {
		const handleMilestoneChange = (data: NotificationReceived) => {
			if (data.project_id === Number(projectId)) {
				// Refresh milestone data
				queryClient.invalidateQueries({ queryKey: ['milestones'] });
			}
		};

		on('milestone_changed', handleMilestoneChange);

		return () => {
			off('milestone_changed', handleMilestoneChange);
		};
	}, [projectId]);

	return <div>{/* Component content */}</div>;
}

// The seed's MyComponent.
function MyComponent() {
	const { addNotification } = useNotification();

	const handleAction = () => {
		addNotification({
			type: 'success',
			message: 'Action completed!',
			description: 'Details here',
			duration: 5000, // auto-dismiss after 5 seconds
		});
	};

	return <button onClick={handleAction}>Do Action</button>;
}

// A mutation's onError, and a list of one's own.
function Mutations() {
	const { addNotification, notifications, removeNotification } = useNotification();
	const onError = (error: { response?: { data?: { detail?: string } } }) => {
		addNotification({
			type: 'error',
			message: 'Failed to create milestone',
			description: error.response?.data?.detail,
			duration: 7000,
		});
	};
	const [shown] = useState<readonly AppNotification[]>(notifications);
	// @ts-expect-error the type is one of four words
	addNotification({ type: 'fatal', message: 'x' });
	// @ts-expect-error message is required
	addNotification({ type: 'info' });
	return (
		<ul onClick={() => onError({})}>
			{shown.map((n) => <li key={n.id} onClick={() => removeNotification(n.id)}>{n.message}</li>)}
		</ul>
	);
}

function Who() {
	const { on, isConnected } = useWebSocket();
	useEffect(() => on('notification_received', (n) => {
		// @ts-expect-error actor is null for events without one
		console.log(n.actor.username, isConnected());
		console.log(n.actor?.username, n.project_title ?? 'no project');
	}), [on, isConnected]);
	return null;
}

createRoot(document.getElementById('root')!).render(
	<HeraldProvider url="wss://herald.example.com/ws/notifications/" getToken={getAccessToken}>
		<NotificationProvider>
			<NotificationBridge />
			<ProjectDetail projectId="2" />
			<MyComponent />
			<Mutations />
			<Who />
		</NotificationProvider>
	</HeraldProvider>,
);
