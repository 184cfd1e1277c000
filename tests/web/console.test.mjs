// The web console in Debian's Chromium, headless, driven by playwright-core
// (from the build's npm install), against a real ottod, Mosquitto and a
// simulated fleet that tests/e2e/22-console.sh started. Every page is
// screenshotted into $SHOTS. Environment: OTTO_URL, ADMIN_TOKEN,
// VIEWER_TOKEN, WEB_NPM, SHOTS, FW_FILE and FW_SIG (a signed 1.1.0 to
// upload), GROUP, N (devices), FIRST (one device's name).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";

const env = process.env;
const { chromium } = createRequire(`${env.WEB_NPM}/`)("playwright-core");
const N = Number(env.N);
let browser;
const errors = [];
mkdirSync(env.SHOTS, { recursive: true });

before(async () => {
  browser = await chromium.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); });

// A tab signed in with token; every console error and page error is kept,
// and every request must go to ottod.
async function signedIn(token) {
  // ottod's certificate is from the deployment's own CA, which this
  // throwaway browser profile does not hold: the test accepts it.
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const origin = new URL(env.OTTO_URL).origin;
  page.on("console", (m) => {
    appendFileSync(`${env.SHOTS}/console.log`, `${m.type()}: ${m.text()} (${page.url()})\n`);
    if (m.type() === "error") errors.push(`${m.text()} (${page.url()})`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) errors.push(`request to another host: ${r.url()}`); });
  await page.goto(`${env.OTTO_URL}/`);
  await page.fill("#token", token);
  await page.click("#login-form button");
  await page.waitForSelector("#top:not([hidden])");
  return page;
}

const shot = (page, name) => page.screenshot({ path: `${env.SHOTS}/${name}.png`, fullPage: true });

// What the page said in its status line, when a wait fails (for the log).
async function waitOr(page, fn) {
  try { return await fn(); } catch (e) {
    e.message += `\n    page status line: "${await page.textContent("#status").catch(() => "?")}" at ${page.url()}`;
    await shot(page, `failed-${Date.now()}`).catch(() => {});
    throw e;
  }
}

test("a wrong token is refused with a message", async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await page.goto(`${env.OTTO_URL}/`);
  await page.fill("#token", "not-a-token");
  await page.click("#login-form button");
  await page.waitForFunction(() => (document.querySelector("#login-error")?.textContent ?? "").length > 0);
  assert.match(await page.textContent("#login-error"), /not accepted/);
  await ctx.close();
});

test("operator: overview, fleet, firmware upload, a job with a rate run live, paused and resumed", async () => {
  const page = await signedIn(env.ADMIN_TOKEN);
  await page.waitForFunction((n) => document.querySelectorAll(".cards .value")[0]?.textContent === String(n), N);
  assert.equal(await page.textContent(".cards .card:nth-child(2) .value"), String(N)); // all connected
  await page.waitForSelector("#versions .bar");
  await shot(page, "overview");

  // Fleet: every device, online; search narrows it to one; offline to none
  await page.click('nav a[data-page="fleet"]');
  await page.waitForSelector("#devices tbody tr");
  assert.equal(await page.locator("#devices tbody tr").count(), N);
  assert.match(await page.textContent("#fleet-count"), new RegExp(`^${N} devices match`));
  assert.equal(await page.locator("#devices .online").count(), N);
  await shot(page, "fleet");
  await page.fill('input[type="search"]', env.FIRST);
  await page.waitForFunction(() => /^1 device match/.test((document.querySelector("#fleet-count")?.textContent ?? "")));
  await page.fill('input[type="search"]', "");
  await page.selectOption('select[aria-label="status"]', "offline");
  await page.waitForFunction(() => /^0 devices match/.test((document.querySelector("#fleet-count")?.textContent ?? "")));
  await page.selectOption('select[aria-label="status"]', "");

  // Firmware: a signed image dropped on the upload form (a drop event
  // carrying the file, as a drag from the desktop does), its signature
  // from the file picker
  await page.click('nav a[data-page="firmware"]');
  await page.waitForSelector("#upload");
  const dt = await page.evaluateHandle((bytes) => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(bytes)], "v110.bin", { type: "application/octet-stream" }));
    return d;
  }, [...readFileSync(env.FW_FILE)]);
  await page.dispatchEvent("#drop", "dragover", { dataTransfer: dt });
  await page.dispatchEvent("#drop", "drop", { dataTransfer: dt });
  assert.match(await page.textContent("#drop"), /^v110\.bin, 72\.0 KiB$/);
  await page.setInputFiles("#fw-sig", env.FW_SIG);
  await page.fill("#fw-product", "lamp");
  await page.click('#upload button[type="submit"]');
  await page.waitForFunction(() => /^Uploaded as fw-/.test((document.querySelector("#upload-result")?.textContent ?? "")));
  const fwId = (await page.textContent("#upload-result")).match(/fw-[0-9a-f]+/)[0];
  await waitOr(page, () => page.waitForSelector(`#firmware td code:text("${fwId}")`));
  assert.match(await page.textContent("#firmware"), /signed/);
  await shot(page, "firmware");

  // A job from the console: its plan in words before it starts
  await page.click('nav a[data-page="jobs"]');
  await page.click("#new-job");
  await page.waitForSelector("#new-job-form");
  await page.selectOption("#job-fw", fwId);
  await page.selectOption("#job-groups", env.GROUP);
  await page.fill("#job-rate", "6");
  await page.fill("#job-abort-pct", "10");
  await page.fill("#job-abort-min", "3");
  await page.fill("#job-desc", "console test");
  const summary = await page.textContent("#job-summary");
  assert.match(summary, new RegExp(`Update group ${env.GROUP}; 6 devices a minute; stop if 10 % fail after 3\\.`));
  await shot(page, "new-job");
  await page.click("#job-create");
  await page.waitForSelector("#job-info dl");
  const jobId = decodeURIComponent(page.url().split("#/jobs/")[1]);

  // Pause it at once; the console says so; then resume and watch it finish
  await page.click("#job-pause");
  await page.waitForSelector("#job-resume");
  await page.waitForFunction(() => /Paused/.test((document.querySelector("#job-info")?.textContent ?? "")));
  assert.equal(await page.textContent("#job-actions"), "ResumeCancel"); // the buttons, and nothing else
  await shot(page, "job-paused");
  await page.click("#job-resume");
  await page.waitForSelector("#job-pause");
  await page.waitForFunction(() => document.querySelector("#job-status .badge")?.textContent === "COMPLETED",
    null, { timeout: 120000 });
  assert.equal(await page.locator("#executions tbody tr").count(), N);
  assert.equal(await page.locator("#executions .s-succeeded").count(), N);
  assert.ok(await page.locator("#job-chart canvas").count() > 0, "the chart is drawn");
  assert.equal(await page.locator("#job-actions button").count(), 0); // nothing to pause or cancel now
  await shot(page, "job");

  // The overview sees the fleet on its new version
  await page.click('nav a[data-page="overview"]');
  await page.waitForFunction(() => /esp32 1\.1\.0/.test((document.querySelector("#versions")?.textContent ?? "")));
  assert.match(await page.textContent("#running"), /No job is running|COMPLETED/);
  console.log(`job ${jobId} created, paused, resumed and SUCCEEDED on ${N} devices from the console`);
  await page.context().close();
});

test("viewer: sees everything, is offered no button that would fail", async () => {
  const page = await signedIn(env.VIEWER_TOKEN);
  assert.match(await page.textContent("#who"), /viewer/);
  await page.click('nav a[data-page="jobs"]');
  await waitOr(page, () => page.waitForSelector("#jobs-list table"));
  assert.equal(await page.locator("#new-job").count(), 0);
  await page.click("#jobs-list a");
  await page.waitForSelector("#job-info dl");
  assert.equal(await page.locator("#job-actions button").count(), 0);
  await page.click('nav a[data-page="firmware"]');
  await page.waitForSelector("#firmware");
  assert.equal(await page.locator("#upload").count(), 0);
  await shot(page, "viewer-firmware");
  await page.context().close();
});

test("no console errors, no request to another host", () => {
  assert.deepEqual(errors, []);
});
