// Kinema studio: a plain-JS client of the same /v1 API the openai package uses (no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { tracked: new Set(), blobs: new Map(), models: [] };

function apiKey() { return $("api-key").value.trim(); }

function headers(extra = {}) {
  const h = { ...extra };
  if (apiKey()) h["Authorization"] = "Bearer " + apiKey();
  return h;
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: headers(options.headers) });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
    throw new Error(message);
  }
  return body;
}

// ---- form ---------------------------------------------------------------------------------------------

function showModeFields() {
  const mode = $("mode").value;
  document.querySelector(".mode-image").hidden = !(mode === "image" || mode === "keyframes");
  document.querySelector(".mode-keyframes").hidden = mode !== "keyframes";
  document.querySelector(".mode-source").hidden = !(mode === "extend" || mode === "remix");
  for (const el of document.querySelectorAll(".camera-simple")) el.hidden = $("camera-type").value !== "simple";
}

function cameraControl() {
  const type = $("camera-type").value;
  if (!type) return null;
  if (type !== "simple") return { type };
  return { type, config: { [$("camera-axis").value]: Number($("camera-value").value) } };
}

async function submit(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  const mode = $("mode").value;
  const prompt = $("prompt").value;
  const seconds = $("seconds").value;
  let job;
  try {
    if (mode === "extend" || mode === "remix") {
      const source = $("source").value;
      if (!source) throw new Error("Pick a finished video to " + mode + " (or make one first).");
      const body = { prompt };
      if (mode === "extend") {
        body.video = { id: source };
        if (seconds) body.seconds = seconds;
      }
      const path = mode === "extend" ? "/v1/videos/extensions" : `/v1/videos/${source}/remix`;
      job = await api(path, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    } else {
      const form = new FormData();
      form.append("prompt", prompt);
      if ($("model").value) form.append("model", $("model").value);
      if (seconds) form.append("seconds", seconds);
      if ($("aspect-ratio").value) form.append("aspect_ratio", $("aspect-ratio").value);
      if ($("negative-prompt").value) form.append("negative_prompt", $("negative-prompt").value);
      if ($("seed").value) form.append("seed", $("seed").value);
      const camera = cameraControl();
      if (camera) form.append("camera_control", JSON.stringify(camera));
      if (mode === "image" || mode === "keyframes") {
        const first = $("image").files[0];
        if (!first) throw new Error("Choose the first-frame image.");
        form.append("input_reference", first);
        if (mode === "keyframes") {
          const last = $("image-tail").files[0];
          if (!last) throw new Error("Choose the last-frame image.");
          form.append("image_tail", last);
        }
      }
      job = await api("/v1/videos", { method: "POST", body: form });
    }
  } catch (err) {
    $("form-error").textContent = err.message;
    return;
  }
  track(job);
}

// ---- queue: live status over server-sent events (fetch, so the API key header can be sent) ------------

function jobRow(job) {
  let li = document.querySelector(`li[data-id="${job.id}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.id = job.id;
    li.innerHTML = `<div><span class="prompt"></span><br><small class="status muted"></small></div><progress max="100" value="0"></progress>`;
    $("job-list").prepend(li);
  }
  return li;
}

function showJob(job) {
  const li = jobRow(job);
  li.querySelector(".prompt").textContent = job.prompt;
  let status = job.status.replace("_", " ");
  if (job.status === "queued" && job.queue_position) status += ` — position ${job.queue_position}`;
  if (job.eta_seconds != null && job.status !== "completed") status += `, about ${Math.ceil(job.eta_seconds)} s`;
  if (job.status === "failed" && job.error) status += `: ${job.error.message}`;
  li.querySelector(".status").textContent = status;
  li.dataset.status = job.status;
  li.querySelector("progress").value = job.progress;
}

async function follow(id) {
  const res = await fetch(`/v1/videos/${id}/events`, { headers: headers() });
  if (!res.ok || !res.body) throw new Error("no event stream");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      last = JSON.parse(data);
      if (last.object === "video") showJob(last);
    }
  }
  return last;
}

async function poll(id) {
  for (;;) {
    const job = await api(`/v1/videos/${id}`);
    showJob(job);
    if (job.status === "completed" || job.status === "failed") return job;
    await new Promise((r) => setTimeout(r, 700));
  }
}

async function track(job) {
  if (state.tracked.has(job.id)) return;
  state.tracked.add(job.id);
  showJob(job);
  let final = null;
  try { final = await follow(job.id); } catch (e) { final = null; }
  if (!final || (final.status !== "completed" && final.status !== "failed")) {
    try { final = await poll(job.id); } catch (e) { return; }
  }
  refreshGallery();
}

// ---- gallery ------------------------------------------------------------------------------------------

async function blobUrl(id, variant = "video") {
  const key = id + ":" + variant;
  if (!state.blobs.has(key)) {
    const res = await fetch(`/v1/videos/${id}/content?variant=${variant}`, { headers: headers() });
    if (!res.ok) throw new Error(`download failed (HTTP ${res.status})`);
    state.blobs.set(key, URL.createObjectURL(await res.blob()));
  }
  return state.blobs.get(key);
}

function card(video) {
  const div = document.createElement("div");
  div.className = "card";
  div.dataset.id = video.id;
  div.innerHTML = `
    <div class="player"><video controls loop muted playsinline></video><span class="ai-mark">AI-generated</span></div>
    <p class="prompt"></p>
    <p class="muted"><small></small></p>
    <p class="muted credential"><small>content credential: checking…</small></p>
    <div class="actions">
      <a class="download" download>Download</a>
      <button type="button" class="secondary extend">Extend this</button>
      <button type="button" class="secondary remix">Remix this</button>
      <button type="button" class="secondary delete">Delete</button>
    </div>`;
  div.querySelector(".prompt").textContent = video.prompt;
  div.querySelector("small").textContent = `${video.size}, ${video.seconds} s, ${video.model}`;
  blobUrl(video.id).then((url) => {
    const el = div.querySelector("video");
    el.src = url;
    const link = div.querySelector(".download");
    link.href = url;
    link.download = `${video.id}.mp4`;
  }).catch((err) => { div.querySelector("small").textContent = err.message; });
  api(`/v1/videos/${video.id}/provenance`).then((p) => {
    const who = [p.generator, p.model && `model ${p.model}`].filter(Boolean).join(", ");
    const state = !p.has_manifest ? "no C2PA manifest" : p.signature_valid ? `C2PA ${p.validation_state.toLowerCase()}` : "C2PA signature INVALID";
    div.querySelector(".credential small").textContent = `content credential: ${state}${who ? " — " + who : ""}; AIGC label ${p.aigc_label ? "present" : "missing"}`;
  }).catch((err) => { div.querySelector(".credential small").textContent = `content credential: ${err.message}`; });
  div.querySelector(".extend").onclick = () => useSource("extend", video.id);
  div.querySelector(".remix").onclick = () => useSource("remix", video.id);
  div.querySelector(".delete").onclick = async () => {
    await api(`/v1/videos/${video.id}`, { method: "DELETE" });
    refreshGallery();
  };
  return div;
}

function useSource(mode, id) {
  $("mode").value = mode;
  $("source").value = id;
  showModeFields();
  $("prompt").focus();
}

async function refreshGallery() {
  let page;
  try { page = await api("/v1/videos?limit=50"); } catch (err) { $("auth-state").textContent = err.message; return; }
  const gallery = $("gallery");
  const source = $("source");
  const keep = source.value;
  source.innerHTML = "";
  const seen = new Set();
  for (const video of page.data) {
    if (video.status === "queued" || video.status === "in_progress") { track(video); continue; }
    if (video.status !== "completed") continue;
    seen.add(video.id);
    if (!gallery.querySelector(`.card[data-id="${video.id}"]`)) gallery.append(card(video));
    const opt = document.createElement("option");
    opt.value = video.id;
    opt.textContent = video.prompt.slice(0, 40) + ` (${video.seconds} s)`;
    source.append(opt);
  }
  for (const el of [...gallery.querySelectorAll(".card")]) if (!seen.has(el.dataset.id)) el.remove();
  // newest first, like the list
  const order = page.data.map((v) => v.id);
  [...gallery.children].sort((a, b) => order.indexOf(a.dataset.id) - order.indexOf(b.dataset.id)).forEach((el) => gallery.append(el));
  if (keep) source.value = keep;
}

async function init() {
  $("api-key").value = localStorage.getItem("kinema-api-key") || "";
  $("api-key").addEventListener("change", () => {
    localStorage.setItem("kinema-api-key", apiKey());
    state.blobs.clear();
    $("gallery").innerHTML = "";
    load();
  });
  $("mode").addEventListener("change", showModeFields);
  $("camera-type").addEventListener("change", showModeFields);
  $("create-form").addEventListener("submit", submit);
  showModeFields();
  await load();
}

async function load() {
  try {
    const config = await api("/v1/config");
    $("auth-state").textContent = config.auth_required ? (apiKey() ? "" : "This server needs an API key.") : "No key needed on this server.";
    $("prompt").maxLength = config.max_prompt_chars;
    const models = await api("/v1/models");
    $("model").innerHTML = "";
    for (const m of models.data) {
      const opt = document.createElement("option");
      opt.value = m.id;
      opt.textContent = `${m.id} (${m.width}x${m.height}, ${m.fps} fps)`;
      if (m.default) opt.selected = true;
      $("model").append(opt);
    }
    $("auth-state").textContent += "";
  } catch (err) {
    $("auth-state").textContent = err.message;
    return;
  }
  refreshGallery();
}

init();
