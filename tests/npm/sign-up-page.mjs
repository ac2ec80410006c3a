// The sign-up page in a real browser (Debian's Chromium, headless, driven by playwright-core):
// the login page's "Create an account" link leads to it, passwords that differ are refused with
// the message at the password fields (the rest of the form kept), and on a 360 px phone the
// form is filled and sent, ending at the client's redirect URI with a code.
//
// Prints one JSON object on stdout for the Rust end-to-end test; screenshots go to SCREENSHOTS.
//
// Environment:
//   LOGIN_URL      the authorization request (/oauth2/auth?...), without prompt=create
//   REDIRECT_URI   the client's callback; the browser's request to it is answered here
//   EMAIL, PASSWORD
//   SCREENSHOTS    a directory for signup-error.png and signup-phone.png
//   CHROMIUM       default /usr/bin/chromium

import { mkdirSync } from "node:fs";
import { launch } from "./browser.mjs";

const env = process.env;
const result = {};
mkdirSync(env.SCREENSHOTS, { recursive: true });
const browser = await launch(env);
const fill = async (page, password, confirmation) => {
  await page.fill("#given_name", "Grace");
  await page.fill("#family_name", "Hopper");
  await page.fill("#email", env.EMAIL);
  await page.fill("#password", password);
  await page.fill("#password_confirmation", confirmation);
};
try {
  const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await desktop.goto(env.LOGIN_URL);
  const [page] = await Promise.all([desktop.waitForNavigation(), desktop.click("text=Create an account")]);
  result.page_status = page.status();
  result.title = await desktop.title();
  result.heading = await desktop.textContent("h1");
  await fill(desktop, env.PASSWORD, "not the same password");
  const [refused] = await Promise.all([desktop.waitForNavigation(), desktop.click("button[type=submit]")]);
  result.refused_status = refused.status();
  const error = desktop.locator("#password-error");
  result.error_text = (await error.textContent()).trim();
  result.error_visible = await error.isVisible();
  const confirmation = await desktop.locator("#password_confirmation").boundingBox();
  const errorBox = await error.boundingBox();
  result.error_below_confirmation_px = Math.round(errorBox.y - (confirmation.y + confirmation.height));
  result.confirmation_invalid = await desktop.getAttribute("#password_confirmation", "aria-invalid");
  result.email_kept = await desktop.inputValue("#email");
  result.password_kept = await desktop.inputValue("#password");
  await desktop.screenshot({ path: `${env.SCREENSHOTS}/signup-error.png`, fullPage: true });

  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const phone = await context.newPage();
  await phone.route(`${env.REDIRECT_URI}**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: "signed up" }),
  );
  await phone.goto(`${env.LOGIN_URL}&prompt=create`);
  result.phone_scroll_width = await phone.evaluate(() => document.documentElement.scrollWidth);
  result.focused_first = await phone.evaluate(() => document.activeElement && document.activeElement.id);
  await phone.screenshot({ path: `${env.SCREENSHOTS}/signup-phone.png`, fullPage: true });
  await fill(phone, env.PASSWORD, env.PASSWORD);
  const [request] = await Promise.all([
    phone.waitForRequest((req) => req.url().startsWith(env.REDIRECT_URI)),
    phone.press("#password_confirmation", "Enter"),
  ]);
  result.callback = request.url();
} catch (err) {
  result.error = String(err && err.stack || err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
