// Calls to this service's API: same origin only, JSON in and out, errors turned into one readable sentence.

const KEY_STORAGE = "topicframe.apiKey";
const FEEDBACK_KEY_STORAGE = "topicframe.feedbackKey";

export class ApiError extends Error {
  constructor(message, status, body, requestId) {
    super(message);
    this.status = status;
    this.body = body;
    this.requestId = requestId;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY_STORAGE, value);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// A service may guard corrections with a key of their own (TOPICFRAME_FEEDBACK_KEY).
export function feedbackKey() {
  return sessionStorage.getItem(FEEDBACK_KEY_STORAGE) || "";
}

export function setFeedbackKey(value) {
  if (value) sessionStorage.setItem(FEEDBACK_KEY_STORAGE, value);
  else sessionStorage.removeItem(FEEDBACK_KEY_STORAGE);
}

// The API's names for what the page calls by its own words: a reader of the page never typed
// "header.X-API-Key" or "text_format" (a tester was told "text_format 'plain' classifies it as it is").
const PAGE_FIELDS = { text: "Article", text_format: "Read as", role: "Paragraphs are" };
const PAGE_PHRASES = [
  [/\btext_format '(\w+)'/g, (_, value) => `Read as \u201c${value === "plain" ? "plain text" : value}\u201d`],
  [/\btext_format\b/g, "Read as"],
];

function describeItem(item, keyField) {
  const where = (item.loc || []).filter((part) => part !== "body").join(".");
  const name = /^header\./i.test(where) ? keyField : (PAGE_FIELDS[where] ?? where);
  const msg = PAGE_PHRASES.reduce((said, [pattern, words]) => said.replace(pattern, words), String(item.msg));
  return name ? `${name}: ${msg}` : msg;
}

// The service's errors are {"detail": [{"loc": [...], "msg": ...}]}; "body" in loc is noise for a reader.
// `keyField`: the page's field for the key a refusing header names.
export function describeError(status, body, text, keyField = "API key") {
  if (body && Array.isArray(body.detail) && body.detail.length) {
    return body.detail.map((item) => describeItem(item, keyField)).join("; ");
  }
  if (body && typeof body.detail === "string") return body.detail;
  if (status === 413) return "the article is larger than the service accepts (TOPICFRAME_MAX_BODY_BYTES)";
  const snippet = (text || "").replace(/\s+/g, " ").trim().slice(0, 160);
  return `the service answered HTTP ${status}${snippet ? `: ${snippet}` : ""}`;
}

// `key`/`keyField`: which key to send and the field that holds it (named when the service refuses it).
export async function api(path, { method = "GET", body, headers = {}, key = apiKey(), keyField = "API key" } = {}) {
  const sent = { ...headers };
  if (body !== undefined) sent["content-type"] = "application/json";
  if (key) sent["x-api-key"] = key;
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(`The service did not answer (${error.message}). Is it running?`, 0, null, null);
  }
  const requestId = response.headers.get("x-request-id");
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // an HTML error page from a proxy, say: described from its status and text below
  }
  if (!response.ok) {
    let message = describeError(response.status, data, text, keyField);
    if (response.status === 401 || response.status === 403) message += ` (enter the key under \u201c${keyField}\u201d)`;
    if (response.status >= 500 && requestId) message += ` (request ${requestId})`;
    throw new ApiError(message, response.status, data, requestId);
  }
  return { data, requestId };
}

// GET /readyz: {ready: true, model} or {ready: false, reason, message}.
export async function readiness() {
  try {
    const { data } = await api("/readyz");
    return { ready: true, model: data.model };
  } catch (error) {
    const item = error.body && Array.isArray(error.body.detail) ? error.body.detail[0] : null;
    return { ready: false, reason: item?.reason || `http_${error.status}`, message: item?.msg || error.message };
  }
}
