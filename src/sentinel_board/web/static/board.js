"use strict";
(() => {
  const form = document.getElementById("post-form");
  const count = document.getElementById("count");
  const status = document.getElementById("form-status");
  const button = form.querySelector("button");
  // One key per message until it is acknowledged: a retry after a network
  // error or a 503 during failover is then stored once, never twice.
  let pendingKey = null;

  const newKey = () =>
    (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    pendingKey = pendingKey || newKey();
    button.disabled = true;
    say("Sending…");
    try {
      const response = await fetch("/message", {
        method: "POST",
        body: new URLSearchParams(new FormData(form)), // urlencoded, as the form itself posts
        headers: { "Idempotency-Key": pendingKey },
      });
      const text = await response.text();
      if (response.ok) {
        count.innerHTML = text;
        form.reset();
        pendingKey = null;
        say("Sent.");
      } else {
        say(text || `Not sent (HTTP ${response.status}).`, true);
      }
    } catch (error) {
      say("Not sent: the server did not answer. Send again; it will not be stored twice.", true);
    } finally {
      button.disabled = false;
    }
  });

  form.message.addEventListener("input", () => {
    pendingKey = null;
  });

  const refresh = async () => {
    try {
      const response = await fetch("/unread-list/size");
      if (response.ok) count.innerHTML = await response.text();
    } catch (error) {
      /* the next tick tries again */
    }
  };
  setInterval(refresh, 3000);
})();
