"use strict";
(() => {
  const panel = document.getElementById("status-panel");
  const live = document.getElementById("live");
  // Sentinel names its events by type; EventSource needs a listener per name.
  const TYPES = [
    "+reset-master", "+slave", "+failover-state-reconf-slaves", "+failover-detected",
    "+slave-reconf-sent", "+slave-reconf-inprog", "+slave-reconf-done", "-dup-sentinel",
    "+sentinel", "+sdown", "-sdown", "+odown", "-odown", "+new-epoch", "+try-failover",
    "+elected-leader", "+failover-state-select-slave", "no-good-slave", "selected-slave",
    "+selected-slave", "failover-state-send-slaveof-noone", "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion", "+promoted-slave", "failover-end-for-timeout",
    "+failover-end-for-timeout", "failover-end", "+failover-end", "switch-master",
    "+switch-master", "+tilt", "-tilt", "+convert-to-slave", "+reboot", "-reboot",
    "+vote-for-leader", "+config-update-from", "+fix-slave-config", "+role-change",
    "-role-change", "-failover-abort-not-elected", "-failover-abort-no-good-slave",
    "+monitor", "-monitor", "+set", "+cluster-reset",
  ];
  let busy = false;
  let again = false;

  const say = (state, text) => {
    live.dataset.state = state;
    live.textContent = text;
  };

  // The panel is rendered by the server (escaped by Jinja), so one template serves
  // the first load and every update.
  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch("/status/panel", { cache: "no-store" });
      if (response.ok) panel.innerHTML = await response.text();
    } catch (error) {
      /* the next event or tick tries again */
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  };

  const source = new EventSource("/api/events");
  source.addEventListener("open", () => say("live", "live: following the sentinels’ events"));
  source.addEventListener("error", () => say("lost", "event stream lost: reconnecting…"));
  for (const type of TYPES) source.addEventListener(type, refresh);
  setInterval(refresh, 2000);
})();
