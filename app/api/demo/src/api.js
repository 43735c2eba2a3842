// The server's GraphQL API: queries and mutations over HTTP, subscriptions over WebSocket
// (graphql-transport-ws), with polling while the socket is down.

export class ApiError extends Error {
  constructor(message, code = "ERROR") {
    super(message);
    this.code = code;
  }
}

export class Api {
  constructor(endpoint) {
    this.endpoint = endpoint;
    this.token = null; // the Sign-In with Ethereum session token, once signed in
  }

  async request(query, variables = {}) {
    const headers = { "content-type": "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.endpoint, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    } catch {
      throw new ApiError("The server does not answer. Is it running?", "UNAVAILABLE");
    }
    const body = await response.json().catch(() => null);
    if (!body) throw new ApiError(`The server answered ${response.status}.`, "UNAVAILABLE");
    if (body.errors?.length) {
      const [error] = body.errors;
      throw new ApiError(error.message, error.extensions?.code);
    }
    return body.data;
  }
}

const PROTOCOL = "graphql-transport-ws";
const POLL_MS = 3000;

/**
 * Subscriptions that survive reconnections: each is re-sent after every connection_ack.
 * While the socket is down, each subscription's `poll` (if any) runs every few seconds instead.
 * `onState` hears "connecting", "live" or "polling".
 */
export class Live {
  constructor(url, onState = () => {}) {
    this.url = url;
    this.onState = onState;
    this.token = null;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.socket = null;
    this.acked = false;
    this.retryMs = 500;
    this.pollTimer = null;
    this.closing = false;
  }

  /** Starts (or restarts, e.g. after signing in) the connection, authenticated by `token`. */
  connect(token = this.token) {
    this.token = token;
    this.disconnect();
    this.closing = false;
    this.acked = false;
    this.onState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url, PROTOCOL);
    } catch {
      this.fallBack();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      const payload = this.token ? { authorization: `Bearer ${this.token}` } : {};
      socket.send(JSON.stringify({ type: "connection_init", payload }));
    };
    socket.onmessage = (event) => this.receive(socket, JSON.parse(event.data));
    socket.onclose = () => {
      if (socket !== this.socket) return;
      this.acked = false;
      if (this.closing) return;
      this.fallBack();
      setTimeout(() => socket === this.socket && this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10000);
    };
  }

  disconnect() {
    this.closing = true;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  /** Subscribes `query`; `onData(data)` hears every `next`; returns the unsubscribe function. */
  subscribe(query, variables, { onData, onError = () => {}, poll = null }) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, onData, onError, poll });
    if (this.acked) this.send(id);
    return () => {
      this.subscriptions.delete(id);
      if (this.acked) this.socket.send(JSON.stringify({ id, type: "complete" }));
    };
  }

  send(id) {
    const { query, variables } = this.subscriptions.get(id);
    this.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
  }

  receive(socket, message) {
    if (socket !== this.socket) return;
    switch (message.type) {
      case "connection_ack":
        this.acked = true;
        this.retryMs = 500;
        this.stopPolling();
        this.onState("live");
        for (const id of this.subscriptions.keys()) this.send(id);
        break;
      case "ping":
        socket.send(JSON.stringify({ type: "pong" }));
        break;
      case "next": {
        const subscription = this.subscriptions.get(message.id);
        if (!subscription) break;
        if (message.payload.errors?.length) subscription.onError(message.payload.errors[0]);
        else subscription.onData(message.payload.data);
        break;
      }
      case "error":
        this.subscriptions.get(message.id)?.onError(message.payload[0] ?? { message: "subscription refused" });
        break;
    }
  }

  fallBack() {
    this.onState("polling");
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      for (const { poll } of this.subscriptions.values()) poll?.();
    }, POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
