// Live updates: subscriptions over the client's WebSocket (clients/js), each re-opened after a
// drop with a growing delay, and polled every few seconds meanwhile so the page never goes stale.

const POLL_MS = 3000;

/**
 * Named subscriptions of one client. `onState` hears "idle", "connecting", "live" or "polling";
 * `onUnauthenticated` hears a subscription refused for want of a session.
 */
export class Live {
  constructor(client, { onState = () => {}, onUnauthenticated = () => {} } = {}) {
    this.client = client;
    this.onState = onState;
    this.onUnauthenticated = onUnauthenticated;
    this.subscriptions = new Map(); // name -> {query, variables, onData, poll, stop, timer, retryMs, live}
    this.pollTimer = null;
  }

  /** (Re)subscribes `name`; `poll` loads the same data while the socket is down. */
  subscribe(name, query, variables, { onData, poll = null }) {
    this.unsubscribe(name);
    const subscription = { query, variables, onData, poll, stop: null, timer: null, retryMs: 500, live: false };
    this.subscriptions.set(name, subscription);
    this.open(name, subscription);
  }

  unsubscribe(name) {
    const subscription = this.subscriptions.get(name);
    if (!subscription) return;
    this.subscriptions.delete(name);
    clearTimeout(subscription.timer);
    subscription.stop?.();
    this.report();
  }

  /** Re-opens every subscription, e.g. after signing in or out (the socket carries the session). */
  reconnect() {
    for (const [name, subscription] of this.subscriptions) {
      clearTimeout(subscription.timer);
      subscription.stop?.();
      subscription.live = false;
      this.open(name, subscription);
    }
  }

  open(name, subscription) {
    this.report();
    try {
      subscription.stop = this.client.subscribe(
        subscription.query,
        subscription.variables,
        (data) => subscription.onData(data),
        (error) => this.dropped(name, subscription, error),
        {
          onOpen: () => {
            subscription.live = true;
            subscription.retryMs = 500;
            this.report();
          },
        },
      );
    } catch (error) {
      this.dropped(name, subscription, error);
    }
  }

  dropped(name, subscription, error) {
    if (this.subscriptions.get(name) !== subscription) return; // unsubscribed meanwhile
    subscription.live = false;
    subscription.stop = null;
    if (error?.code === "UNAUTHENTICATED") {
      this.unsubscribe(name);
      this.onUnauthenticated(error);
      return;
    }
    subscription.timer = setTimeout(() => this.open(name, subscription), subscription.retryMs);
    subscription.retryMs = Math.min(subscription.retryMs * 2, 10000);
    this.report();
  }

  report() {
    const all = [...this.subscriptions.values()];
    const down = all.some((subscription) => !subscription.live && subscription.stop === null);
    const state = !all.length ? "idle" : down ? "polling" : all.every((s) => s.live) ? "live" : "connecting";
    this.onState(state);
    if (state === "polling" && !this.pollTimer) {
      this.pollTimer = setInterval(() => {
        for (const subscription of this.subscriptions.values()) if (!subscription.live) subscription.poll?.();
      }, POLL_MS);
    } else if (state !== "polling" && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  }
}
