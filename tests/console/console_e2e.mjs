// The web console end to end, in Debian's headless Chromium driven by playwright-core, against an
// idvd that tests/integration/console_test.sh started with a simulator and seeded traffic.
// Environment: CONSOLE (http://host:port), AUDITOR_KEY, ADMIN_KEY, OTHER_KEY (an auditor of
// another tenant), SEED_ACCOUNT, EXPECTED (JSON: outcome -> count over the dashboard's window),
// SIM2 (a second simulator's address), SHOTS (screenshot directory), CHROMIUM.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const env = process.env;
const base = env.CONSOLE;
let step = 0;
let failures = 0;

function check(ok, what) {
  step++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${step} ${what}`);
  if (!ok) failures++;
}

// axe-core's WCAG 2 A and AA rules, run in each page the test takes a screenshot of. Evaluated
// through the DevTools protocol, which the page's Content-Security-Policy does not govern.
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const a11y = [];

async function shot(page, name) {
  await page.screenshot({ path: path.join(env.SHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
                                      target: v.nodes[0] && v.nodes[0].target.join(' ') }));
  });
  for (const v of found) a11y.push(`${name}: ${v.id} (${v.impact}, ${v.nodes}× e.g. ${v.target})`);
}

async function signIn(page, key) {
  await page.goto(`${base}/console/`);
  await page.getByLabel(/API key|API 密钥/).fill(key);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.getByTestId('who').waitFor();
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  // Uncaught exceptions and errors the console's own code logs. Refused requests the test makes
  // on purpose (401, 403, 404, 400) show as "Failed to load resource" lines and are not errors.
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
  });

  // The page and its headers.
  const response = await page.goto(`${base}/console/`);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && csp.includes("default-src 'none'") &&
        csp.includes("frame-ancestors 'none'"), `strict Content-Security-Policy: ${csp}`);
  await shot(page, 'sign-in');

  // A wrong key is refused, and says so.
  await page.getByLabel(/API key|API 密钥/).fill('nobody.wrong');
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.getByRole('alert').waitFor();
  check((await page.getByRole('alert').textContent()).includes('invalid API key'), 'a wrong key is refused');

  // The auditor signs in with the keyboard alone: Tab to the key, type it, Enter.
  await page.goto(`${base}/console/`);
  // The focused control's text (none while the page itself has the focus).
  const focused = () => page.evaluate(() => {
    const e = document.activeElement;
    return e && e !== document.body ? e.textContent.trim() : '';
  });
  let tabs = 0;
  for (; tabs < 10 && !(await page.getByLabel(/API key|API 密钥/).evaluate((e) => e === document.activeElement)); tabs++) {
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type(env.AUDITOR_KEY);
  await page.keyboard.press('Enter');
  await page.getByTestId('who').waitFor();
  check(tabs < 10, `signed in with the keyboard alone (${tabs} Tab presses to the key field)`);

  // The dashboard's counts equal the audit counts.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'idv_session');
  check(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/console',
        'the session cookie is HttpOnly, SameSite=Strict, Path=/console');
  await page.getByTestId('dashboard').waitFor();
  const expected = JSON.parse(env.EXPECTED);
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  check(Number(await page.getByTestId('total').textContent()) === total,
        `dashboard total = audit total (${total})`);
  for (const [outcome, n] of Object.entries(expected)) {
    const shown = Number(await page.getByTestId(`outcome-${outcome}`).textContent());
    check(shown === n, `dashboard ${outcome} = ${n} (shows ${shown})`);
  }
  await shot(page, 'dashboard');
  // The 7-day window counts the same records, by the day.
  await page.getByLabel(/Window|时间范围/).selectOption('7');
  await page.locator('[data-testid=dashboard][data-window="7"]').waitFor();
  check(Number(await page.getByTestId('total').textContent()) === total,
        `the 7-day window shows the same total (${total})`);

  // Search an account, open a record, check its inclusion proof in the page.
  // To Records by the keyboard: Tab along the navigation, Enter.
  for (tabs = 0; tabs < 15 && (await focused()) !== 'Records'; tabs++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByLabel('Account').waitFor();
  check(tabs < 15, `the navigation is reachable by Tab (${tabs} presses to Records)`);
  await page.getByLabel('Account').fill(env.SEED_ACCOUNT);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('records').waitFor();
  const rows = await page.getByTestId('records').locator('tbody tr').count();
  check(rows === 3, `records of ${env.SEED_ACCOUNT}: ${rows}`);
  // ListRecords' other filters: the account's one NAME_MISMATCH record.
  await page.getByText('More filters').click();
  await page.getByLabel('Reason').fill('NAME_MISMATCH');
  await page.getByLabel('Kind').selectOption('verification');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('records').locator('tbody tr').nth(1).waitFor({ state: 'detached' });
  const mismatched = await page.getByTestId('records').locator('tbody tr').allTextContents();
  check(mismatched.length === 1 && mismatched[0].includes('NAME_MISMATCH'),
        `filtered by reason and kind: ${mismatched.length} record(s)`);
  await page.getByLabel('Reason').fill('');
  await page.getByLabel('Kind').selectOption('');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('records').locator('tbody tr').nth(2).waitFor();
  await page.getByTestId('records').locator('tbody tr').first().getByRole('button').click();
  await page.getByTestId('record-detail').waitFor();
  check((await page.getByTestId('detail-outcome').textContent()) !== '', 'the record shows its outcome');
  check((await page.getByTestId('detail-confirmed').textContent()) === 'DOCUMENT_NUMBER, FULL_NAME',
        'the record shows the elements the registry confirmed');
  await page.getByTestId('prove').click();
  await page.getByTestId('proof-result').waitFor();
  const proof = await page.getByTestId('proof-result').textContent();
  check(proof.startsWith('Included in the signed checkpoint'), `inclusion proof checked in the page: ${proof}`);
  await shot(page, 'record');
  // The page pinned the log's verifier key at first use; a node showing another key is refused.
  const pinName = await page.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith('idv.verifier.')));
  const pinnedValue = await page.evaluate((k) => localStorage.getItem(k), pinName);
  await page.evaluate((k) => localStorage.setItem(k, JSON.stringify({ key: 'idv/audit/x+00000000+AAAA', since: '2026-01-01T00:00:00Z' })), pinName);
  await page.getByTestId('prove').click();
  await page.getByTestId('proof-result').getByText(/pinned/).waitFor();
  check((await page.getByTestId('proof-result').textContent()).startsWith('Proof check FAILED'),
        'a verifier key other than the pinned one fails the proof check');
  await page.evaluate(([k, v]) => localStorage.setItem(k, v), [pinName, pinnedValue]);

  // Export, with the browser's own download.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-jsonl').click()]);
  const file = path.join(env.SHOTS, 'export.jsonl');
  await download.saveAs(file);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l).length;
  check(lines === rows, `export holds the account's ${rows} records (${lines})`);
  check((await page.getByTestId('export-progress').textContent()).startsWith(`${lines} `), 'export progress shown');
  // The same export with verified_claims: present on exactly the VERIFIED verifications.
  await page.getByTestId('export-verified-claims').check();
  const [claimed] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-jsonl').click()]);
  const claimedFile = path.join(env.SHOTS, 'export-verified-claims.jsonl');
  await claimed.saveAs(claimedFile);
  const entries = fs.readFileSync(claimedFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const verifiedIds = entries.filter((e) => e.verification && e.verification.outcome === 'VERIFIED')
    .map((e) => e.verification.verification_id);
  const claimedIds = entries.filter((e) => e.verified_claims)
    .map((e) => e.verified_claims.verification.verification_process);
  check(verifiedIds.length > 0 && JSON.stringify(claimedIds) === JSON.stringify(verifiedIds) &&
        entries.filter((e) => e.verified_claims).every((e) => typeof e.verified_claims.claims.adult === 'boolean'),
        `verified_claims on the ${verifiedIds.length} VERIFIED record(s) of the export, and only there`);

  // Integrity.
  await page.getByRole('button', { name: 'Integrity' }).click();
  const verify = page.locator('[data-testid^="verify-"]').first();
  await verify.click();
  const node = (await verify.getAttribute('data-testid')).slice('verify-'.length);
  await page.getByTestId(`integrity-${node}`).getByText(/Intact|NOT intact/).waitFor();
  check((await page.getByTestId(`integrity-${node}`).textContent()).startsWith('Intact'), `log ${node} intact`);
  // A range around the seeded account's records: those three records, checked against the
  // checkpoint past them.
  await page.getByTestId('range-first').fill(String(Number(env.SEED_INDEX) - 2));
  await page.getByTestId('range-last').fill(env.SEED_INDEX);
  await verify.click();
  await page.getByTestId(`integrity-${node}`).getByText(/Intact|NOT intact|Error/).waitFor();
  const ranged = await page.getByTestId(`integrity-${node}`).textContent();
  check(/^Intact: 3 records checked, [1-9]/.test(ranged), `a range of 3 records intact: ${ranged}`);
  await shot(page, 'integrity');
  // A range past the log's end is an error, not a verdict.
  await page.getByTestId('range-first').fill('99999999');
  await page.getByTestId('range-last').fill('');
  await verify.click();
  await page.getByTestId(`integrity-${node}`).getByText(/Intact|NOT intact|Error/).waitFor();
  const past = await page.getByTestId(`integrity-${node}`).textContent();
  check(past.startsWith('Error') && past.includes('not in the log'), `a range past the end: ${past}`);

  // The auditor is denied the backend editor, in the page and by idvd.
  await page.getByRole('button', { name: 'Backends and policies' }).click();
  check(await page.getByTestId('admin-only').isVisible(), 'the auditor sees no backend editor');
  const denied = await page.evaluate(async () => {
    const s = await (await fetch('/console/api/session')).json();
    const r = await fetch('/console/api/rpc/idv.v1.AdminService/ListBackends', {
      method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json' }, body: '{}' });
    return r.status;
  });
  check(denied === 403, `AdminService through the auditor's session: HTTP ${denied}`);
  await shot(page, 'auditor-denied');

  // Chinese UI text.
  await page.getByRole('button', { name: '中文' }).click();
  check(await page.getByRole('button', { name: '退出登录' }).isVisible(), 'the UI switches to Chinese');
  await page.getByRole('button', { name: 'English' }).click();

  // Sign out: the session is gone, and a copy of its cookie taken before is refused too.
  const copied = (await context.cookies()).find((c) => c.name === 'idv_session');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key').waitFor();
  const after = await page.evaluate(async () => (await fetch('/console/api/session')).status);
  check(after === 401, `after sign-out the session is refused (${after})`);
  const replayed = await fetch(`${base}/console/api/session`, {
    headers: { Cookie: `idv_session=${copied.value}` } });
  check(replayed.status === 401, `the signed-out session's cookie replayed: HTTP ${replayed.status}`);

  // The admin adds a backend, routes the policy to it, and it serves a Verify.
  await signIn(page, env.ADMIN_KEY);
  await page.getByRole('button', { name: 'Backends and policies' }).click();
  await page.getByTestId('backends').waitFor();
  const backend = {
    name: 'sim-2',
    typed_config: { '@type': 'type.googleapis.com/idv.config.v1.GrpcPluginConfig', target: env.SIM2, plaintext: true },
    timeout: '2s',
  };
  await page.getByLabel(/Backend \(BackendConfig/).fill(JSON.stringify(backend, null, 2));
  await page.getByTestId('backend-dry-run').click();
  await page.getByTestId('backend-result').getByText(/dry run|试运行/i).waitFor();
  check((await page.getByTestId('backend-result').textContent()).includes('backend sim-2 added'), 'dry run shows the addition');
  await page.getByLabel(/Backend \(BackendConfig/).fill('{"name": "broken", "typed_config": 5}');
  await page.getByTestId('backend-dry-run').click();
  await page.getByTestId('backend-result').getByText(/INVALID_ARGUMENT|JSON/).waitFor();
  check(true, 'bad JSON is refused with a clear error');
  await page.getByLabel(/Backend \(BackendConfig/).fill(JSON.stringify(backend, null, 2));
  await page.getByTestId('backend-apply').click();
  await page.getByTestId('backends').getByText('sim-2').waitFor();
  const policyBox = page.getByLabel(/Policy \(as JSON\)/);
  const policy = JSON.parse(await policyBox.inputValue());
  policy.backends = ['sim-2'];
  await policyBox.fill(JSON.stringify(policy, null, 2));
  await page.getByTestId('policy-apply').click();
  await page.getByTestId('history').getByText(/backends: "registry-sim" -> "sim-2"|sim-2/).first().waitFor();
  await shot(page, 'admin-backends');
  const answer = JSON.parse(execFileSync(env.IDVCTL, [
    '--server', env.GRPC, '--token_file', env.ADMIN_KEY_FILE, '-o', 'json', 'verify',
    '--account', 'console-after-change', '--number', env.NUMBER, '--name', env.NAME,
  ]).toString());
  check(answer.outcome === 'VERIFIED' && answer.checks.some((c) => c.backend === 'sim-2'),
        `a Verify after the change is answered by sim-2 (${answer.checks.map((c) => c.backend)})`);

  // Security: no cookie, a forged CSRF token, another origin, another tenant.
  const api = `${base}/console/api/rpc/idv.v1.AuditService/ListRecords`;
  let r = await fetch(api, { method: 'POST', body: '{}' });
  check(r.status === 401, `no session cookie: HTTP ${r.status}`);
  const cookie = `idv_session=${(await context.cookies()).find((c) => c.name === 'idv_session').value}`;
  r = await fetch(api, { method: 'POST', headers: { cookie, 'X-CSRF-Token': 'forged' }, body: '{}' });
  check(r.status === 403, `forged CSRF token: HTTP ${r.status}`);
  const csrf = (await (await fetch(`${base}/console/api/session`, { headers: { cookie } })).json()).csrf_token;
  r = await fetch(api, { method: 'POST', headers: { cookie, 'X-CSRF-Token': csrf, Origin: 'http://evil.example' }, body: '{}' });
  check(r.status === 403, `another origin: HTTP ${r.status}`);
  r = await fetch(api, { method: 'POST', headers: { cookie, 'X-CSRF-Token': csrf }, body: '{}' });
  check(r.status === 200, `the same request with the session's token: HTTP ${r.status}`);
  const tampered = cookie.slice(0, -4) + (cookie.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  r = await fetch(`${base}/console/api/session`, { headers: { cookie: tampered } });
  check(r.status === 401, `a tampered session cookie: HTTP ${r.status}`);

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, env.OTHER_KEY);
  const seen = await otherPage.evaluate(async ({ account, node, index }) => {
    const s = await (await fetch('/console/api/session')).json();
    const call = (m, body) => fetch(`/console/api/rpc/idv.v1.AuditService/${m}`, {
      method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    const list = await (await call('ListRecords', { filter: { account_id: account } })).json();
    const one = await call('GetRecord', { node_id: node, index });
    return { listed: (list.records || []).length, record: one.status };
  }, { account: env.SEED_ACCOUNT, node, index: env.SEED_INDEX });
  check(seen.listed === 0 && seen.record === 404,
        `another tenant's auditor sees none of its records (listed ${seen.listed}, GetRecord HTTP ${seen.record})`);
  await other.close();

  check(a11y.length === 0, `no WCAG 2 A/AA violations found by axe-core on 6 pages${a11y.length ? `: ${a11y.join(' | ')}` : ''}`);
  check(consoleErrors.length === 0,
        `no script errors in the page: ${consoleErrors.join(' | ')}`);
} finally {
  await browser.close();
}
console.log(failures === 0 ? `PASS: ${step} checks` : `FAIL: ${failures} of ${step} checks`);
process.exit(failures === 0 ? 0 : 1);
