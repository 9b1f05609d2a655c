// The REST API as every annotator tool talks to it, and the one lease loop they share.
//
// api(): session auth with Django's CSRF token, JSON in and out; every failure is an
// ApiError carrying the HTTP status (0 when the server could not be reached), the server's
// error code and its reason (every API error is a 4xx {"error", "detail"}).
//
// createLeaseLoop(): lease a task, keep ONE idempotency key per lease (a retry after a lost
// response gets the first answer's result), retry network failures with that same key,
// keep the worker's draft in localStorage while the lease is held and offer it back after
// leasing again, and say what to do next on every failure: a page never stays on
// "Loading…".

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }

  get network() {
    return this.status === 0 || this.status >= 500;
  }

  // The lease is gone: expired (409 lease_expired), released, or given to someone else.
  get leaseLost() {
    return (
      this.code === "lease_expired" ||
      (this.status === 409 && this.code === "wrong_state") ||
      this.status === 410 ||
      (this.status === 403 && this.code === "not_yours")
    );
  }
}

export function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// GET when there is no body, POST otherwise; resolves to null on 204 (no work for you).
export async function api(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "network", "the server could not be reached");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail ? data.detail : `the server answered ${response.status}`;
    throw new ApiError(response.status, (data && data.error) || "error", detail);
  }
  return data;
}

export function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Network failures and 5xx are retried (same request, same key); a 4xx is an answer.
export async function withRetry(call, { tries = 3, delayMs = 400 } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ApiError) || !error.network || attempt >= tries) throw error;
      await sleep(delayMs * 2 ** (attempt - 1));
    }
  }
}

// ---- drafts: the worker's unsent work, in this browser only ---------------------------------

const DRAFT_PREFIX = "cocoforge:draft:";
const DRAFT_DAYS = 2;

function who() {
  const el = document.querySelector("[data-testid=who]");
  return el ? el.textContent.trim() : "";
}

export const drafts = {
  // Keyed by worker and task: a task's draft is found again whichever answer slot the
  // worker is leased after the first lease ran out. The entry records the assignment too.
  key(taskId) {
    return `${DRAFT_PREFIX}${who()}:${taskId}`;
  },
  read(taskId) {
    try {
      return JSON.parse(localStorage.getItem(this.key(taskId)) || "null");
    } catch {
      return null;
    }
  },
  write(taskId, entry) {
    try {
      localStorage.setItem(this.key(taskId), JSON.stringify({ ...entry, saved: Date.now() }));
      return true;
    } catch {
      return false; // storage full or disabled: the work still goes out with the submit
    }
  },
  remove(taskId) {
    try {
      localStorage.removeItem(this.key(taskId));
    } catch {
      /* storage disabled */
    }
  },
  prune() {
    try {
      const old = Date.now() - DRAFT_DAYS * 86400e3;
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const k = localStorage.key(i);
        if (!k || !k.startsWith(DRAFT_PREFIX)) continue;
        const entry = JSON.parse(localStorage.getItem(k) || "null");
        if (!entry || entry.saved < old) localStorage.removeItem(k);
      }
    } catch {
      /* storage disabled */
    }
  },
};

// ---- marketplace mode (an MTurk HIT, docs/annotator/mturk.md) ---------------------------

// The page of an accepted HIT carries #mturk-hit (frontend/templates/frontend/base.html):
// the loop then leases that HIT's one task and submits through the marketplace endpoints.
export function marketplaceFromPage(doc = document) {
  const el = doc.getElementById("mturk-hit");
  if (!el) return null;
  const { assignmentId, leaseUrl, submitUrl, externalSubmit } = el.dataset;
  return { assignmentId, leaseUrl, submitUrl, externalSubmit };
}

// MTurk's externalSubmit form: the page (MTurk's iframe) posts it after cocoforge stored the
// answer. The address is the one the server checked against MTURK_SUBMIT_HOSTS.
export function postToMTurk(market, answerSlot, doc = document) {
  const form = doc.createElement("form");
  form.method = "post";
  form.action = market.externalSubmit;
  form.hidden = true;
  form.dataset.testid = "mturk-submit-form";
  for (const [name, value] of [["assignmentId", market.assignmentId], ["cocoforgeAnswer", String(answerSlot)]]) {
    const input = doc.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  doc.body.append(form);
  form.submit();
  return form;
}

// ---- the lease loop ---------------------------------------------------------------------

// options: root (the tool's element; gets data-state), status (element for messages),
// stage, nextUrl, submitUrl ("{id}" for the assignment), nextBody (extra lease fields),
// onLease(lease) -> Promise (show the task), onEmpty(), getDraft() -> JSON-able state or
// null, restoreDraft(state), emptyText, workName ("photo", "grid"...).
// Marketplace mode (the page of an accepted MTurk HIT, or options.marketplace): the lease and
// submit go to the HIT's endpoints, and once the answer is stored the page posts MTurk's
// externalSubmit form instead of leasing the next task.
export function createLeaseLoop(options) {
  const { root, stage, status } = options;
  const market = options.marketplace === undefined ? marketplaceFromPage() : options.marketplace;
  if (market) {
    options = { ...options, nextUrl: market.leaseUrl, submitUrl: market.submitUrl, nextBody: {} };
    root.dataset.marketplace = "mturk";
  }
  const emptyText = options.emptyText || "No more work for you right now. Thank you!";
  const notice = document.createElement("div");
  notice.className = "lease-notice";
  notice.dataset.testid = "notice";
  notice.hidden = true;
  status.after(notice);

  let lease = null;
  let key = "";
  let startedAt = 0;
  let busy = false;
  let saveTimer = null;
  drafts.prune();

  function setState(state) {
    root.dataset.state = state;
  }

  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  // A message with what to do next, and the buttons that do it.
  function offer(text, actions = [], isError = true) {
    say(text, isError);
    notice.replaceChildren();
    for (const [label, testid, action] of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.dataset.testid = testid;
      button.textContent = label;
      button.addEventListener("click", () => {
        notice.hidden = true;
        action();
      });
      notice.append(button);
    }
    notice.hidden = actions.length === 0;
  }

  function clearNotice() {
    notice.hidden = true;
    notice.replaceChildren();
  }

  function failureText(error, doing) {
    if (error instanceof ApiError && error.status === 0) {
      return `${doing}: the server could not be reached. Check your connection, then press Try again.`;
    }
    if (error instanceof ApiError && error.status >= 500) {
      return `${doing}: the server had a problem (${error.status}). Wait a moment, then press Try again.`;
    }
    return `${doing}: ${error.message}.`;
  }

  async function next() {
    clearTimeout(saveTimer);
    lease = null;
    setState("loading");
    say("Loading…");
    clearNotice();
    let leased;
    try {
      leased = await withRetry(() => api(options.nextUrl, { stage, ...(options.nextBody || {}) }));
    } catch (error) {
      setState("error");
      offer(failureText(error, "Could not get a task"), [["Try again", "retry", next]]);
      return null;
    }
    if (!leased) {
      setState("empty");
      say(emptyText);
      if (options.onEmpty) options.onEmpty();
      return null;
    }
    lease = leased;
    const stored = drafts.read(lease.task.id);
    // One key per lease; a page reloaded while holding the same lease keeps its key.
    key = stored && stored.assignment === lease.id && stored.key ? stored.key : uuid();
    startedAt = performance.now();
    try {
      await options.onLease(lease);
    } catch (error) {
      setState("error");
      offer(failureText(error, "Could not open the task"), [["Try again", "retry", next]]);
      return null;
    }
    setState("ready");
    if (stored && stored.draft && options.restoreDraft) {
      offer(
        "You have unsent work on this task from before (the lease ran out or the page was closed). Restore it?",
        [
          ["Restore my work", "restore-draft", () => {
            options.restoreDraft(stored.draft);
            say("Your earlier work is back. Check it and submit.");
            saveDraft();
          }],
          ["Start over", "discard-draft", () => {
            drafts.remove(lease.task.id);
            say("Starting over on this task.");
          }],
        ],
        false,
      );
    }
    return lease;
  }

  // Store the tool's current draft for the lease held (debounced; the tool calls this after
  // every change).
  function saveDraft() {
    if (!lease || !options.getDraft) return;
    clearTimeout(saveTimer);
    const held = lease;
    saveTimer = setTimeout(() => {
      if (lease !== held) return;
      const draft = options.getDraft();
      if (draft === null || draft === undefined) drafts.remove(held.task.id);
      else drafts.write(held.task.id, { assignment: held.id, stage, key, draft });
    }, 250);
  }

  function saveDraftNow() {
    if (!lease || !options.getDraft) return;
    clearTimeout(saveTimer);
    const draft = options.getDraft();
    if (draft !== null && draft !== undefined) drafts.write(lease.task.id, { assignment: lease.id, stage, key, draft });
  }

  // Send the answer with this lease's key; resolves true when it is stored (then the next
  // task is leased), false when not (the message says what to do; the work is kept).
  async function submit(answer) {
    if (!lease || busy) return false;
    busy = true;
    setState("sending");
    saveDraftNow();
    clearNotice();
    say("Sending…");
    const held = lease;
    const body = {
      answer,
      idempotency_key: key,
      time_spent_seconds: Math.round((performance.now() - startedAt) / 100) / 10,
    };
    try {
      await withRetry(() => api(options.submitUrl.replace("{id}", held.id), body));
    } catch (error) {
      busy = false;
      setState("ready");
      if (error instanceof ApiError && error.leaseLost) {
        saveDraftNow();
        lease = null;
        setState("expired");
        offer(
          `Not saved: ${error.message}. Your work is kept in this browser: press "Get the task again"; ` +
            "when the same task comes back you can restore your work and send it.",
          [["Get the task again", "lease-again", next]],
        );
      } else if (error instanceof ApiError && error.network) {
        offer(
          `${failureText(error, "Not sent yet")} Your work is kept; sending again cannot count it twice.`,
          [["Try again", "retry", () => submit(answer)]],
        );
      } else {
        offer(`Not saved: ${error.message}. Change your answer and submit again.`, []);
      }
      return false;
    }
    busy = false;
    drafts.remove(held.task.id);
    root.dataset.submitted = String(Number(root.dataset.submitted || 0) + 1);
    if (market) {
      // One task per HIT: tell MTurk, which then ends the HIT (no next task here).
      lease = null;
      setState("done");
      say("Saved. Sending the HIT to MTurk…", false);
      postToMTurk(market, held.id);
      return true;
    }
    await next();
    if (root.dataset.state === "empty") say(`Saved. ${emptyText}`);
    else if (root.dataset.state === "ready" && notice.hidden) say(`Saved. ${status.textContent}`, false);
    return true;
  }

  return {
    next,
    submit,
    saveDraft,
    say,
    offer,
    get lease() {
      return lease;
    },
    get busy() {
      return busy;
    },
  };
}
