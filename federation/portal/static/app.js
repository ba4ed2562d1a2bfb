// Flotilla portal: live job status (server-sent events, polling when
// they fail), field messages before submit, the API request preview.
"use strict";
(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }

  // Live regions: an element with data-live (an event stream URL) and
  // data-poll (a fragment URL) gets its content replaced on each update.
  function live(el, target) {
    var status = $("#live-status");
    function say(t) { if (status) status.textContent = t; }
    function put(html) {
      var focused = document.activeElement && document.activeElement.id;
      target.innerHTML = html;
      if (focused) { var f = document.getElementById(focused); if (f) f.focus(); }
      say("Live updates: on (updated " + new Date().toLocaleTimeString() + ")");
    }
    function poll() {
      say("Live updates: polling every 3 s");
      var timer = setInterval(function () {
        fetch(el.dataset.poll, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
          .then(put).catch(function (e) { say("Live updates: paused (" + e.message + ")"); clearInterval(timer); });
      }, 3000);
    }
    if (!window.EventSource) { poll(); return; }
    var es = new EventSource(el.dataset.live), opened = false;
    es.onopen = function () { opened = true; say("Live updates: on"); };
    es.addEventListener(target.id === "job-rows" ? "rows" : "status", function (ev) { put(ev.data); });
    es.onerror = function () { if (!opened || es.readyState === EventSource.CLOSED) { es.close(); poll(); } };
  }
  var jt = $("#jobs-table"); if (jt) live(jt, $("#job-rows"));
  var js = $("#job-status"); if (js) live(js, js);

  // Run times of running jobs (td.run-time[data-elapsed], seconds at the
  // hub when rendered) count on between updates, as squeue writes them.
  function squeueTime(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (d > 0) return d + "-" + two(h) + ":" + two(m) + ":" + two(x);
    if (h > 0) return h + ":" + two(m) + ":" + two(x);
    return m + ":" + two(x);
  }
  if (jt) setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll("td.run-time[data-elapsed]"), function (td) {
      if (!td.dataset.seen) td.dataset.seen = String(Date.now());
      var s = parseInt(td.dataset.elapsed, 10) + Math.floor((Date.now() - parseInt(td.dataset.seen, 10)) / 1000);
      td.textContent = squeueTime(s);
    });
  }, 1000);

  // The submit form.
  var form = $("#submit-form");
  if (!form) return;
  function label(el) { var l = form.querySelector('label[for="' + el.id + '"]'); return l ? l.firstChild.textContent.trim() : el.name; }
  function message(el) {
    var v = el.validity, n = label(el);
    if (v.valid) return "";
    if (v.valueMissing) return n + " is required.";
    if (v.rangeUnderflow || v.rangeOverflow) return n + " must be between " + el.min + " and " + el.max + ".";
    if (v.stepMismatch) return el.step === "1" ? n + " must be a whole number." : n + " must be a multiple of " + el.step + ".";
    if (v.badInput) return n + " must be a number.";
    return el.validationMessage;
  }
  function check(el) {
    if (!el.willValidate) return true;
    var box = document.getElementById("e-" + (el.dataset.param || el.name));
    var m = message(el);
    if (box) box.textContent = m;
    if (m) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
    return !m;
  }
  function fields() { return Array.prototype.filter.call(form.elements, function (e) { return e.willValidate && e.type !== "submit" && e.type !== "button"; }); }
  fields().forEach(function (el) {
    el.addEventListener("blur", function () { check(el); });
    el.addEventListener("change", function () { check(el); preview(); });
    el.addEventListener("input", function () {
      if (el.getAttribute("aria-invalid")) check(el);
      var out = document.getElementById("o-" + el.dataset.param); if (out) out.value = el.value;
      preview();
    });
  });
  // The array's task fields are shown, and sent, only with an array
  // (kept shown when the page comes back with an error in them).
  var arrayOnly = $("#array-task-fields");
  function arrayFields(first) {
    if (!arrayOnly || !form.array) return;
    var on = form.array.value.trim() !== "" || (first === true && !!arrayOnly.querySelector('[aria-invalid="true"]'));
    arrayOnly.hidden = !on;
    Array.prototype.forEach.call(arrayOnly.querySelectorAll("input, select"), function (el) { el.disabled = !on; });
  }
  if (form.array) form.array.addEventListener("input", arrayFields);
  arrayFields(true);
  // The node count follows the chosen machine type's scale limits.
  Array.prototype.forEach.call(form.querySelectorAll('input[name="machine_type"]'), function (r) {
    r.addEventListener("change", function () { var n = $("#nodes"); n.min = r.dataset.min; n.max = r.dataset.max; check(n); preview(); });
  });
  form.addEventListener("submit", function (ev) {
    var bad = fields().filter(function (el) { return !check(el); });
    if (bad.length) { ev.preventDefault(); bad[0].focus(); }
  });
  function request() {
    var req = { id: form.job_id.value, app: form.dataset.app, command: form.command.value, parameters: {} };
    var mt = form.querySelector('input[name="machine_type"]:checked');
    req.machine_type = mt ? mt.value : "";
    req.nodes = parseInt(form.nodes.value, 10) || 0;
    if (form.vault && form.vault.value) req.vault = form.vault.value;
    if (form.label && form.label.value) req.label = form.label.value;
    if (form.team && form.team.value) req.team = form.team.value;
    if (form.array && form.array.value.trim()) {
      req.array = form.array.value.trim();
      var tr = parseInt(form.task_retries.value, 10);
      if (tr > 0) req.task_retries = tr;
      if (form.task_walltime) walltime(req, "task_walltime", form.task_walltime.value);
      if (form.cpu_bind && form.cpu_bind.value) req.task_cpu_bind = form.cpu_bind.value;
    }
    if (form.walltime) walltime(req, "walltime", form.walltime.value);
    if (form.priority && form.priority.value) req.priority = form.priority.value;
    if (form.dependency && form.dependency.value.trim()) req.dependency = form.dependency.value.trim();
    if (form.workdir && form.workdir.value.trim()) req.workdir = form.workdir.value.trim();
    // Environment values may be secrets: the preview hides them.
    Array.prototype.forEach.call(form.querySelectorAll("tr.env-row"), function (row) {
      var n = row.querySelector('input[name="env_name"]').value.trim();
      if (n) { req.env = req.env || {}; req.env[n] = "(hidden)"; }
    });
    Array.prototype.forEach.call(form.querySelectorAll("[data-param]"), function (el) {
      var k = el.dataset.param;
      if (el.type === "checkbox") req.parameters[k] = el.checked ? "true" : "false";
      else if (el.type === "file") { if (el.files.length) req.parameters[k] = "(contents of " + el.files[0].name + ")"; }
      else if (el.value !== "") req.parameters[k] = el.value;
    });
    return req;
  }
  // The hub reads a walltime as HH:MM:SS or a Go duration; the portal
  // converts Slurm's other forms when it sends the job.
  function walltime(req, key, v) {
    var wt = v.trim();
    if (wt && !/^unlimited$|^infinite$|^0$/i.test(wt)) {
      req[key] = /^\d+:\d\d:\d\d$|^[0-9.]+[hms]/.test(wt) ? wt : "(" + wt + ", converted when sent)";
    }
  }
  // Another environment row: a copy of the last one, emptied.
  var add = $("#env-add");
  if (add) add.addEventListener("click", function () {
    var rows = form.querySelectorAll("tr.env-row"), last = rows[rows.length - 1], i = rows.length;
    var row = last.cloneNode(true);
    Array.prototype.forEach.call(row.querySelectorAll("[id]"), function (el) { el.id = el.id.replace(/-\d+$/, "-" + i); });
    Array.prototype.forEach.call(row.querySelectorAll("label"), function (l) {
      l.htmlFor = l.htmlFor.replace(/-\d+$/, "-" + i); l.textContent = l.textContent.replace(/\d+/, String(i + 1));
    });
    Array.prototype.forEach.call(row.querySelectorAll("input"), function (el) {
      el.value = ""; el.removeAttribute("aria-invalid"); el.setAttribute("aria-describedby", "e-env-" + i);
      el.addEventListener("input", preview);
    });
    row.querySelector(".field-error").textContent = "";
    last.parentNode.appendChild(row);
    row.querySelector("input").focus();
  });
  function preview() { $("#preview").textContent = JSON.stringify(request(), null, 2); }
  $("#preview-button").addEventListener("click", function () { preview(); $("#preview").focus(); });
})();
