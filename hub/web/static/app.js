// hub serve: small progressive enhancements. Every page works without this file.
"use strict";
document.documentElement.classList.add("js");

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");  // http on a LAN address is not a secure context
  area.value = text; document.body.appendChild(area); area.select();
  try { document.execCommand("copy"); } finally { area.remove(); }
  return Promise.resolve();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) {
    copyText(button.dataset.copy).then(() => {
      button.classList.add("copied");
      setTimeout(() => button.classList.remove("copied"), 1200);
    });
  }
  const add = event.target.closest("[data-add-row]");
  if (add) {
    const rows = add.form.querySelector("[data-rows]");
    const last = rows.lastElementChild;
    const copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach((input) => {
      if (input.type === "range" || input.classList.contains("weight")) input.value = "1"; else input.value = "";
    });
    rows.appendChild(copy);
  }
});

// A weight slider and its number box show the same value.
document.addEventListener("input", (event) => {
  const el = event.target;
  const row = el.closest(".row");
  if (!row) return;
  if (el.matches("[data-mirror]")) row.querySelector(".weight").value = el.value;
  else if (el.classList.contains("weight")) row.querySelector("[data-mirror]").value = el.value;
});

// Filter menus apply as soon as they change.
document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// A job page follows its job, then lands on the result.
const jobId = document.body.dataset.job;
if (jobId && ["queued", "running"].includes(document.body.dataset.jobStatus)) {
  const status = document.getElementById("job-status");
  const bar = document.getElementById("job-progress");
  const poll = async () => {
    try {
      const job = await (await fetch(`/api/jobs/${jobId}`, { headers: { Accept: "application/json" } })).json();
      if (job.status === "done" && job.redirect) { location.href = job.redirect; return; }
      if (job.status === "done" || job.status === "failed") { location.reload(); return; }
      status.textContent = job.status === "queued" ? `Waiting: ${job.position} ahead.` : "Running…";
      if (job.total) { bar.max = job.total; bar.value = job.done; }
    } catch (e) { /* the server restarted or is busy: try again */ }
    setTimeout(poll, 500);
  };
  setTimeout(poll, 300);
}

// A running training run redraws its loss curve.
const runId = document.body.dataset.run;
if (runId && document.body.dataset.runStatus === "running") {
  const chart = document.getElementById("loss-chart");
  const status = document.getElementById("run-status");
  const poll = async () => {
    try {
      const data = await (await fetch(`/api/runs/${runId}?after=999999999`)).json();
      if (data.run.status !== "running") { location.reload(); return; }
      chart.innerHTML = await (await fetch(`/runs/${runId}/loss.svg`)).text();
      status.textContent = `${data.run.status} · step ${data.run.step}${data.run.total_steps ? " of " + data.run.total_steps : ""}`;
    } catch (e) { /* try again */ }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}
