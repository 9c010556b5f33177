// Corrections in progress ("drafts"): one per paragraph, its role and labels as the analyst set them, and the
// baseline it is compared with (the model's answer, or what was last saved) to say what is not sent yet.

import { isContent } from "./render.js";

// What a correction says: a byline, caption, promo or footer carries no topic or frame (the service refuses one).
// The chips are kept on the draft all the same, so passing over "byline" does not wipe them.
export function sentLabels(model, draft) {
  const carries = isContent(model, { role: draft.role });
  return Object.fromEntries(Object.entries(draft.labels).map(([set, labels]) => [set, carries ? [...labels].sort() : []]));
}

// A draft as it would be sent: compared with the model's answer and with what was last saved.
export function draftKey(model, draft) {
  return JSON.stringify([draft.role, sentLabels(model, draft)]);
}

export function isUnsent(model, draft) {
  return draftKey(model, draft) !== draft.baseline;
}

export function countUnsent(model, drafts) {
  return Object.values(drafts).filter((draft) => isUnsent(model, draft)).length;
}

function modelAnswer(model, paragraph) {
  const labels = Object.fromEntries(model.contentSets.map((set) => [set, [...(paragraph.labels[set] || [])]]));
  const draft = { role: paragraph.role || null, labels };
  draft.baseline = draftKey(model, draft);
  return draft;
}

// The drafts for a new result. Classified again by the same model, a paragraph whose text is unchanged keeps the
// correction the analyst made (unsent, or saved, with what was saved of it): fixing a typo in the footer must not
// undo the corrections made elsewhere; an untouched draft follows the new answer (its neighbours may have
// changed it). `dropped`: the unsent corrections of paragraphs whose text changed or went.
export function carryDrafts(model, previous, result, drafts, saved, sameModel) {
  const kept = new Map();
  if (previous && sameModel) {
    for (const p of previous.paragraphs) {
      const draft = drafts[p.index];
      if (draft && !kept.has(p.text)) kept.set(p.text, { draft, saved: saved[p.index], unsent: isUnsent(model, draft) });
    }
  }
  const out = { drafts: {}, saved: {}, dropped: countUnsent(model, drafts) };
  for (const p of result.paragraphs) {
    const old = kept.get(p.text);
    if (old && (old.unsent || old.saved)) {
      kept.delete(p.text); // a repeated text keeps one draft, at its first place
      out.drafts[p.index] = old.draft;
      if (old.saved) out.saved[p.index] = old.saved;
      if (old.unsent) out.dropped -= 1;
      continue;
    }
    out.drafts[p.index] = modelAnswer(model, p);
  }
  return out;
}
