// Opens GraphiQL (/graphql) in headless Chromium with every other origin cut off, as on a machine
// without internet, and waits until its editor is up and the schema has loaded.
//
// env: GRAPHQL_URL (the server's /graphql), CHROMIUM (optional)
// stdout: one JSON line: what the page asked of other origins, and its errors.

import { chromium } from "playwright-core";

const { GRAPHQL_URL } = process.env;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT_MS = 30000;

const origin = new URL(GRAPHQL_URL).origin;
const elsewhere = [];
const problems = [];
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || new URL(url).origin === origin) return route.continue();
    elsewhere.push(url);
    return route.abort("internetdisconnected");
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => message.type() === "error" && problems.push(`console: ${message.text()}`));
  await page.goto(GRAPHQL_URL);
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  // The schema arrived by introspection: the documentation explorer can open it.
  await page.locator(".graphiql-sidebar button[aria-label='Show Documentation Explorer']").click();
  await page.getByText("Query", { exact: true }).first().waitFor();
  const loading = await page.getByText("Loading...", { exact: true }).count();
  console.log(JSON.stringify({ elsewhere, problems, loading }));
} catch (error) {
  console.log(JSON.stringify({ elsewhere, problems: [...problems, String(error)] }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
