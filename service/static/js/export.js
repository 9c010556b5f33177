// Downloads of the current results: the service's JSON as it came, or one CSV row per paragraph.

// A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...) runs on open): such text is
// written with a leading apostrophe, which spreadsheets show as text (OWASP's advice for CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

function csvField(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// One row per paragraph, numbered from 1 as the page shows them (¶1, ¶2 …); UTF-8 with a byte-order mark, so a
// spreadsheet opened by double-click reads accents and other scripts right.
export function resultsCsv(result) {
  const sets = Object.keys(result.paragraphs[0]?.labels || {});
  const header = ["paragraph", "role", "role_score", "read", ...sets, "text"];
  const rows = result.paragraphs.map((p) => [
    p.index + 1,
    p.role ?? "",
    p.role_score === undefined || p.role_score === null ? "" : p.role_score.toFixed(4),
    p.read === undefined ? "" : String(p.read),
    ...sets.map((set) => (p.labels[set] || []).join(";")),
    p.text,
  ]);
  return "\ufeff" + [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

export function download(filename, content, type) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
