// Debian's Chromium, headless, as the page tests launch it.

import { chromium } from "playwright-core";

/** Launches the browser; `redirectUri`'s port is allowed (the harness's callbacks use port 9). */
export async function launch(env) {
  return await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      // Browsers refuse port 9 by default.
      `--explicitly-allowed-ports=${new URL(env.REDIRECT_URI).port}`,
    ],
  });
}
