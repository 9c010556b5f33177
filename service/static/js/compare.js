// Compare versions: the registered versions with their headline metrics, and the paragraphs whose role or
// labels differ between two of them, side by side.

import { el } from "./render.js";

export function versionName(version) {
  if (version.version === null) return "local model";
  return `v${version.version}${version.aliases.length ? ` (${version.aliases.join(", ")})` : ""}`;
}

// The figures analysts compare first lead (the CLI's `topicframe compare` ranks by the first); the rest follow.
const HEADLINE_METRICS = ["topic.micro_f1", "frame.micro_f1", "role.accuracy"];

function metricOrder(a, b) {
  const rank = (m) => (HEADLINE_METRICS.includes(m) ? HEADLINE_METRICS.indexOf(m) : HEADLINE_METRICS.length);
  return rank(a) - rank(b) || a.localeCompare(b);
}

export function renderVersions(listing) {
  const metricNames = [...new Set(listing.versions.flatMap((v) => Object.keys(v.metrics)))].sort(metricOrder);
  // A name may wrap after its set ("topic." / "micro_f1"), so six metrics fit beside each other at 1280 px.
  const metricHead = (m) => el("th", { scope: "col", "data-metric": m }, m.replace(".", ".\u200b"));
  // When it was registered goes under the version's name: a column of its own pushed the metrics out of view.
  const head = el("tr", {}, el("th", { scope: "col" }, "version, registered"), ...metricNames.map(metricHead));
  const rows = listing.versions.map((v) =>
    el("tr", { "data-version": v.version ?? "" },
      el("td", {}, versionName(v), v.serving ? " · serving" : "",
        el("small", { class: "registered" }, (v.created_at || "").replace("T", " ").replace(/:\d\d(\.\d+)?\+00:00$/, " UTC"))),
      ...metricNames.map((m) => el("td", { class: "num" }, v.metrics[m] === undefined ? "–" : v.metrics[m].toFixed(3)))),
  );
  const caption = el("caption", { class: "placeholder" },
    `${listing.name}: ${listing.registry ? "registered versions, newest first (test metrics)" : "served from a local directory, no registry"}`,
    el("span", { class: "scroll-hint", hidden: true }, " \u2014 scroll sideways for every metric \u2192"));
  return el("table", {}, caption, el("thead", {}, head), el("tbody", {}, ...rows));
}

// On a phone the metrics table is wider than the screen and scrolls: say so (a tester saw 4 of 8 columns and
// no sign of the others). Checked whenever the table is drawn or shown, and when the window changes size.
export function showScrollHint(container) {
  const hint = container.querySelector(".scroll-hint");
  if (hint) hint.hidden = container.scrollWidth <= container.clientWidth;
}

// Options: "current" (whatever is served), then every alias, then every version.
export function fillPickers(listing, selectA, selectB) {
  const options = [["current", "current (the served model)"]];
  for (const v of listing.versions) {
    for (const alias of v.aliases) options.push([alias, `${alias} → v${v.version}`]);
  }
  for (const v of listing.versions) if (v.version !== null) options.push([v.version, versionName(v)]);
  for (const select of [selectA, selectB]) {
    select.replaceChildren(...options.map(([value, text]) => el("option", { value }, text)));
  }
  const serving = listing.versions.find((v) => v.serving);
  const other = listing.versions.find((v) => !v.serving && v.version !== null);
  selectA.value = "current";
  selectB.value = other ? other.version : "current";
  if (serving && serving.aliases.includes("champion")) selectA.value = "champion";
}

function decision(paragraph) {
  const parts = [];
  if (paragraph.role) parts.push(["role", [paragraph.role]]);
  for (const [set, labels] of Object.entries(paragraph.labels)) parts.push([set, labels]);
  return parts;
}

function sideCell(head, mine, theirs) {
  const theirsBySet = Object.fromEntries(decision(theirs));
  const cell = el("td", { "data-head": head });
  for (const [set, labels] of decision(mine)) {
    const line = el("div", {}, `${set}: `);
    if (!labels.length) line.append("–");
    labels.forEach((label, i) => {
      if (i) line.append(", ");
      const only = !(theirsBySet[set] || []).includes(label);
      line.append(only ? el("span", { class: "only", title: "only in this version" }, label) : label);
    });
    cell.append(line);
  }
  return cell;
}

export function renderComparison(result) {
  const nameA = `v${result.a.model.version ?? "local"}`, nameB = `v${result.b.model.version ?? "local"}`;
  const total = result.a.paragraphs.length;
  if (result.a.model.name === result.b.model.name && result.a.model.version === result.b.model.version) {
    // "current", "champion" and the version itself can all name one model: comparing it with itself says nothing.
    return [el("p", { class: "compare-summary" }, `A and B are the same model (${nameA}): pick two different versions to compare (a second one is registered by training again).`)];
  }
  const summary = el("p", { class: "compare-summary" }, `${result.differences.length} of ${total} paragraphs differ between A (${nameA}) and B (${nameB}).`);
  if (!result.differences.length) return [summary];
  const rows = result.differences.map((i) => {
    const a = result.a.paragraphs[i], b = result.b.paragraphs[i];
    return el("tr", { "data-index": i }, el("td", { class: "text", "data-head": "paragraph" }, `¶${i + 1} ${a.text}`), sideCell(`A ${nameA}`, a, b), sideCell(`B ${nameB}`, b, a));
  });
  const head = el("tr", {}, el("th", { scope: "col" }, "paragraph"), el("th", { scope: "col" }, `A: ${nameA}`), el("th", { scope: "col" }, `B: ${nameB}`));
  return [summary, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))];
}
