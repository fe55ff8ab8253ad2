// Times the console's dashboard in headless Chromium (playwright-core) for scripts/console_scale.sh:
// an auditor signs in once, then the dashboard is loaded afresh five times (navigation until its
// counts are shown) and switched to the 30-day window five times. Environment: CONSOLE
// (http://host:port), AUDITOR_KEY, RECORDS (the total the dashboard must show), CHROMIUM.
import { chromium } from 'playwright-core';

const env = process.env;
const runs = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: env.CHROMIUM,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  await page.goto(`${env.CONSOLE}/console/`);
  await page.getByLabel(/API key|API 密钥/).fill(env.AUDITOR_KEY);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.getByTestId('who').waitFor();

  const load = [];
  const month = [];
  for (let i = 0; i < runs; i++) {
    let start = Date.now();
    await page.goto(`${env.CONSOLE}/console/`);
    await page.locator('[data-testid=dashboard][data-window="1"]').waitFor();
    load.push(Date.now() - start);
    const total = Number(await page.getByTestId('total').textContent());
    if (total !== Number(env.RECORDS)) {
      console.log(`FAIL: the dashboard shows ${total} verifications, the store holds ${env.RECORDS}`);
      failed = true;
    }
    start = Date.now();
    await page.getByLabel(/Window|时间范围/).selectOption('30');
    await page.locator('[data-testid=dashboard][data-window="30"]').waitFor();
    month.push(Date.now() - start);
  }
  for (const [what, ms] of [['dashboard load (sign-in done, last 24 hours)', load],
                            ['switch to the 30-day window', month]]) {
    console.log(`  ${what.padEnd(46)} median ${median(ms)} ms, slowest ${Math.max(...ms)} ms  (runs: ${ms.join(' ')})`);
    if (median(ms) >= 2000) {
      console.log(`FAIL: ${what} takes ${median(ms)} ms, the target is under 2 s`);
      failed = true;
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
