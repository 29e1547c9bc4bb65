// The door scanner's offline signature check (static/js/door/verify.js) on tickets the server's own code
// signed. Run by tests/ticketing/test_scanner_js.py, which writes the cases (DENHUB_SCANNER_CASES names the
// file): {event_id, public_key, cases: [{name, payload, expect, claims?, public_key?}], code_key,
// hash_cases: [{typed, hash}]} (a typed code and the keyed hash the server's manifest has for its ticket).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { checkPayload, codeHash, importCodeKey, importPublicKey } from "../../static/js/door/verify.js";

const path = process.env.DENHUB_SCANNER_CASES;
if (!path) throw new Error("DENHUB_SCANNER_CASES is not set: run tests/ticketing/test_scanner_js.py");
const data = JSON.parse(readFileSync(path, "utf-8"));

for (const c of data.cases) {
  test(c.name, async () => {
    const key = importPublicKey(c.public_key === undefined ? data.public_key : c.public_key);
    const checked = await checkPayload(c.payload, data.event_id, key);
    assert.equal(checked.verdict, c.expect);
    if (c.claims) {
      const { code, eventId, typeId, initials } = checked.claims;
      assert.deepEqual({ code, eventId, typeId, initials }, c.claims);
    }
  });
}

for (const c of data.hash_cases || []) {
  test("typed code " + JSON.stringify(c.typed) + " hashes as the manifest's", async () => {
    assert.equal(await codeHash(importCodeKey(data.code_key), c.typed), c.hash);
  });
}
