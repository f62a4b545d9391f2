// Presets of the negotiation simulator: fill the installments and simulate at once.
function wsPreset(button) {
  const form = document.getElementById("negotiation-form");
  const installments = form.querySelector("[name=installments]");
  installments.value = button.dataset.preset;
  if (button.dataset.preset === "1") {
    form.querySelector("[name=entry]").value = "0";
  }
  // The server raises the entry to the creditor's minimum for the simulated total.
  form.querySelector("[name=fill_entry]").value = button.dataset.preset === "1" ? "" : "on";
  htmx.trigger(form, "submit-simulate");
}

// A message swapped in after a change fades after a few seconds.
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll(".ws-flash").forEach((el) => setTimeout(() => el.remove(), 6000));
});

// The screen pop: wait for the next call connected to this operator. On the console it opens the client at
// once; on a client's page it offers the next call without leaving the current one. Where the server streams
// (data-stream: ASGI with PostgreSQL) the call is pushed as a server-sent event; elsewhere, or when the stream
// is refused, the page asks every second.
(function () {
  const box = document.getElementById("call-watch");
  if (!box) return;
  let last = null;
  // Shows an answer ({chamada, ultimo}); true when the page is leaving for the client's.
  function show(data) {
    last = data.ultimo;
    box.dataset.ready = "1"; // the starting point is taken: calls from now on are shown
    const call = data.chamada;
    if (call && call.url && box.dataset.mode === "console") {
      window.location.assign(call.url);
      return true;
    }
    if (call) {
      box.hidden = false;
      box.querySelector("[data-phone]").textContent = call.telefone || "";
      box.querySelector("[data-client]").textContent = call.cliente || box.dataset.unknown;
      const link = box.querySelector("a[data-open]");
      link.hidden = !call.url;
      if (call.url) link.href = call.url;
      const search = box.querySelector("form[data-search]");
      if (search) {
        search.hidden = !!call.url;
        search.querySelector("input[name=q]").value = call.telefone || "";
        search.querySelector("input[name=call_id]").value = call.id || "";
      }
    }
    return false;
  }
  async function poll() {
    try {
      const url = box.dataset.url + (last === null ? "" : "?depois=" + last);
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok && show(await response.json())) return;
    } catch (error) {
      // network hiccup: the next poll tries again
    }
    setTimeout(poll, 1000);
  }
  function listen() {
    const source = new EventSource(box.dataset.stream + (last === null ? "" : "?depois=" + last));
    const receive = (message) => {
      if (show(JSON.parse(message.data))) source.close();
    };
    source.addEventListener("pronto", receive);
    source.addEventListener("chamada", receive);
    // The session ended (signed out here or elsewhere, or expired): the page reloads into the sign-in page.
    source.addEventListener("encerrado", () => {
      source.close();
      window.location.reload();
    });
    source.onerror = () => {
      // While the server is away the browser reconnects by itself, resuming after the last event's id. A
      // refusal (204, an error page) closes the stream for good: the page asks every second instead.
      if (source.readyState === EventSource.CLOSED) poll();
    };
  }
  if (box.dataset.stream && window.EventSource) listen();
  else poll();
})();
