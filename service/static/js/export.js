// Downloads of the current results: the service's JSON as it came, or one CSV row per paragraph.

function csvField(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function resultsCsv(result) {
  const sets = Object.keys(result.paragraphs[0]?.labels || {});
  const header = ["index", "role", "role_score", "read", ...sets, "text"];
  const rows = result.paragraphs.map((p) => [
    p.index,
    p.role ?? "",
    p.role_score === undefined || p.role_score === null ? "" : p.role_score.toFixed(4),
    p.read === undefined ? "" : String(p.read),
    ...sets.map((set) => (p.labels[set] || []).join(";")),
    p.text,
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
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
