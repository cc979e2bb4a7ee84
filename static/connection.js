// One WebSocket to /ws/sportsbooks that reconnects with exponential backoff and jitter.
export class Connection {
  constructor({ onMessage, onState, token }) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.token = token || null;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.nextId = 1;
    this.pending = new Map();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/sportsbooks?v=2`;
  }

  // The token travels in the X-Token cookie, scoped to the WebSocket path: never in a URL, where
  // proxies and access logs would keep it. The server refuses foreign origins, so the cookie
  // cannot be used by another site to open a socket.
  setCookie() {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    const value = this.token ? encodeURIComponent(this.token) : "";
    const expiry = this.token ? "" : "; Max-Age=0";
    document.cookie = `X-Token=${value}; Path=/ws/sportsbooks; SameSite=Strict${secure}${expiry}`;
  }

  open() {
    clearTimeout(this.timer);
    this.setCookie();
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("live");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.id !== undefined && this.pending.has(message.id)) {  // a reply goes to its request alone
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        resolve(message);
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      for (const resolve of this.pending.values()) resolve({ type: "error", code: "NX-503", message: "connection lost" });
      this.pending.clear();
      this.attempt += 1;
      const delay = Math.min(30000, 500 * 2 ** Math.min(this.attempt - 1, 6)) * (0.5 + Math.random() / 2);
      this.onState("reconnecting", delay);
      this.timer = setTimeout(() => this.open(), delay);
    });
  }

  reconnect(token) {
    this.token = token || null;
    this.attempt = 0;
    const old = this.socket;
    this.socket = null;
    if (old) old.close(1000, "re-authenticating");
    this.open();
  }

  send(type, payload) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(payload === undefined ? { type } : { type, payload }));
    return true;
  }

  request(type, payload) {
    const id = `r${this.nextId++}`;
    return new Promise((resolve) => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
        resolve({ type: "error", code: "NX-503", message: "not connected" });
        return;
      }
      this.pending.set(id, resolve);
      this.socket.send(JSON.stringify({ type, payload, id }));
    });
  }
}
