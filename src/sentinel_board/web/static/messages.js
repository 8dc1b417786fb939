"use strict";
(async () => {
  const status = document.getElementById("flush-status");
  if (status.dataset.unread === "0") return;
  try {
    const response = await fetch("/messages/flush", { method: "POST" });
    status.textContent = response.ok
      ? "Marked as read: refresh and they move to the right."
      : `Could not mark them read: ${await response.text()}`;
  } catch (error) {
    status.textContent = "Could not mark them read: the server did not answer.";
  }
})();
