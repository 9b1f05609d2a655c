// The REST API as every annotator tool talks to it: session auth with Django's CSRF token,
// JSON in and out, and the server's reason as the error message (every API error is a 4xx
// {"error", "detail"}).

export function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// GET when there is no body, POST otherwise; resolves to null on 204 (no work for you).
export async function api(url, body) {
  const response = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error(data && data.detail ? data.detail : `error ${response.status}`);
  return data;
}

// A fresh idempotency key per answer: a retried submit with the same key counts once.
export function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
