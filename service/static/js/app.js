// The analyst page: classify an article, read its labels, correct them, compare model versions.
// Only this service's API is called (same origin); nothing is loaded from anywhere else.

import { api, apiKey, feedbackKey, readiness, setApiKey, setFeedbackKey } from "./api.js";
import { barChart, heatmap } from "./charts.js";
import { fillPickers, renderComparison, renderVersions, showScrollHint } from "./compare.js";
import { download, resultsCsv } from "./export.js";
import { carryDrafts, countUnsent, draftKey, isUnsent, sentLabels } from "./drafts.js";
import { el, renderParagraph } from "./render.js";

const EXPLAIN_TERMS = 5;
const READY_POLL_MS = 3000;
const $ = (id) => document.getElementById(id);

// What the service told us about the model, and what the page shows now.
const model = { info: null, thresholds: {}, decisionRule: null, roles: [], contentSets: [], setLabels: {}, loaded: false };
const view = { result: null, classifiedText: null, classifiedReading: null, requestId: null, selected: null, correcting: false, drafts: {}, saved: {}, versionsLoaded: false, renders: 0, classifying: false, retrying: false };

// "1 paragraph", "3 paragraphs".
const count = (n, noun) => `${n.toLocaleString()} ${noun}${n === 1 ? "" : "s"}`;
// A server message followed by another sentence needs its full stop.
const sentence = (text) => (/[.!?)]$/.test(text) ? text : `${text}.`);

function setStatus(message, kind = "") {
  const status = $("status");
  status.textContent = message;
  status.className = `status ${kind}`;
}

function isSameModel(a, b) {
  return Boolean(a && b) && a.name === b.name && a.version === b.version && a.run_id === b.run_id;
}

function describeModel(info) {
  const version = info.version ? `v${info.version}` : "local directory";
  return `model: ${info.name} · ${version}${info.alias ? ` · ${info.alias}` : ""}`;
}

async function loadModelInfo() {
  const [{ data: info }, { data: labels }] = await Promise.all([api("/v1/model"), api("/v1/labels")]);
  model.info = info;
  model.thresholds = labels.thresholds || {};
  model.decisionRule = labels.decision_rule || null;
  const sets = labels.label_sets || {};
  model.setLabels = Object.fromEntries(Object.entries(sets).map(([name, book]) => [name, book.labels.map((l) => l.name)]));
  model.roles = model.setLabels.role || [];
  // A model trained before roles has no role to give: the choice would only earn a 422.
  $("paragraph-role-choice").hidden = !model.roles.includes("body");
  if ($("paragraph-role-choice").hidden) $("paragraph-role").value = "";
  model.contentSets = Object.keys(sets).filter((name) => name !== "role");
  model.loaded = true;
  $("model-badge").textContent = describeModel(info);
}

// Until a model is loaded, say what /readyz says (loading, registry unreachable, ...) and ask again.
async function waitUntilReady() {
  const state = await readiness();
  if (!state.ready) {
    $("model-badge").textContent = `model not ready: ${state.reason}`;
    setStatus(`The model is not ready (${state.reason}): ${state.message}. Retrying every ${READY_POLL_MS / 1000} s.`, "warn");
    setTimeout(waitUntilReady, READY_POLL_MS);
    return false;
  }
  try {
    await loadModelInfo();
    if ($("status").classList.contains("warn")) setStatus("The model is ready.");
  } catch (error) {
    setStatus(`Could not read the model's details: ${error.message}`, "error");
  }
  return true;
}

function renderSummary(result) {
  const summary = $("summary");
  const s = result.summary;
  const parts = [];
  const sets = s.label_sets || {};
  if (sets.topic) parts.push(el("figure", { id: "topic-shares" }, el("figcaption", {}, "Topic shares (of content paragraphs)"), barChart(sets.topic.counts, "Topic shares")));
  if (s.topic_frames && sets.frame) {
    const frames = (model.setLabels.frame || Object.keys(sets.frame.counts)).filter((f) => Object.values(s.topic_frames).some((row) => row[f]));
    parts.push(el("figure", { id: "topic-frame-heatmap" }, el("figcaption", {}, "Topic × frame: paragraphs with both (darker: a larger share of the topic's paragraphs)"), heatmap(s.topic_frames, frames, "Topic by frame heatmap")));
  } else {
    for (const [name, set] of Object.entries(sets).filter(([name]) => name !== "topic")) {
      parts.push(el("figure", {}, el("figcaption", {}, `${name} shares`), barChart(set.counts, `${name} shares`)));
    }
  }
  const roles = s.roles ? Object.entries(s.roles).map(([role, n]) => `${n} ${role}`).join(", ") : "no roles";
  const primary = Object.entries(sets).map(([name, set]) => `${name}: ${set.primary ?? "none"}`).join(" · ");
  const unread = s.unread_paragraphs ? ` ${s.unread_paragraphs} not read: too few words the model knows.` : "";
  parts.push(el("p", { class: "facts" }, `${s.paragraphs} paragraphs (${roles}), ${s.content_paragraphs} of them labelled.${unread} Primary ${primary}.`));
  summary.replaceChildren(...parts);
}

function renderParagraphs() {
  const handlers = { select, toggle, setRole, send, unsent };
  $("paragraphs").replaceChildren(...view.result.paragraphs.map((p) => renderParagraph(model, p, view, handlers)));
}

function rerender(index, focusSelector) {
  const list = $("paragraphs");
  const old = list.querySelector(`[data-index="${index}"]`);
  const handlers = { select, toggle, setRole, send, unsent };
  const card = renderParagraph(model, view.result.paragraphs[index], view, handlers);
  old.replaceWith(card);
  if (focusSelector) card.querySelector(focusSelector)?.focus(); // keyboard users stay where they were
}

function select(index, set, label) {
  const same = view.selected && view.selected.index === index && view.selected.set === set && view.selected.label === label;
  const previous = view.selected?.index;
  view.selected = same ? null : { index, set, label };
  if (previous !== undefined && previous !== index) rerender(previous);
  rerender(index, `.chip:not(.edit)[data-set="${set}"][data-label="${CSS.escape(label)}"]`);
}

function toggle(index, set, label) {
  const labels = view.drafts[index].labels[set];
  const at = labels.indexOf(label);
  if (at >= 0) labels.splice(at, 1);
  else labels.push(label);
  rerender(index, `.chip.edit[data-set="${set}"][data-label="${CSS.escape(label)}"]`);
}

// The role is kept apart from the chips: passing over "byline" with the arrow keys (each step is a change) must
// not wipe the labels the analyst set; a non-content role only sends none (`sentLabels`).
function setRole(index, role) {
  view.drafts[index].role = role;
  rerender(index, "select");
}

// Corrections made in the editor and not (or no longer) saved: the page asks before they are lost.
const unsent = (index) => isUnsent(model, view.drafts[index]);
const unsentCorrections = () => countUnsent(model, view.drafts);

async function send(index) {
  const paragraph = view.result.paragraphs[index];
  const draft = view.drafts[index];
  const labelsSent = sentLabels(model, draft);
  const sentKey = draftKey(model, draft);
  const body = { text: paragraph.text, labels: labelsSent };
  if (draft.role) body.role = draft.role;
  if (model.info?.version) body.model = { name: model.info.name, version: model.info.version };
  if (view.requestId) body.request_id = view.requestId;
  try {
    const { data } = await api("/v1/feedback", { method: "POST", body, key: feedbackKey() || apiKey(), keyField: "Feedback key" });
    const labels = Object.entries(labelsSent).map(([set, l]) => `${set}: ${l.join(", ") || "none"}`).join("; ");
    const what = `${draft.role ? `role ${draft.role}; ` : ""}${labels}`;
    const when = new Date(data.created_at).toLocaleString();
    view.saved[index] = { text: `${data.duplicate ? "Already saved" : "Saved"} as #${data.id} at ${when}: ${what}`, key: sentKey, id: data.id };
    draft.baseline = sentKey; // saved: nothing of it is unsent now
  } catch (error) {
    view.saved[index] = { error: error.message };
  }
  rerender(index, '[data-action="send"]');
}

// Drafts start as the model's answer; classified again by the same model, a paragraph whose text is unchanged keeps
// the correction the analyst made (`carryDrafts`). Returns how many unsent corrections were dropped.
function startDrafts(previous, sameModel) {
  const carried = carryDrafts(model, previous, view.result, view.drafts, view.saved, sameModel);
  view.drafts = carried.drafts;
  view.saved = carried.saved;
  return carried.dropped;
}

// Results that no longer match the text box must not be downloaded or corrected as if they did.
const RESULT_ACTIONS = ["correct-mode", "download-csv", "download-json"];

function enableResultActions(on) {
  for (const id of RESULT_ACTIONS) $(id).disabled = !on;
  if (!on && view.correcting) {
    view.correcting = false;
    $("correct-mode").setAttribute("aria-pressed", "false");
    if (view.result) renderParagraphs(); // the editors go too: a correction of the earlier text must not be sent
  }
}

const STALE = "The text, or how it is read, has changed since it was classified: the results below are for the earlier reading. Classify again to update them.";

function isStale() {
  return $("panel-results").classList.contains("stale");
}

function markStale() {
  if (!view.result || isStale()) return;
  view.correctingBeforeStale = view.correcting;
  $("panel-results").classList.add("stale");
  enableResultActions(false);
  const waiting = unsentCorrections();
  const kept = waiting ? ` ${count(waiting, "unsent correction")} ${waiting === 1 ? "is" : "are"} kept for the paragraphs whose text stays the same.` : "";
  setStatus(STALE + kept, "warn");
}

// After an edit (or a file opened): stale while the text differs from the text classified, current again when it
// is the same (an edit undone, the same file opened twice). Drafts are kept either way.
function textChanged() {
  if (!view.result) return;
  if (readingOf() !== view.classifiedReading || $("article-text").value !== view.classifiedText) {
    markStale();
  } else if (isStale()) {
    $("panel-results").classList.remove("stale");
    enableResultActions(true);
    if (view.correctingBeforeStale) $("correct-mode").click(); // back where the analyst was
    setStatus("The text is again the text that was classified: the results below are current.");
  }
}

// How the text is to be read, as the request says it: its format unless detected, every paragraph's role if given.
function reading() {
  const given = {};
  if ($("text-format").value !== "auto") given.text_format = $("text-format").value;
  if ($("paragraph-role").value) given.role = $("paragraph-role").value;
  return given;
}

function readingOf(body = reading()) {
  return JSON.stringify([body.text_format || "auto", body.role || null]);
}

async function classify() {
  if (view.classifying) {
    setStatus("Still classifying the text sent before; wait for it, then classify again.", "warn");
    return; // Ctrl+Enter while a request runs: the button is disabled, and the keys must be too
  }
  const text = $("article-text").value;
  if (!text.trim()) {
    setStatus("Paste an article or open a file first: there is no text to classify.", "error");
    $("article-text").focus();
    return;
  }
  if (!model.loaded && !(await readiness()).ready) {
    // Known to be loading: the click is kept, and sent once the model is ready (it was dropped).
    setStatus(`The model is not ready yet: classifying when it is (checking every ${READY_POLL_MS / 1000} s).`, "warn");
    retryWhenReady(text);
    return;
  }
  if (!model.loaded) await loadModelInfo();
  const button = $("classify");
  button.disabled = true;
  view.classifying = true;
  setStatus("Classifying…");
  const started = performance.now();
  try {
    const body = { text, explain: EXPLAIN_TERMS, include_scores: true, ...reading() };
    const { data, requestId } = await api("/v1/classify", { method: "POST", body });
    // Another model answered (a reload, the alias moved): its thresholds, header and versions, not the old ones'
    // (a tester's chips drew the old model's ticks beside the new model's labels: "+0.02 — not given").
    if (!isSameModel(model.info, data.model)) {
      await loadModelInfo();
      view.versionsLoaded = false;
      if (!$("panel-compare").hidden) loadVersions();
    }
    const previous = view.result;
    const sameModel = previous && JSON.stringify(previous.model) === JSON.stringify(data.model);
    view.result = data;
    view.classifiedText = text;
    view.classifiedReading = readingOf(body);
    view.requestId = requestId;
    view.selected = null;
    const dropped = startDrafts(previous, sameModel);
    renderSummary(data);
    renderParagraphs();
    $("panel-results").classList.remove("stale");
    enableResultActions(true);
    const ms = Math.round(performance.now() - started);
    // HTML and Markdown are read as their blocks' text (the service detects them): say so, since tags are gone.
    const readAs = { html: " (read as HTML)", markdown: " (read as Markdown)" }[data.text_format] || "";
    const lost = dropped ? ` ${count(dropped, "unsent correction")} of paragraphs whose text changed (or another model) ${dropped === 1 ? "was" : "were"} dropped.` : "";
    setStatus(`${count(data.paragraphs.length, "paragraph")}${readAs} classified by ${describeModel(data.model).slice(7)} in ${ms} ms.${lost}`, lost ? "warn" : "");
    // On a narrow screen the results are below the text box: bring them into view.
    const results = $("panel-results").getBoundingClientRect();
    if (results.top > window.innerHeight) $("panel-results").scrollIntoView({ block: "start" });
    // Edited while the request ran: these results are for the text that was sent, and say so.
    if ($("article-text").value !== text) markStale();
    view.renders += 1;
    document.body.dataset.rendered = String(view.renders); // tests and measurements wait for this: results shown
  } catch (error) {
    // A failed request (a text over a limit, a proxy's 502) keeps the results the analyst had: marked as the
    // earlier text's when this text differs, so they cannot be read, downloaded or corrected as this one's.
    const kept = view.result && text !== view.classifiedText ? " The results below are for the earlier text." : "";
    if (kept) markStale();
    if (error.status === 503) {
      const state = await readiness();
      // /readyz may already say ready (the model finished loading between the two answers, or another worker).
      const why = state.ready ? "The service answered 503 (a model just loaded or reloading)." : `The model is not ready (${state.reason}): ${sentence(state.message)}`;
      setStatus(`${why} Classifying again when it is (checking every ${READY_POLL_MS / 1000} s).${kept}`, "warn");
      $("model-badge").textContent = "model not ready";
      model.loaded = false;
      retryWhenReady(text);
    } else {
      setStatus(`Could not classify: ${sentence(error.message)}${kept}`, "error");
    }
  } finally {
    button.disabled = false;
    view.classifying = false;
  }
}

// After a 503 (a model loading or reloading): ask /readyz until it is ready, then classify the same text again —
// unless the analyst has changed it meanwhile, when the page only says the model is ready.
function retryWhenReady(text) {
  if (view.retrying) return;
  view.retrying = true;
  const check = async () => {
    const state = await readiness();
    if (!state.ready) {
      setTimeout(check, READY_POLL_MS);
      return;
    }
    view.retrying = false;
    try {
      await loadModelInfo();
    } catch (error) {
      setStatus(`Could not read the model's details: ${error.message}`, "error");
      return;
    }
    if ($("article-text").value === text && !view.classifying) classify();
    else setStatus("The model is ready: classify again.");
  };
  setTimeout(check, READY_POLL_MS);
}

async function loadVersions() {
  try {
    const { data } = await api("/v1/models");
    $("versions").replaceChildren(renderVersions(data));
    showScrollHint($("versions"));
    fillPickers(data, $("version-a"), $("version-b"));
    view.versionsLoaded = true;
  } catch (error) {
    $("versions").replaceChildren(el("p", { class: "status error", role: "alert" }, `Could not list the versions: ${error.message}`));
  }
}

async function compare() {
  const text = $("article-text").value;
  const out = $("comparison");
  if (!text.trim()) {
    out.replaceChildren(el("p", { class: "status error", role: "alert" }, "Paste an article first: there is no text to compare on."));
    return;
  }
  const button = $("compare");
  button.disabled = true;
  out.replaceChildren(el("p", { class: "placeholder" }, "Classifying with both versions…"));
  try {
    const body = { text, a: $("version-a").value, b: $("version-b").value, ...reading() }; // as Classify reads it
    const { data } = await api("/v1/compare", { method: "POST", body });
    out.replaceChildren(...renderComparison(data));
  } catch (error) {
    out.replaceChildren(el("p", { class: "status error", role: "alert" }, `Could not compare: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

function showTab(name) {
  for (const tab of ["results", "compare"]) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
  }
  if (name === "compare" && !view.versionsLoaded) loadVersions();
  if (name === "compare") showScrollHint($("versions"));
}

function wire() {
  $("classify").addEventListener("click", classify);
  window.addEventListener("resize", () => showScrollHint($("versions")));
  // Ctrl+Enter classifies from anywhere (after choosing "Read as", on a chip), not only in the text box.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      classify();
    }
  });
  $("article-text").addEventListener("input", textChanged);
  $("text-format").addEventListener("change", textChanged); // read another way, the text may split differently
  $("paragraph-role").addEventListener("change", textChanged); // other roles, other labels
  $("file-input").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    $("article-text").value = await file.text();
    // A .txt file is plain text even with a tag in it (a tester's note starting with <img> was read as HTML,
    // its paragraphs run together); .md and .html are what they say. Other names are detected.
    const format = { txt: "plain", md: "markdown", markdown: "markdown", html: "html", htm: "html" }[file.name.split(".").pop().toLowerCase()];
    if (format) $("text-format").value = format;
    event.target.value = ""; // the same file opened again (after an edit) must fire another change
    textChanged();
    const opened = `Opened ${file.name} (${count(file.size, "byte")}).`;
    setStatus(isStale() ? `${opened} ${STALE}` : opened, isStale() ? "warn" : "");
  });
  // Corrections not sent are lost with the page: the browser asks first (reload, a link, closing the tab).
  window.addEventListener("beforeunload", (event) => {
    if (!unsentCorrections()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers show the prompt only when this is set
  });
  $("api-key").value = apiKey();
  $("api-key").addEventListener("change", (event) => setApiKey(event.target.value.trim()));
  $("feedback-key").value = feedbackKey();
  $("feedback-key").addEventListener("change", (event) => setFeedbackKey(event.target.value.trim()));
  $("correct-mode").addEventListener("click", (event) => {
    view.correcting = !view.correcting;
    event.currentTarget.setAttribute("aria-pressed", String(view.correcting));
    renderParagraphs();
  });
  $("download-json").addEventListener("click", () => download("topicframe-results.json", JSON.stringify(view.result, null, 2), "application/json"));
  $("download-csv").addEventListener("click", () => download("topicframe-results.csv", resultsCsv(view.result), "text/csv"));
  // Escape clears the selected chip (its highlights and figures), keeping the keyboard on it.
  $("paragraphs").addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !view.selected) return;
    const { index, set, label } = view.selected;
    view.selected = null;
    rerender(index, `.chip:not(.edit)[data-set="${set}"][data-label="${CSS.escape(label)}"]`);
  });
  $("compare").addEventListener("click", compare);
  for (const tab of ["results", "compare"]) $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  document.querySelector(".tabs").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const next = $("tab-results").getAttribute("aria-selected") === "true" ? "compare" : "results";
    showTab(next);
    $(`tab-${next}`).focus();
  });
}

wire();
waitUntilReady();
