// Fakes for the unit tests of both packages: a clock whose timers run only when the test
// advances it, and a WebSocket whose life the test drives.
import assert from 'node:assert/strict';

// Lets pending promise callbacks (the client awaits getToken()) run to completion.
export const settle = () => new Promise((resolve) => setImmediate(resolve));

// Timers that run only when the test advances time.
export class FakeClock {
	now = 0;
	#timers = new Map();
	#nextId = 1;

	setTimeout = (fn, ms) => {
		const id = this.#nextId++;
		this.#timers.set(id, { at: this.now + ms, fn });
		return id;
	};

	clearTimeout = (id) => {
		this.#timers.delete(id);
	};

	// The delays, from now, of the timers still pending.
	pending() {
		return [...this.#timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
	}

	async advance(ms) {
		const target = this.now + ms;
		for (;;) {
			let next = null;
			for (const [id, t] of this.#timers)
				if (t.at <= target && (next === null || t.at < next[1].at))
					next = [id, t];
			if (next === null)
				break;
			this.#timers.delete(next[0]);
			this.now = next[1].at;
			next[1].fn();
			await settle();
		}
		this.now = target;
	}
}

// A WebSocket whose life the test drives: open(), fail(), drop(), receive().
export function fakeWebSocketClass() {
	const sockets = [];
	class FakeWebSocket {
		readyState = 0;
		sent = [];
		closedWith = null;
		onopen = null;
		onmessage = null;
		onclose = null;
		onerror = null;

		constructor(url) {
			this.url = url;
			sockets.push(this);
		}

		send(data) {
			assert.equal(this.readyState, 1, 'send() on a socket that is not open');
			this.sent.push(JSON.parse(data));
		}

		close(code) {
			this.closedWith = code;
			this.readyState = 3;
		}

		open() {
			this.readyState = 1;
			this.onopen?.({});
		}

		// The handshake or the TCP connection failed (browsers fire error, then close 1006).
		// The client then asks the endpoint over HTTP (a promise): settle before looking.
		fail() {
			this.readyState = 3;
			this.onerror?.({});
			this.onclose?.({ code: 1006, reason: '', wasClean: false });
			return settle();
		}

		// An open connection ends (the network, or the hub closing it).
		drop(code = 1006) {
			this.readyState = 3;
			this.onclose?.({ code, reason: '', wasClean: code !== 1006 });
		}

		receive(message) {
			this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
		}
	}
	return { FakeWebSocket, sockets };
}

