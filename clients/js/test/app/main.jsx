// A small React app as a front-end developer writes it with herald-react: the seed's
// ProjectDetail (on('milestone_changed') refetches the milestones), the seed's MyComponent
// (addNotification), and the bridge that shows notifications and connection errors as toasts.
// Built by esbuild in app.test.mjs and served on the hub's origin; its API is the test's.
import { useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
	HeraldProvider, NotificationBridge, NotificationProvider, useHeraldClient, useNotification,
	useProjectSubscription, useWebSocket,
} from 'herald-react';
import 'herald-react/styles.css';

const params = new URLSearchParams(location.search);
const projectId = params.get('project'); // a string, as route parameters are
const tokenUrl = `/api/token${params.has('bad') ? '?bad=1' : ''}`;

// Everything the client emitted, for the test to read.
window.heraldEvents = [];

function ProjectDetail({ projectId }) {
	const { on, off } = useWebSocket();
	useProjectSubscription(projectId);
	const [milestones, setMilestones] = useState([]);
	const [fetches, setFetches] = useState(0);

	const refetch = useCallback(async () => {
		const res = await fetch(`/api/projects/${projectId}/milestones`);
		setMilestones(await res.json());
		setFetches((n) => n + 1);
	}, [projectId]);

	useEffect(() => {
		refetch();
	}, [refetch]);

	useEffect(() => {
		const handleMilestoneChange = (data) => {
			if (data.project_id === Number(projectId)) {
				// Refresh milestone data (the seed: queryClient.invalidateQueries)
				refetch();
			}
		};
		on('milestone_changed', handleMilestoneChange);
		return () => {
			off('milestone_changed', handleMilestoneChange);
		};
	}, [projectId, refetch]);

	return (
		<section>
			<h2>Project {projectId}</h2>
			<ul id="milestones" data-fetches={fetches}>
				{milestones.map((m) => <li key={m.id} data-id={m.id}>{m.title}</li>)}
			</ul>
		</section>
	);
}

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
	return <button id="action" onClick={handleAction}>Do Action</button>;
}

function Status() {
	const client = useHeraldClient();
	const { on } = useWebSocket();
	const [state, setState] = useState('disconnected');
	useEffect(() => {
		const stops = [
			on('state', (s) => setState(s.state)),
			...['error', 'auth_failed', 'open', 'close', 'notification_received', 'milestone_changed']
				.map((type) => on(type, (data) => window.heraldEvents.push({
					on: type, type: data.type, t: Date.now(), id: data.data?.id,
				}))),
		];
		setState(client.isConnected() ? 'open' : 'connecting');
		return () => stops.forEach((stop) => stop());
	}, [client, on]);
	return <p id="status" data-state={state}>{state}</p>;
}

function App() {
	return (
		<HeraldProvider
			url={`ws://${location.host}/ws/notifications/`}
			getToken={async () => (await fetch(tokenUrl)).text()}
		>
			<NotificationProvider>
				<NotificationBridge />
				<Status />
				<MyComponent />
				{projectId && <ProjectDetail projectId={projectId} />}
			</NotificationProvider>
		</HeraldProvider>
	);
}

createRoot(document.getElementById('root')).render(<App />);
