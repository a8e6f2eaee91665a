// Runs a task over and over while started and while the tab is visible: one run at a time, the next
// one `intervalMs` after the last ended, so a slow server never sees a storm of requests.

export function poller(task, intervalMs) {
  let started = false;
  let running = false;
  let again = false;
  let timer = null;

  async function tick() {
    timer = null;
    if (!started || document.hidden) return;
    running = true;
    try {
      await task();
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      tick();
    } else if (started && !document.hidden) {
      timer = setTimeout(tick, intervalMs);
    }
  }

  // Runs the task now (or as soon as the run under way ends), then keeps the rhythm.
  function now() {
    if (!started) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    tick();
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === null && !running) now();
  });

  return {
    start() {
      started = true;
      now();
    },
    stop() {
      started = false;
      again = false;
      clearTimeout(timer);
      timer = null;
    },
    now,
  };
}
