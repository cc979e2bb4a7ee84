// Protocol v2 session state: the position of the state held, and whether a reconnect may resume from it.
export class Session {
  constructor() {
    this.position = null;
    this.resumable = false;
    this.subscribed = null;
    this.label = "";
  }

  // Pushes say where the state we hold now is; a new socket's "connected" says where the server is, not where
  // we are, and replies go to their request only (connection.js).
  observe(msg) {
    if (msg.epoch !== undefined && msg.seq !== undefined && msg.type !== "connected") {
      this.position = { epoch: msg.epoch, seq: msg.seq };
    }
    if (msg.type === "resumed") this.label = `resumed ${msg.from}→${msg.to}`;
    if (msg.type === "snapshot_required") this.label = `resynced (${msg.reason.replace("_", " ")})`;
    if (msg.type === "subscribed" || msg.type === "unsubscribed") this.subscribed = msg.subscriptions;
  }

  // After "connected": the resume point when the same subscription can continue where it was, else null.
  resumeFrom() {
    const from = this.resumable && this.position && this.subscribed ? this.position : null;
    if (!from) this.subscribed = null;
    this.resumable = true;
    return from;
  }

  status() {
    return this.position ? [this.label, `seq ${this.position.seq}`].filter(Boolean).join(" · ") : null;
  }
}
