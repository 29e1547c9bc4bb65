// Copy zxing-wasm's reader build from node_modules into this folder: `npm install && npm run vendor`.
// The files here are committed; the app never needs npm or node at run time.
import { createHash } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "..", "node_modules", "zxing-wasm");
const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));

copyFileSync(join(pkg, "dist", "iife", "reader", "index.js"), join(here, "zxing-reader.js"));
copyFileSync(join(pkg, "dist", "reader", "zxing_reader.wasm"), join(here, "zxing_reader.wasm"));
copyFileSync(join(pkg, "LICENSE"), join(here, "LICENSE"));

// The build records the SHA-256 of the .wasm it was made with: refuse a mismatched pair.
const js = readFileSync(join(here, "zxing-reader.js"), "utf8");
const expected = /ZXING_WASM_SHA256=`([0-9a-f]{64})`/.exec(js)?.[1];
const actual = createHash("sha256").update(readFileSync(join(here, "zxing_reader.wasm"))).digest("hex");
if (expected !== actual) {
  console.error(`zxing_reader.wasm sha256 ${actual} does not match the script's ${expected}`);
  process.exit(1);
}
writeFileSync(join(here, "VERSION"), `${version}\n`);
console.log(`vendored zxing-wasm ${version} (reader), wasm sha256 ${actual}`);
