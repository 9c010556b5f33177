// Paragraph cards: role, label chips shaded by score with each label's threshold, explanation highlights,
// and in correct mode an editor (toggle chips, pick a role, send).

export function el(name, attributes = {}, ...children) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "style") element.style.cssText = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

const CONTEXT_PREFIX = /^(context|headline|article): /;

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// The paragraph text with the explanation's own terms marked (context/headline terms come from elsewhere).
export function highlighted(text, terms) {
  const own = terms.filter((t) => !CONTEXT_PREFIX.test(t) && t.trim());
  if (!own.length) return [document.createTextNode(text)];
  // Every occurrence of every term is marked, overlapping ones merged into one mark. One regex over all the terms
  // took one term at each place and skipped any term overlapping it ("trade" hid the n-gram "de ta").
  const marked = new Uint8Array(text.length);
  for (const term of own) {
    // Word terms match whole words; a character n-gram (it may start or end inside a word) matches anywhere.
    const pattern = /^\w[\w ]*\w$|^\w$/.test(term) ? `\\b${escapeRegExp(term)}\\b` : escapeRegExp(term);
    for (const match of text.matchAll(new RegExp(pattern, "giu"))) marked.fill(1, match.index, match.index + match[0].length);
  }
  const nodes = [];
  for (let start = 0, end = 0; start < text.length; start = end) {
    for (end = start + 1; end < text.length && marked[end] === marked[start]; end += 1);
    const piece = text.slice(start, end);
    nodes.push(marked[start] ? el("mark", {}, piece) : document.createTextNode(piece));
  }
  return nodes;
}

// The threshold of `label` in `set`: from GET /v1/labels, else from the response's margins (score - threshold).
export function thresholdOf(model, paragraph, set, label) {
  const fromLabels = model.thresholds?.[set]?.[label];
  if (typeof fromLabels === "number") return fromLabels;
  const margin = paragraph.margins?.[set]?.[label];
  const score = paragraph.scores?.[set]?.[label];
  if (typeof margin === "number" && typeof score === "number") return score - margin;
  return null;
}

// A label over its threshold can still be left out by the decision rule's caps (GET /v1/labels, decision_rule):
// say which, or the chip reads "+0.11 — not given" with no reason.
function whyNotGiven(model, paragraph, set, score, threshold) {
  const rule = model.decisionRule;
  if (threshold === null || score < threshold || !rule) return "not given";
  const top = Math.max(0, ...Object.values(paragraph.scores?.[set] || {}));
  if (rule.relative_to_top && score < rule.relative_to_top * top) {
    return `not given: over its threshold, but under ${Math.round(rule.relative_to_top * 100)}% of the top label's score`;
  }
  if (rule.max_labels && (paragraph.labels?.[set] || []).length >= rule.max_labels) {
    return `not given: over its threshold, but ${rule.max_labels} higher-scoring labels were given (the most per set)`;
  }
  return "not given";
}

function chip(model, paragraph, set, label, given, selected, onSelect) {
  const score = paragraph.scores?.[set]?.[label] ?? 0;
  const threshold = thresholdOf(model, paragraph, set, label);
  const diff = threshold === null ? 0 : score - threshold;
  // Three decimals near the threshold: "-0.00 — not given" read as a contradiction.
  const margin = threshold === null ? "" : `, threshold ${threshold.toFixed(2)} (${diff >= 0 ? "+" : ""}${diff.toFixed(Math.abs(diff) < 0.005 ? 3 : 2)})`;
  // Given under its threshold: the set's top label, given because no label passed (decision_rule.at_least_one).
  const fallback = given && threshold !== null && score < threshold ? " — the top label, given because none passed" : "";
  const notGiven = given ? "" : whyNotGiven(model, paragraph, set, score, threshold);
  const meter = el("span", { class: "meter", "aria-hidden": "true" }, el("span", { class: "fill", style: `width:${(score * 100).toFixed(1)}%` }));
  if (threshold !== null) meter.append(el("span", { class: "tick", style: `left:calc(${(threshold * 100).toFixed(1)}% - 1px)` }));
  return el(
    "button",
    {
      type: "button",
      class: given ? "chip" : "chip below",
      style: `--score:${score.toFixed(3)}`,
      "aria-pressed": selected ? "true" : "false",
      "data-set": set,
      "data-label": label,
      title: `${set} ${label}: score ${score.toFixed(2)}${margin}${given ? fallback : ` — ${notGiven}`}`,
      "aria-label": `${label}, score ${score.toFixed(2)}${margin}${given ? fallback : `, ${notGiven}`}`,
      onclick: onSelect,
    },
    el("span", { class: "name" }, label),
    el("span", { class: "score" }, score.toFixed(2)),
    meter,
  );
}

// One Tab stop per row of chips (the pressed chip, else the first); the arrow keys, Home and End move along the
// row (WAI-ARIA's toolbar pattern). Every chip was its own Tab stop: about 80 dashed "not given" chips on a
// 20-paragraph article, and 16 more per paragraph in correct mode, before the keyboard reached the next control.
function chipRow(attributes, chips) {
  const row = el("div", { class: "chips", role: "toolbar", ...attributes });
  const buttons = chips.filter((c) => c.tagName === "BUTTON");
  const stop = buttons.find((b) => b.getAttribute("aria-pressed") === "true" && !b.disabled) || buttons.find((b) => !b.disabled);
  for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
  row.append(...chips);
  // Whichever chip gets focus (a click, an arrow key, the page restoring focus after a re-render) is the Tab stop.
  row.addEventListener("focusin", (event) => {
    if (!buttons.includes(event.target)) return;
    for (const button of buttons) button.tabIndex = button === event.target ? 0 : -1;
  });
  row.addEventListener("keydown", (event) => {
    const enabled = buttons.filter((b) => !b.disabled);
    const at = enabled.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (at < 0 || (step === undefined && event.key !== "Home" && event.key !== "End")) return;
    event.preventDefault(); // the arrows would scroll the page
    const to = event.key === "Home" ? 0 : event.key === "End" ? enabled.length - 1 : (at + step + enabled.length) % enabled.length;
    enabled[to].focus();
  });
  return row;
}

// Given labels by score, then the best two that were not given (where the model was nearly sure).
function shownLabels(paragraph, set) {
  const given = paragraph.labels[set] || [];
  const scores = paragraph.scores?.[set] || {};
  const others = Object.keys(scores).filter((l) => !given.includes(l)).sort((a, b) => scores[b] - scores[a]);
  const byScore = [...given].sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
  return [...byScore.map((l) => [l, true]), ...others.slice(0, 2).map((l) => [l, false])];
}

// The selected chip's figures and terms, as text: its tooltip is for a mouse, and a keyboard user selects it.
function evidence(model, paragraph, selection) {
  if (!selection) return null;
  const score = paragraph.scores?.[selection.set]?.[selection.label];
  const threshold = thresholdOf(model, paragraph, selection.set, selection.label);
  const figures = typeof score === "number"
    ? `${selection.label}: score ${score.toFixed(2)}${threshold === null ? "" : `, threshold ${threshold.toFixed(2)}`}. `
    : "";
  const terms = paragraph.explanations?.[selection.set]?.[selection.label];
  if (!terms) {
    // Why not, in words too: a score over its threshold reads as a contradiction without the rule that capped it.
    const why = typeof score === "number" ? whyNotGiven(model, paragraph, selection.set, score, threshold) : "not given";
    return el("p", { class: "evidence" }, `${figures}${why[0].toUpperCase()}${why.slice(1)}. No explanation: only given labels have one.`);
  }
  const words = terms.map((t) => `${t.term} (${t.weight.toFixed(2)})`).join(", ");
  return el("p", { class: "evidence" }, `${figures}Terms behind ${selection.label}: ${words || "none"}`);
}

export function isContent(model, paragraph) {
  if (!paragraph.role) return true; // a model without roles labels every paragraph
  const roles = model.decisionRule?.content_roles?.length ? model.decisionRule.content_roles : ["body", "headline"];
  return roles.includes(paragraph.role);
}

function editor(model, paragraph, draft, saved, handlers) {
  const box = el("div", { class: "editor" });
  if (paragraph.role && model.roles.length) {
    const select = el("select", { "aria-label": `role of paragraph ${paragraph.index + 1}`, onchange: (e) => handlers.setRole(paragraph.index, e.target.value) });
    for (const role of model.roles) select.append(el("option", { value: role, selected: role === draft.role }, role));
    box.append(el("label", {}, "Role ", select));
  }
  // A byline, caption, promo or footer carries no topic or frame (the service refuses one that does).
  const carriesLabels = isContent(model, { role: draft.role });
  if (!carriesLabels) box.append(el("p", { class: "note" }, `A ${draft.role} paragraph carries no topics or frames.`));
  for (const set of model.contentSets) {
    const chips = (model.setLabels[set] || []).map((label) => {
      // Kept while the role is not content (shown unpressed): choosing body again brings them back.
      const on = carriesLabels && draft.labels[set].includes(label);
      return el("button", { type: "button", class: "chip edit", "aria-pressed": on ? "true" : "false", "data-set": set, "data-label": label, disabled: !carriesLabels, onclick: () => handlers.toggle(paragraph.index, set, label) }, label);
    });
    box.append(chipRow({ "aria-label": `${set} of paragraph ${paragraph.index + 1} (correction)` }, [el("span", { class: "set-name" }, set), ...chips]));
  }
  box.append(el("div", { class: "row" }, el("button", { type: "button", class: "primary", "data-action": "send", onclick: () => handlers.send(paragraph.index) }, "Send correction")));
  const changed = handlers.unsent(paragraph.index);
  if (saved?.error) box.append(el("p", { class: "failed", role: "alert" }, `Not saved: ${saved.error}`));
  else if (saved?.id && changed) box.append(el("p", { class: "unsent", role: "status" }, `Changed since it was saved as #${saved.id}: send again to store the change.`));
  else if (saved) box.append(el("p", { class: "saved", role: "status" }, saved.text));
  else if (changed) box.append(el("p", { class: "unsent", role: "status" }, "Not sent yet."));
  return box;
}

export function renderParagraph(model, paragraph, view, handlers) {
  const content = isContent(model, paragraph);
  const selection = view.selected?.index === paragraph.index ? view.selected : null;
  const terms = selection ? (paragraph.explanations?.[selection.set]?.[selection.label] || []).map((t) => t.term) : [];
  const header = el("header", {}, el("span", {}, `¶${paragraph.index + 1}`));
  if (paragraph.role) {
    // No role score: the role was given with the request ("Paragraphs are: all body text"), not read.
    const given = paragraph.role_score == null;
    const title = given ? "the role given with the request: the role model was not run" : "what the paragraph is on the page";
    header.append(el("span", { class: `role role-${paragraph.role}`, title }, `${paragraph.role} ${given ? "(given)" : paragraph.role_score.toFixed(2)}`));
  }
  // A paragraph whose words the model mostly does not know (another language) is not labelled either.
  const read = paragraph.read !== false;
  // Not read comes first: the role of text in a language the model does not know is a guess too.
  if (!read) header.append(el("span", { class: "unread" }, `no topics or frames: the model knows ${Math.round(paragraph.known_words * 100)}% of its words (another language?)`));
  else if (!content) header.append(el("span", {}, "no topics or frames: not body text"));
  const labelled = content && read;
  const card = el("li", { class: labelled ? "para" : "para muted", "data-index": paragraph.index, "data-role": paragraph.role || "", "data-read": String(read) }, header, el("p", { class: "text", dir: "auto" }, ...highlighted(paragraph.text, terms)));
  if (labelled) {
    for (const set of Object.keys(paragraph.labels)) {
      const chips = shownLabels(paragraph, set).map(([label, given]) => {
        const selected = selection?.set === set && selection?.label === label;
        return chip(model, paragraph, set, label, given, selected, () => handlers.select(paragraph.index, set, label));
      });
      card.append(chipRow({ "aria-label": `${set} of paragraph ${paragraph.index + 1}` }, [el("span", { class: "set-name" }, set), ...chips]));
    }
    card.append(evidence(model, paragraph, selection) || "");
  }
  if (view.correcting) card.append(editor(model, paragraph, view.drafts[paragraph.index], view.saved[paragraph.index], handlers));
  return card;
}
