// CSS imports are bundled by esbuild (main.ts).
declare module "*.css";
