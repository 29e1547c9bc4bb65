// Copy the vendored font subsets from node_modules/@fontsource/* into this folder:
// `npm install && npm run vendor:fonts`. The files here are committed; the app never needs npm or node.
// Only each family's own script subset, weights 400 and 700, under the names Fontsource gives them, so
// that static/css/fonts.css serves the same file to web pages and PDFs. The copyright lines of each
// package's LICENSE are in OFL.txt; a package whose version changes must be written into README.md.
import { copyFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "..", "..", "node_modules", "@fontsource");
const SUBSETS = [
  ["noto-sans", "latin"],
  ["noto-sans", "latin-ext"],
  ["noto-sans-bengali", "bengali"],
  ["noto-sans-gurmukhi", "gurmukhi"],
  ["noto-sans-devanagari", "devanagari"],
  ["noto-naskh-arabic", "arabic"],
  ["noto-nastaliq-urdu", "arabic"],
];
const fontsCss = readFileSync(join(here, "..", "css", "fonts.css"), "utf8");

for (const [pkg, subset] of SUBSETS) {
  const dir = join(modules, pkg);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const range = JSON.parse(readFileSync(join(dir, "unicode.json"), "utf8"))[subset];
  for (const weight of [400, 700]) {
    const file = `${pkg}-${subset}-${weight}-normal.woff2`;
    copyFileSync(join(dir, "files", file), join(here, file));
    // fonts.css must declare each file with the range the package gives it.
    const face = fontsCss.split("@font-face").find((block) => block.includes(`fonts/${file}`));
    if (!face || !face.includes(`unicode-range: ${range};`)) {
      console.error(`static/css/fonts.css: ${file} is missing or its unicode-range differs from ${pkg}'s`);
      process.exitCode = 1;
    }
  }
  console.log(`vendored @fontsource/${pkg} ${version} (${subset})`);
}
