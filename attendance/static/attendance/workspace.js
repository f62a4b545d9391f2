// Presets of the negotiation simulator: fill the proposal and simulate at once. "à vista" is one payment with the
// creditor's cash discount; "Nx" is N payments in all, the entry (raised to the creditor's minimum) being the first.
function wsPreset(button) {
  const form = document.getElementById("negotiation-form");
  const preset = button.dataset.preset;
  form.querySelector("[name=installments]").value = preset;
  form.querySelector("[name=preset]").value = preset;
  if (preset === "1") {
    form.querySelector("[name=entry]").value = "0";
    form.querySelector("[name=discount_percent]").value = button.dataset.discount;
  }
  // The server raises the entry to the creditor's minimum for the simulated total.
  form.querySelector("[name=fill_entry]").value = preset === "1" ? "" : "on";
  htmx.trigger(form, "submit-simulate");
}

// A field changed by hand: the proposal is no longer the preset's.
document.addEventListener("input", (event) => {
  const form = event.target.form;
  if (form && form.id === "negotiation-form" && event.target.name !== "notes") {
    form.querySelector("[name=preset]").value = "";
  }
});

// A message swapped in after a change fades after a few seconds; an error stays until the next action.
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll(".ws-flash:not(.ws-flash-error)").forEach((el) => setTimeout(() => el.remove(), 6000));
});

// Every operator action says what happened. htmx swaps nothing on a 4xx/5xx or a lost connection, so what was
// typed stays; this says so: the server's own message for a 4xx that has one, else "Não foi possível salvar".
(function () {
  const box = () => document.getElementById("ws-messages");
  function say(text) {
    const messages = box();
    if (!messages) return;
    const flash = document.createElement("div");
    flash.className = "ws-flash ws-flash-error";
    flash.setAttribute("role", "alert");
    flash.dataset.testid = "action-error";
    flash.textContent = text;
    messages.replaceChildren(flash);
  }
  function serverMessage(xhr) {
    if (xhr.status < 400 || xhr.status >= 500) return "";
    const type = xhr.getResponseHeader("Content-Type") || "";
    const body = xhr.responseText || "";
    if (type.startsWith("text/plain")) return body.trim().slice(0, 300);
    if (type.startsWith("application/json")) {
      try {
        const data = JSON.parse(body);
        return String(data.erro || data.error || "").slice(0, 300);
      } catch (error) {
        return "";
      }
    }
    // The site's error pages (403, 404) say it in a paragraph of their <main>.
    const page = new DOMParser().parseFromString(body, "text/html");
    const paragraph = page.querySelector("main p");
    return paragraph ? paragraph.textContent.trim().slice(0, 300) : "";
  }
  const failed = () => (box() && box().dataset.failed) || "Não foi possível salvar — tente de novo.";
  document.addEventListener("htmx:responseError", (event) => say(serverMessage(event.detail.xhr) || failed()));
  document.addEventListener("htmx:sendError", () => say(failed()));
  document.addEventListener("htmx:timeout", () => say(failed()));
  // A new action clears the last error: what it says next is about that action.
  document.addEventListener("htmx:beforeRequest", () => {
    const messages = box();
    if (messages) messages.querySelectorAll(".ws-flash-error").forEach((el) => el.remove());
  });
})();

// A stale response never overwrites a newer state. Each request is numbered by the part it swaps; a response
// older than the newest request for that part is dropped. While "Gerar acordo" is on its way no simulation is
// sent (a late one would find the títulos already in the agreement), and every simulation sent before it is stale.
(function () {
  const newest = {};
  let agreementInFlight = false;
  const partOf = (detail) => (detail.target && detail.target.id) || "page";
  const kind = (elt) => (elt && elt.dataset ? elt.dataset.negotiation || "" : "");
  document.addEventListener("htmx:beforeRequest", (event) => {
    const detail = event.detail;
    if (kind(detail.elt) === "simular" && agreementInFlight) {
      event.preventDefault();
      return;
    }
    if (kind(detail.elt) === "acordo") agreementInFlight = true;
    const part = partOf(detail);
    newest[part] = (newest[part] || 0) + 1;
    detail.xhr.wsPart = part;
    detail.xhr.wsNumber = newest[part];
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (kind(event.detail.elt) === "acordo") agreementInFlight = false;
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.wsPart && xhr.wsNumber < newest[xhr.wsPart]) event.detail.shouldSwap = false;
  });
})();

// A WhatsApp template's variables edited by hand: its preview shows the text as it will go (the text itself is
// the approved template's, never edited).
document.addEventListener("input", (event) => {
  const form = event.target.form;
  if (!form || form.dataset.templateBody === undefined) return;
  const preview = form.querySelector("[data-preview]");
  if (!preview) return;
  preview.textContent = form.dataset.templateBody.replace(/\{\{(\d+)\}\}/g, (whole, number) => {
    const input = form.querySelector(`[name="var${number}"]`);
    return input ? input.value : whole;
  });
});

// A chat refresh that overlapped another appends the same messages twice: the later copy goes.
document.addEventListener("htmx:afterSwap", (event) => {
  const log = document.getElementById("chat-log");
  if (!log || !log.contains(event.detail.target)) return;
  const seen = new Set();
  log.querySelectorAll("[data-message-id]").forEach((bubble) => {
    if (seen.has(bubble.dataset.messageId)) bubble.remove();
    else seen.add(bubble.dataset.messageId);
  });
});

// The screen pop: wait for the next call connected to this operator. On the console it opens the client at
// once; on a client's page it offers the next call without leaving the current one. Where the server streams
// (data-stream: ASGI with PostgreSQL) the call is pushed as a server-sent event; elsewhere, or when the stream
// is refused, the page asks every second.
//
// The same stream carries the WhatsApp notes ("mensagem": {cliente, tipo}) of the clients this operator may see;
// each becomes a "ws-whatsapp" event on the body, which the chat and the console's unread counts refresh on (htmx
// triggers). Whenever the stream (re)opens ("pronto") they refresh whatever the note ({todos: true}): nothing
// said while it was down is lost. Without a stream (the SQLite demo, WSGI, no agent ID, a replaced page) they
// refresh every few seconds instead, as the call is polled.
(function () {
  const box = document.getElementById("call-watch");
  if (!box) return;
  const messages = (detail) => document.body.dispatchEvent(new CustomEvent("ws-whatsapp", { detail: detail }));
  let polling = null;
  function pollMessages() {
    if (polling === null) polling = setInterval(() => messages({ todos: true }), 3000);
  }
  const HANDED = "call-watch-last"; // the last call the console saw, for the page it opens
  let last = null;
  const handed = JSON.parse(sessionStorage.getItem(HANDED) || "null");
  sessionStorage.removeItem(HANDED);
  // A call connected while the console was opening this page is offered here, not lost; an old hand-off is not.
  if (handed && Date.now() - handed.at < 60000) last = handed.ultimo;
  // Shows an answer ({chamada, ultimo}); true when the page is leaving for the client's.
  function show(data) {
    last = data.ultimo;
    box.dataset.ready = "1"; // the starting point is taken: calls from now on are shown
    const call = data.chamada;
    if (call && call.url && box.dataset.mode === "console") {
      sessionStorage.setItem(HANDED, JSON.stringify({ ultimo: last, at: Date.now() }));
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
  const after = () => (last === null ? "" : "?depois=" + last);
  // The stream's address: the last call seen, and the client whose page this is (its chat's notes come too).
  function streamUrl() {
    const query = new URLSearchParams();
    if (last !== null) query.set("depois", last);
    if (box.dataset.client) query.set("cliente", box.dataset.client);
    const text = query.toString();
    return box.dataset.stream + (text ? "?" + text : "");
  }
  async function poll() {
    try {
      const response = await fetch(box.dataset.url + after(), { headers: { Accept: "application/json" } });
      if (response.ok && show(await response.json())) return;
    } catch (error) {
      // network hiccup: the next poll tries again
    }
    setTimeout(poll, 1000);
  }
  let failures = 0; // streams lost in a row: each retry waits longer, up to 30 s, spread so consoles do not flock
  let refused = 0; // streams refused while the server answered: this server does not stream (204)
  const backoff = () => Math.min(30000, 1000 * 2 ** Math.min(failures++, 5)) * (0.5 + Math.random() / 2);
  function listen() {
    const source = new EventSource(streamUrl());
    const receive = (message) => {
      if (show(JSON.parse(message.data))) source.close();
    };
    source.addEventListener("pronto", (message) => {
      failures = refused = 0;
      receive(message);
      messages({ todos: true });
    });
    source.addEventListener("chamada", receive);
    source.addEventListener("mensagem", (message) => messages(JSON.parse(message.data)));
    // Access ended (signed out, password reset, deactivated, agent ID moved): the page reloads into the
    // sign-in page or "sem permissão".
    source.addEventListener("encerrado", () => {
      source.close();
      window.location.reload();
    });
    // A newer page of this session took this one's place: it stops, without reloading into a tug of war.
    source.addEventListener("substituido", () => {
      source.close();
      box.dataset.replaced = "1";
      pollMessages();
    });
    source.onerror = () => {
      // While the server is away the browser reconnects by itself, resuming after the last event's id. A
      // refusal (503 while the database is away, an error page) closes the stream: ask again later.
      if (source.readyState === EventSource.CLOSED) setTimeout(recover, backoff());
    };
  }
  // After a refused stream: one poll tells the server's state. Down (no answer, 5xx): wait longer and ask again.
  // Up: show what it answers and listen again, or poll if the server keeps refusing a stream it can answer.
  // Not JSON (the sign-in page after a redirect, a 403): reload, for the page to say so.
  async function recover() {
    let response = null;
    try {
      response = await fetch(box.dataset.url + after(), { headers: { Accept: "application/json" } });
    } catch (error) {
      // the server is away
    }
    if (!response || response.status >= 500) {
      setTimeout(recover, backoff());
      return;
    }
    const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
    if (!response.ok || response.redirected || !json) {
      window.location.reload();
      return;
    }
    if (show(await response.json())) return;
    refused += 1;
    if (refused >= 3) fallBack();
    else listen();
  }
  function fallBack() {
    pollMessages();
    poll();
  }
  if (box.dataset.stream && window.EventSource) listen();
  else fallBack();
})();
