// The lease loop's retry rules (frontend/static/js/api.js): what is retried with the same
// idempotency key and what is a lost lease. The loop itself is tested in Chromium
// (tests/browser/test_lease_loop.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, marketplaceFromPage, postToMTurk, withRetry } from "../../frontend/static/js/api.js";

test("network failures and 5xx are retried until one call succeeds", async () => {
  let calls = 0;
  const result = await withRetry(async () => {
    calls += 1;
    if (calls === 1) throw new ApiError(0, "network", "unreachable");
    if (calls === 2) throw new ApiError(502, "error", "bad gateway");
    return "stored";
  }, { delayMs: 1 });
  assert.equal(result, "stored");
  assert.equal(calls, 3);
});

test("a 4xx is an answer: not retried", async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls += 1;
      throw new ApiError(400, "answer_invalid", "no");
    }, { delayMs: 1 }),
    /no/,
  );
  assert.equal(calls, 1);
});

test("retries stop after the given number of tries", async () => {
  let calls = 0;
  await assert.rejects(withRetry(async () => {
    calls += 1;
    throw new ApiError(0, "network", "unreachable");
  }, { tries: 3, delayMs: 1 }));
  assert.equal(calls, 3);
});

test("an expired, released or re-leased assignment counts as a lost lease", () => {
  assert.ok(new ApiError(409, "lease_expired", "").leaseLost);
  assert.ok(new ApiError(409, "wrong_state", "").leaseLost);
  assert.ok(new ApiError(410, "gone", "").leaseLost);
  assert.ok(new ApiError(403, "not_yours", "").leaseLost);
  assert.equal(new ApiError(409, "idempotency_key_reused", "").leaseLost, false);
  assert.equal(new ApiError(400, "answer_invalid", "").leaseLost, false);
});

// A stand-in for the few DOM calls marketplace mode makes (the whole HIT is walked in
// Chromium: tests/browser/test_mturk_external.py).
function fakeDocument(hit) {
  return {
    body: { appended: [], append(el) { this.appended.push(el); } },
    getElementById: (id) => (id === "mturk-hit" && hit ? { dataset: hit } : null),
    createElement: (tag) => ({
      tag,
      dataset: {},
      children: [],
      append(...els) { this.children.push(...els); },
      submit() { this.submitted = true; },
    }),
  };
}

test("marketplace mode is read from the page's #mturk-hit element, and only from there", () => {
  const hit = {
    assignmentId: "3ASSIGNMENT",
    leaseUrl: "/api/v1/mturk/assignments/3ASSIGNMENT/lease/",
    submitUrl: "/api/v1/mturk/assignments/3ASSIGNMENT/slots/{id}/submit/",
    externalSubmit: "https://workersandbox.mturk.com/mturk/externalSubmit",
  };
  assert.deepEqual(marketplaceFromPage(fakeDocument(hit)), hit);
  assert.equal(marketplaceFromPage(fakeDocument(null)), null);
});

test("the MTurk form posts the assignment id and the answer slot to the checked address", () => {
  const doc = fakeDocument(null);
  const market = { assignmentId: "3ASSIGNMENT", externalSubmit: "https://www.mturk.com/mturk/externalSubmit" };
  const form = postToMTurk(market, 42, doc);
  assert.equal(form.method, "post");
  assert.equal(form.action, "https://www.mturk.com/mturk/externalSubmit");
  assert.ok(form.submitted);
  assert.deepEqual(doc.body.appended, [form]);
  assert.deepEqual(
    form.children.map((input) => [input.name, input.value]),
    [["assignmentId", "3ASSIGNMENT"], ["cocoforgeAnswer", "42"]],
  );
});
