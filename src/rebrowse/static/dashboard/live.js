// The live view of a running task: noVNC, scaled; view only, except while the task waits for a person or records,
// when its owner drives the browser through a control token. Every connection asks for a fresh stream URL (its token lives
// a minute, once), so calling connect() again after a drop is how the view reconnects.
import RFB from "/static/novnc/core/rfb.js";
import { api } from "./lib.js";

const WAITING_FOR_YOU = "Live: the task waits for you. Your keyboard and mouse reach its browser; press Done when you have finished.";

export class LiveView {
  /** Shows the task's browser in `screen`; `say` reports what the view is doing, in words; `drivingHint`: what it
   * says while the user drives the browser. */
  constructor(screen, taskId, say, drivingHint = WAITING_FOR_YOU) {
    this.screen = screen;
    this.taskId = taskId;
    this.say = say;
    this.drivingHint = drivingHint;
    this.rfb = null;
    this.connecting = false;
    this.stopped = false;
    this.interactive = false;
  }

  /** Drive the browser (`true`: the task waits for a person) or only watch it; reconnects when that changes. */
  setInteractive(interactive) {
    if (interactive === this.interactive) return;
    this.interactive = interactive;
    if (this.rfb) this.rfb.disconnect();  // the disconnect handler forgets it; the next connect() asks anew
  }

  /** Connect unless connected (or connecting) already. */
  async connect() {
    if (this.stopped || this.rfb || this.connecting) return;
    this.connecting = true;
    try {
      const control = this.interactive ? "?control=true" : "";
      const stream = await api(`/api/v1/tasks/${this.taskId}/stream${control}`);
      if (!this.stopped) this.open(stream.stream_url, this.interactive);
    } catch (error) {
      this.say(error.message);  // 409: not running yet or any more, or a worker without live view
    } finally {
      this.connecting = false;
    }
  }

  open(url, interactive) {
    this.say("Connecting…");
    const rfb = new RFB(this.screen, url, { wsProtocols: ["binary"], credentials: {} });
    rfb.viewOnly = !interactive;
    rfb.scaleViewport = true;
    this.screen.dataset.interactive = String(interactive);
    rfb.addEventListener("connect", () => this.say(interactive
      ? this.drivingHint
      : "Live: you are watching the task's browser (view only)."));
    rfb.addEventListener("disconnect", () => {
      if (this.rfb !== rfb) return;  // an older connection, replaced already
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
