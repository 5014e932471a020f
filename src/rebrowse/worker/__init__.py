"""Workers: slots of Chromium that run queued tasks, the recovery of lost tasks, and the child-process API."""
