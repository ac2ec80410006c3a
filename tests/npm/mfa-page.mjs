// The two-step verification pages in a real browser (Debian's Chromium, headless, driven by
// playwright-core): after the password, the enrolment page shows the QR code at its size and
// the key; the key's code (computed here, RFC 6238 with node's crypto) is typed with the
// keyboard; the recovery codes are listed; "continue" ends at the client's redirect URI with a
// code. On a 360 px phone nothing is wider than the screen.
//
// Prints one JSON object on stdout for the Rust end-to-end test; screenshots go to SCREENSHOTS.
//
// Environment:
//   LOGIN_URL      the authorization request (/oauth2/auth?...)
//   REDIRECT_URI   the client's callback; the browser's request to it is answered here
//   EMAIL, PASSWORD
//   SCREENSHOTS    a directory for mfa-enrol.png and mfa-recovery.png
//   CHROMIUM       default /usr/bin/chromium

import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { launch } from "./browser.mjs";

const env = process.env;
const result = {};
mkdirSync(env.SCREENSHOTS, { recursive: true });

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totp(secret, unix) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const hash = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = hash[19] & 0x0f;
  return String((hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

const browser = await launch(env);
try {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.route(`${env.REDIRECT_URI}**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: "signed in" }),
  );
  await page.goto(env.LOGIN_URL);
  await page.fill("#email", env.EMAIL);
  await page.fill("#password", env.PASSWORD);
  const [enrol] = await Promise.all([page.waitForNavigation(), page.press("#password", "Enter")]);
  result.enrol_status = enrol.status();
  result.heading = await page.textContent("h1");
  const qr = await page.locator("figure.qr svg").boundingBox();
  result.qr_size = qr && [Math.round(qr.width), Math.round(qr.height)];
  result.focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  result.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
  const secret = (await page.textContent("#totp-secret")).trim();
  result.secret_length = secret.length;
  result.otpauth_link = await page.getAttribute("a[href^='otpauth://']", "href");
  await page.screenshot({ path: `${env.SCREENSHOTS}/mfa-enrol.png`, fullPage: true });

  await page.keyboard.type(totp(secret, Date.now() / 1000));
  const [shown] = await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  result.recovery_status = shown.status();
  result.recovery_heading = await page.textContent("h1");
  result.recovery_codes = await page.locator("#recovery-codes li").allTextContents();
  result.recovery_scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: `${env.SCREENSHOTS}/mfa-recovery.png`, fullPage: true });
  const [request] = await Promise.all([
    page.waitForRequest((req) => req.url().startsWith(env.REDIRECT_URI)),
    page.click("text=I saved them, continue"),
  ]);
  result.callback = request.url();
} catch (err) {
  result.error = String(err && err.stack || err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
