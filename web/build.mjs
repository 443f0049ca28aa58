// Bundles the dashboard for embedding: type-checks (tsc, strict), then src/main.ts (+ the CSS it
// imports) -> app.js, app.css; copies index.html; writes a .gz beside each file that compresses
// well (the server sends it to clients that accept gzip). Usage: node build.mjs --outdir DIR
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants } from "node:zlib";
import { spawnSync } from "node:child_process";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--outdir");
const outdir = at >= 0 ? args[at + 1] : join(here, "dist");
mkdirSync(outdir, { recursive: true });

// esbuild strips types without checking them: tsc does (tsconfig.json, no output).
const tsc = spawnSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", here],
  { stdio: "inherit" });
if (tsc.status !== 0) {
  console.error("dashboard: TypeScript errors (above)");
  process.exit(1);
}

const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100"],
  outdir,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(outdir, "index.html"));

let total = 0, totalGz = 0;
for (const name of ["index.html", "app.js", "app.css"]) {
  const file = join(outdir, name);
  const body = readFileSync(file);
  const gz = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
  total += body.length;
  if (gz.length < body.length * 0.9) {
    writeFileSync(file + ".gz", gz);
    totalGz += gz.length;
  } else {
    if (existsSync(file + ".gz")) rmSync(file + ".gz");
    totalGz += body.length;
  }
}
console.log(`dashboard bundle: ${(total / 1024).toFixed(0)} KB, ${(totalGz / 1024).toFixed(0)} KB gzipped`);
void result;
