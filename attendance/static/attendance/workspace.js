// Presets of the negotiation simulator: fill the installments and simulate at once.
function wsPreset(button) {
  const form = document.getElementById("negotiation-form");
  const installments = form.querySelector("[name=installments]");
  installments.value = button.dataset.preset;
  if (button.dataset.preset === "1") {
    form.querySelector("[name=entry]").value = "0";
  }
  htmx.trigger(form, "submit-simulate");
}

// A message swapped in after a change fades after a few seconds.
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll(".ws-flash").forEach((el) => setTimeout(() => el.remove(), 6000));
});
