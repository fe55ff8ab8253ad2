// The console is built into dist/ and served by idvd under /console/ (services/console.cc embeds
// dist/ at build time). No inline script or style: the page runs under a strict
// Content-Security-Policy (script-src 'self').
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  esbuild: { jsxFactory: 'h', jsxFragment: 'Fragment', jsxInject: "import { h, Fragment } from 'preact'" },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
