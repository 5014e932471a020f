// The live view of a running task: noVNC, view only, scaled. Every connection asks for a fresh stream URL
// (its token lives a minute), so calling connect() again after a drop is how the view reconnects.
import RFB from "/static/novnc/core/rfb.js";
import { api } from "./lib.js";

export class LiveView {
  /** Shows the task's browser in `screen`; `say` reports what the view is doing, in words. */
  constructor(screen, taskId, say) {
    this.screen = screen;
    this.taskId = taskId;
    this.say = say;
    this.rfb = null;
    this.connecting = false;
    this.stopped = false;
  }

  /** Connect unless connected (or connecting) already. */
  async connect() {
    if (this.stopped || this.rfb || this.connecting) return;
    this.connecting = true;
    try {
      const stream = await api(`/api/v1/tasks/${this.taskId}/stream`);
      if (!this.stopped) this.open(stream.stream_url);
    } catch (error) {
      this.say(error.message);  // 409: not running yet or any more, or a worker without live view
    } finally {
      this.connecting = false;
    }
  }

  open(url) {
    this.say("Connecting…");
    const rfb = new RFB(this.screen, url, { wsProtocols: ["binary"], credentials: {} });
    rfb.viewOnly = true;
    rfb.scaleViewport = true;
    rfb.addEventListener("connect", () => this.say("Live: you are watching the task's browser (view only)."));
    rfb.addEventListener("disconnect", () => {
      this.rfb = null;
      if (!this.stopped) this.say("Disconnected: reconnecting…");
    });
    this.rfb = rfb;
  }

  stop() {
    this.stopped = true;
    if (this.rfb) this.rfb.disconnect();
    this.rfb = null;
  }
}
