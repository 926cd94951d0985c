// Kinema studio: a plain-JS client of the same /v1 API the openai package uses (no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { tracked: new Set(), blobs: new Map(), caps: new Map() };

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

// ---- form: built from what /v1/config says the chosen model can do ------------------------------------

const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// The chosen model's capabilities, and the mode of them the form is set to.
function chosenModel() { return state.caps.get($("model").value); }
function currentMode() {
  const caps = chosenModel();
  return caps ? caps.modes.find((m) => m.mode === $("mode").value) : undefined;
}

// The mode list is the chosen model's modes (kept when the new model has it too).
function buildForm() {
  const caps = chosenModel();
  const keep = $("mode").value;
  $("mode").innerHTML = "";
  for (const m of caps ? caps.modes : []) {
    const opt = document.createElement("option");
    opt.value = m.mode;
    opt.textContent = capitalized(m.title);
    $("mode").append(opt);
  }
  if (caps && caps.modes.some((m) => m.mode === keep)) $("mode").value = keep;
  showModeFields();
}

// A control shows when the mode's route takes its field on this model, or the mode starts from its picture.
function showModeFields() {
  const mode = currentMode();
  for (const el of document.querySelectorAll("#create-form [data-param]")) el.hidden = !mode || !mode.params.includes(el.dataset.param);
  for (const el of document.querySelectorAll("#create-form [data-given]")) el.hidden = !mode || !mode.given.includes(el.dataset.given);
  const shown = (id) => !$(id).closest("label").hidden;
  for (const el of document.querySelectorAll(".camera-simple")) el.hidden = !shown("camera-type") || $("camera-type").value !== "simple";
  for (const el of document.querySelectorAll(".physics-on")) el.hidden ||= !$("physics").checked;
}

function cameraControl() {
  const type = $("camera-type").value;
  if (!type) return null;
  if (type !== "simple") return { type };
  return { type, config: { [$("camera-axis").value]: Number($("camera-value").value) } };
}

// One motion-brush path, "x,y x,y ..." in output pixels → Kling's trajectories.
function trajectories() {
  const text = $("trajectory").value.trim();
  if (!text) return null;
  const path = text.split(/\s+/).map((p) => p.split(",").map(Number));
  if (path.length < 2 || path.some((p) => p.length !== 2 || p.some((v) => !Number.isFinite(v)))) {
    throw new Error("Write the motion path as two or more x,y points in pixels, e.g. 4,16 28,16.");
  }
  return [path.map(([x, y]) => ({ x, y }))];
}

// The request's fields: every shown control that has a value, by the API's names.
function requestFields(mode) {
  const fields = { prompt: $("prompt").value };
  if (mode.params.includes("model") && $("model").value) fields.model = $("model").value;
  for (const el of document.querySelectorAll("#create-form label[data-param]:not([hidden]) [name]")) {
    if (el.type === "checkbox" ? el.checked : el.value) fields[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  const shown = (id) => !$(id).closest("label").hidden;
  const camera = shown("camera-type") ? cameraControl() : null;
  if (camera) fields.camera_control = camera;
  const paths = shown("trajectory") ? trajectories() : null;
  if (paths) fields.trajectories = paths;
  if (shown("audio")) fields.audio = $("audio").checked;  // a model that makes sound: with it, or without
  return fields;
}

async function submit(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  let job;
  try {
    const mode = currentMode();
    if (!mode) throw new Error("Choose a model and a mode (GET /v1/config lists none for this model).");
    const fields = requestFields(mode);
    if (mode.given.includes("video")) {  // a finished video of this server: its id, in the body or the path
      const source = $("source").value;
      if (!source) throw new Error("Pick a finished video to " + mode.mode + " (or make one first).");
      if (mode.params.includes("video")) fields.video = { id: source };
      const path = mode.path.replace("{video_id}", encodeURIComponent(source));
      job = await api(path, { method: "POST", body: JSON.stringify(fields), headers: { "Content-Type": "application/json" } });
    } else {  // pictures from this computer: a multipart form
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, typeof value === "object" ? JSON.stringify(value) : value);
      for (const el of document.querySelectorAll("#create-form label[data-given]:not([hidden]) input[type=file]")) {
        if (!el.files[0]) throw new Error(el.dataset.missing);
        form.append(el.name, el.files[0]);
      }
      job = await api(mode.path, { method: "POST", body: form });
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
      <button type="button" class="secondary delete">Delete</button>
    </div>`;
  div.querySelector(".prompt").textContent = video.prompt;
  div.querySelector("small").textContent = `${video.size}, ${video.seconds} s, ${video.model}`;
  if (video.has_audio) {  // its sound plays: unmuted, with the player's volume control, and says so
    const el = div.querySelector("video");
    el.muted = false;
    el.removeAttribute("muted");
    el.classList.add("has-audio");
    const badge = document.createElement("span");
    badge.className = "sound-mark";
    badge.textContent = "♪ sound";
    badge.title = "This video has a sound track; use the player's volume control";
    div.querySelector(".player").append(badge);
  }
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
  // "Extend this", "Remix this": a button for each mode of the video's model that starts from a video
  const caps = state.caps.get(video.model);
  for (const m of caps ? caps.modes.filter((m) => m.given.includes("video")) : []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `secondary ${m.mode}`;
    button.textContent = `${capitalized(m.mode)} this`;
    button.onclick = () => useSource(video.model, m.mode, video.id);
    div.querySelector(".delete").before(button);
  }
  div.querySelector(".delete").onclick = async () => {
    await api(`/v1/videos/${video.id}`, { method: "DELETE" });
    refreshGallery();
  };
  return div;
}

function useSource(model, mode, id) {
  $("model").value = model;
  buildForm();
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
  $("model").addEventListener("change", buildForm);
  for (const id of ["mode", "camera-type", "physics"]) $(id).addEventListener("change", showModeFields);
  $("create-form").addEventListener("submit", submit);
  showModeFields();
  await load();
}

async function load() {
  try {
    const config = await api("/v1/config");
    $("auth-state").textContent = config.auth_required ? (apiKey() ? "" : "This server needs an API key.") : "No key needed on this server.";
    $("prompt").maxLength = config.max_prompt_chars;
    // the models and what each can do are public (/v1/config); their sizes need a key (/v1/models)
    state.caps = new Map(config.models.map((m) => [m.id, m]));
    const keep = $("model").value;
    $("model").innerHTML = "";
    for (const m of config.models) {
      const opt = document.createElement("option");
      opt.value = opt.textContent = m.id;
      opt.selected = keep ? m.id === keep : m.default;
      $("model").append(opt);
    }
    buildForm();
    const models = await api("/v1/models");
    for (const m of models.data) {
      const opt = [...$("model").options].find((o) => o.value === m.id);
      if (opt) opt.textContent = `${m.id} (${m.width}x${m.height}, ${m.fps} fps)`;
    }
  } catch (err) {
    $("auth-state").textContent = err.message;
    return;
  }
  refreshGallery();
}

init();
