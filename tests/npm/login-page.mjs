// The sign-in page in a real browser (Debian's Chromium, headless, driven by playwright-core):
// a wrong password shows its error next to the fields, the page fits a 360 px phone screen, and
// the form works with the keyboard alone, ending at the client's redirect URI with a code.
//
// Prints one JSON object on stdout for the Rust end-to-end test; screenshots go to SCREENSHOTS.
//
// Environment:
//   LOGIN_URL      the authorization request (/oauth2/auth?...)
//   REDIRECT_URI   the client's callback; the browser's request to it is answered here
//   EMAIL, PASSWORD
//   SCREENSHOTS    a directory for login-error.png and login-phone.png
//   CHROMIUM       default /usr/bin/chromium

import { mkdirSync } from "node:fs";
import { launch } from "./browser.mjs";

const env = process.env;
const result = {};
mkdirSync(env.SCREENSHOTS, { recursive: true });
const browser = await launch(env);
try {
  // A desktop window: a wrong password.
  const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await desktop.goto(env.LOGIN_URL);
  result.title = await desktop.title();
  result.heading = await desktop.textContent("h1");
  await desktop.fill("#email", env.EMAIL);
  await desktop.fill("#password", "not the password");
  const [wrong] = await Promise.all([desktop.waitForNavigation(), desktop.click("button[type=submit]")]);
  result.wrong_status = wrong.status();
  const error = desktop.locator("[role=alert]");
  result.error_text = (await error.textContent()).trim();
  result.error_visible = await error.isVisible();
  const password = await desktop.locator("#password").boundingBox();
  const errorBox = await error.boundingBox();
  // "Next to its field": right under the password field, within a line's height.
  result.error_below_password_px = Math.round(errorBox.y - (password.y + password.height));
  result.password_invalid = await desktop.getAttribute("#password", "aria-invalid");
  result.described_by = await desktop.getAttribute("#password", "aria-describedby");
  result.email_kept = await desktop.inputValue("#email");
  await desktop.screenshot({ path: `${env.SCREENSHOTS}/login-error.png`, fullPage: true });

  // A phone, and the keyboard alone.
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const phone = await context.newPage();
  await phone.route(`${env.REDIRECT_URI}**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: "signed in" }),
  );
  await phone.goto(env.LOGIN_URL);
  const layout = await phone.evaluate(() => {
    const right = (selector) => document.querySelector(selector).getBoundingClientRect().right;
    return {
      scroll_width: document.documentElement.scrollWidth,
      widest_right: Math.max(right("#email"), right("#password"), right("button[type=submit]")),
      focused: document.activeElement && document.activeElement.id,
    };
  });
  Object.assign(result, { phone_scroll_width: layout.scroll_width, phone_widest_right: layout.widest_right });
  result.focused_first = layout.focused;
  await phone.screenshot({ path: `${env.SCREENSHOTS}/login-phone.png`, fullPage: true });
  await phone.keyboard.type(env.EMAIL);
  await phone.keyboard.press("Tab");
  result.focused_after_tab = await phone.evaluate(() => document.activeElement.id);
  await phone.keyboard.type(env.PASSWORD);
  // The sign-in answers with a redirect to the client; the browser's request to it is the proof.
  const [request] = await Promise.all([
    phone.waitForRequest((req) => req.url().startsWith(env.REDIRECT_URI)),
    phone.keyboard.press("Enter"),
  ]);
  result.callback = request.url();
} catch (err) {
  result.error = String(err && err.stack || err);
  console.log(JSON.stringify(result));
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(result));
