// The article summary as inline SVG: label shares (horizontal bars) and a topic x frame heatmap.

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function pct(share) {
  return `${Math.round(share * 100)}%`;
}

// counts: {label: {paragraphs, share}} from summary.label_sets[set].counts; largest share first.
export function barChart(counts, title) {
  const entries = Object.entries(counts).sort((a, b) => b[1].share - a[1].share || a[0].localeCompare(b[0]));
  const labelWidth = 130, barWidth = 170, row = 20, width = labelWidth + barWidth + 60;
  const height = Math.max(1, entries.length) * row + 6;
  // Drawn at 1 user unit = 1 CSS pixel (shrunk only when the column is narrower), so text stays 11 px.
  // The figures in words too: an image's name alone told a screen reader nothing of what it shows.
  const said = entries.length ? entries.map(([label, c]) => `${label} ${pct(c.share)} (${c.paragraphs})`).join(", ") : "no labels";
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${title}: ${said}` });
  svg.append(svgElement("title", {}, title));
  if (!entries.length) {
    svg.append(svgElement("text", { x: 0, y: 14 }, "no labels in this article"));
    return svg;
  }
  entries.forEach(([label, count], i) => {
    const y = i * row + 3;
    const group = svgElement("g", { "data-label": label });
    group.append(svgElement("text", { x: labelWidth - 6, y: y + 13, "text-anchor": "end" }, label));
    group.append(svgElement("rect", { class: "bar", x: labelWidth, y, width: Math.max(1, count.share * barWidth), height: row - 6, rx: 2 }));
    group.append(svgElement("text", { x: labelWidth + count.share * barWidth + 4, y: y + 13 }, `${pct(count.share)} (${count.paragraphs})`));
    svg.append(group);
  });
  return svg;
}

// topicFrames: {topic: {frame: {paragraphs, of, share}}}; share = paragraphs with both / paragraphs with the topic.
export function heatmap(topicFrames, frames, title) {
  const topics = Object.keys(topicFrames);
  // Frame names are written slanting up to the right (50°): room above the grid and to its right for the longest,
  // at about 7 px a character (a fixed 100 px cut "economic_consequences" off at the top).
  const longest = 7 * Math.max(0, ...frames.map((frame) => frame.length));
  const cell = 34, left = 120;
  const top = Math.max(60, Math.ceil(longest * Math.sin((50 * Math.PI) / 180)) + 16);
  const right = Math.max(40, Math.ceil(longest * Math.cos((50 * Math.PI) / 180)) + 8);
  const width = left + Math.max(1, frames.length) * cell + right;
  const height = top + Math.max(1, topics.length) * cell + 4;
  const cells = topics.flatMap((topic) => frames.filter((frame) => topicFrames[topic][frame]).map((frame) => {
    const value = topicFrames[topic][frame];
    return `${topic} × ${frame}: ${value.paragraphs} of ${value.of}`;
  }));
  const said = cells.length ? `paragraphs with both, of the topic's: ${cells.join("; ")}` : "no topic with a frame";
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${title}: ${said}` });
  svg.append(svgElement("title", {}, title));
  if (!topics.length || !frames.length) {
    svg.append(svgElement("text", { x: 0, y: 14 }, "no topic with a frame in this article"));
    return svg;
  }
  frames.forEach((frame, j) => {
    const x = left + j * cell + cell / 2;
    svg.append(svgElement("text", { x, y: top - 6, transform: `rotate(-50 ${x} ${top - 6})` }, frame));
  });
  topics.forEach((topic, i) => {
    const y = top + i * cell;
    svg.append(svgElement("text", { x: left - 6, y: y + cell / 2 + 4, "text-anchor": "end" }, topic));
    frames.forEach((frame, j) => {
      const value = topicFrames[topic][frame];
      const share = value ? value.share : 0;
      const rect = svgElement("rect", {
        x: left + j * cell + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 3,
        fill: `rgb(31 78 121 / ${(0.06 + share * 0.94).toFixed(3)})`, "data-topic": topic, "data-frame": frame,
      });
      rect.append(svgElement("title", {}, value ? `${topic} × ${frame}: ${value.paragraphs} of ${value.of} paragraphs (${pct(share)})` : `${topic} × ${frame}: none`));
      svg.append(rect);
      if (value) {
        svg.append(svgElement("text", {
          class: share > 0.5 ? "cell-label light" : "cell-label", x: left + j * cell + cell / 2, y: y + cell / 2 + 4,
          "text-anchor": "middle",
        }, String(value.paragraphs)));
      }
    });
  });
  return svg;
}
