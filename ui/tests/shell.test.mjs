// Browser test of the web UI shell: the real kade binary on a temporary data directory,
// Debian's Chromium driven by playwright-core. Signs in, creates a project, sees it,
// manages a member, and reads the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const kade = process.env.KADE_BIN ?? join(root, 'build', 'release', 'kade');
const token = 'kade_browser_test_token_0123456789abcdefghijkl';
const shots = join(root, 'ui', 'test-results');

let server;
let base;
let browser;
let dataDir;

async function waitForPort(file, proc) {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error('kade server exited early');
    if (existsSync(file)) {
      const port = readFileSync(file, 'utf8').trim();
      if (port) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (r.ok) return port;
        } catch {}
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('kade server did not start');
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kade-ui-'));
  mkdirSync(shots, { recursive: true });
  const portFile = join(dataDir, 'port');
  server = spawn(kade, ['server', '--demo', '--port-file', portFile], {
    env: {
      ...process.env,
      KADE_DATA_DIR: join(dataDir, 'data'),
      KADE_ADDR: '127.0.0.1:0',
      KADE_ADMIN_TOKEN: token,
      KADE_ACCESS_LOG: 'off',
      KADE_ALERT_INTERVAL: '1',
    },
    stdio: 'ignore',
  });
  const port = await waitForPort(portFile, server);
  base = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a wrong token is refused with the server message', async () => {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.fill('#token', 'kade_wrong');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /invalid API token/);
  await page.close();
});

test('sign in, create a project and see it', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=whoami]');
  assert.equal(await page.textContent('[data-testid=whoami]'), 'admin');
  // The navigation frame shows every lifecycle area.
  const nav = await page.textContent('nav');
  for (const area of ['Projects', 'Data', 'Experiments', 'Models', 'Endpoints', 'Monitoring', 'Governance']) {
    assert.ok(nav.includes(area), area);
  }
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('text=New project');
  await page.fill('#project-name', 'browser-made');
  await page.fill('#project-description', 'Created by the browser test');
  await page.click('text=Create project');
  await page.waitForSelector('text=browser-made');
  const table = await page.textContent('[data-testid=project-table]');
  assert.ok(table.includes('browser-made'));
  assert.ok(table.includes('Created by the browser test'));
  await page.screenshot({ path: join(shots, 'projects.png') });

  // Open it and add a member.
  await page.click('a:has-text("browser-made")');
  await page.waitForSelector('[data-testid=member-table]');
  await page.fill('input[aria-label="User name"]', 'alice');
  await page.selectOption('form.add-member select', 'editor');
  await page.click('text=Add member');
  await page.waitForSelector('[data-testid=member-table] >> text=alice');
  await page.screenshot({ path: join(shots, 'project.png') });

  // The audit log shows both changes, and the chain verifies.
  await page.click('nav >> text=Governance');
  await page.waitForSelector('[data-testid=audit-table] >> text=member.add');
  const audit = await page.textContent('[data-testid=audit-table]');
  assert.ok(audit.includes('project.create'));
  assert.ok(audit.includes('member.add'));
  await page.click('text=Verify chain');
  await page.waitForSelector('[data-testid=verify-result]');
  assert.match(await page.textContent('[data-testid=verify-result]'), /Chain intact/);
  await page.screenshot({ path: join(shots, 'audit.png') });
  await page.close();
});

test('errors from the server are shown, not swallowed', async () => {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('text=New project');
  await page.fill('#project-name', 'demo'); // exists already (seeded)
  await page.click('text=Create project');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /already exists/);
  await page.close();
});

test('create and revoke a token, and create a user, from the Access page', async () => {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('nav >> text=Access');
  await page.waitForSelector('[data-testid=token-table]');
  await page.fill('input[aria-label="Token name"]', 'from-the-ui');
  await page.click('text=Create token');
  await page.waitForSelector('[data-testid=new-token]');
  const secret = (await page.textContent('[data-testid=new-token] code')).trim();
  assert.match(secret, /^kade_/);
  // The new token really works against the API.
  const who = await fetch(base + '/api/v1/whoami', { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(who.status, 200);
  await page.click('[data-testid=token-table] tr:has-text("from-the-ui") >> text=Revoke');
  await page.waitForSelector('[data-testid=token-table] tr:has-text("from-the-ui") >> text=revoked');
  const after = await fetch(base + '/api/v1/whoami', { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(after.status, 401);

  await page.fill('input[aria-label="New user name"]', 'uma');
  await page.click('text=Create user');
  await page.waitForSelector('[data-testid=user-table] >> text=uma');
  await page.close();
});

test('the data catalog shows the demo dataset, its profile charts, quality, preview and diff', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('nav >> text=Data');
  await page.waitForSelector('select[aria-label=Project] >> option[value=demo]', { state: 'attached' });
  await page.selectOption('select[aria-label=Project]', 'demo');
  await page.waitForSelector('[data-testid=dataset-table]');
  await page.fill('input[aria-label="Search datasets"]', 'tenure');  // a column name
  await page.click('text=Search');
  await page.waitForSelector('[data-testid=dataset-table] >> text=churn');
  await page.click('[data-testid=dataset-table] >> text=churn');
  await page.waitForSelector('[data-testid=version-table]');
  await page.waitForSelector('[data-testid=column-monthly_charges] canvas');
  const charts = await page.$$('[data-testid=profile] canvas');
  assert.ok(charts.length >= 5, `expected charts, got ${charts.length}`);
  await page.screenshot({ path: join(shots, 'dataset.png'), fullPage: false });
  await page.click('button[role=tab]:has-text("quality")');
  await page.waitForSelector('[data-testid=quality-table]');
  assert.match(await page.textContent('[data-testid=quality-table]'), /allowed_values/);
  await page.click('button[role=tab]:has-text("preview")');
  await page.waitForSelector('[data-testid=preview-table] >> text=C00000');
  await page.click('text=Next');
  await page.waitForSelector('[data-testid=preview-table] >> text=C00025');
  await page.click('button[role=tab]:has-text("diff")');
  await page.waitForSelector('[data-testid=diff]');
  const diff = await page.textContent('[data-testid=diff]');
  assert.match(diff, /monthly_charges/);
  assert.match(diff, /drifted/);
  // The drift statistics of the demo's second snapshot: monthly_charges moved.
  assert.match(await page.textContent('[data-testid=dataset-drift]'), /1 of \d+ columns drifted/);
  assert.match(await page.textContent('[data-testid=diff] tr:has-text("monthly_charges")'), /wasserstein 0\.\d+/);
  await page.close();
});

test('experiments: runs table with filter and sort, run page curves, compare view', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('nav >> text=Experiments');
  await page.waitForSelector('select[aria-label=Project] >> option[value=demo]', { state: 'attached' });
  await page.selectOption('select[aria-label=Project]', 'demo');
  await page.click('[data-testid=experiment-table] >> text=churn-xgboost');
  await page.waitForSelector('[data-testid=run-table] >> text=depth6-eta0.05');
  assert.equal((await page.$$('[data-testid=run-table] tbody tr')).length, 6);
  // The filter box takes the search syntax; errors from the server are shown.
  await page.fill('input[aria-label="Run filter"]', "params.max_depth = '9'");
  await page.click('text=Search');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-table] tbody tr').length === 2);
  await page.fill('input[aria-label="Run filter"]', 'metrics.auc >> 1');
  await page.click('text=Search');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /position/);
  await page.fill('input[aria-label="Run filter"]', '');
  await page.click('text=Search');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-table] tbody tr').length === 6);
  await page.click('[data-testid=run-table] th:has-text("auc")');  // sort by auc, descending
  await page.waitForFunction(() => document.querySelector('[data-testid=run-table] tbody tr td:nth-child(2)')?.textContent === 'depth6-eta0.05');
  await page.screenshot({ path: join(shots, 'experiment.png') });
  // Compare two runs.
  await page.check('input[aria-label="select depth6-eta0.05"]');
  await page.check('input[aria-label="select depth9-eta0.30"]');
  await page.click('button:has-text("Compare")');
  await page.waitForSelector('[data-testid=compare-params] >> text=max_depth');
  await page.waitForSelector('[data-testid=parallel] canvas');
  await page.screenshot({ path: join(shots, 'compare.png') });
  // A run page with its learning curves and dataset input.
  await page.goBack();
  await page.waitForSelector('[data-testid=run-table] >> text=depth3-eta0.30');
  await page.click('[data-testid=run-table] >> text=depth3-eta0.30');
  await page.waitForSelector('[data-testid=param-table] >> text=max_depth');
  await page.waitForSelector('[data-testid=line-chart] canvas');
  assert.match(await page.textContent('[data-testid=inputs]'), /churn@1/);
  // The artifact browser previews images and JSON.
  await page.click('[data-testid=artifact-table] >> text=plots/learning_curve.svg');
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=artifact-image]');
    return img && img.complete && img.naturalWidth > 0;
  });
  await page.screenshot({ path: join(shots, 'run.png') });
  await page.click('[data-testid=artifact-table] >> text=config.json');
  await page.waitForSelector('pre.preview >> text=max_depth');
  await page.close();
});

test('training: submit a job from the form, follow its log, and see the evaluation plots of its run', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('nav >> text=Training');
  // The demo's own training job is listed (and finishes on its own).
  await page.waitForSelector('[data-testid=job-table] >> text=churn@1');
  await page.waitForFunction(() => document.querySelector('input[aria-label=Target]')?.value === 'churned');
  await page.fill('input[aria-label=Version]', '1');
  await page.fill('input[aria-label=Rounds]', '40');
  await page.fill('input[aria-label=max_depth]', '3');
  await page.click('[data-testid=train-form] button[type=submit]');
  // The job page follows the log until the job ends.
  await page.waitForSelector('[data-testid=job-log] >> text=succeeded', { timeout: 60000 });
  assert.equal(await page.textContent('[data-testid=job-status]'), 'succeeded');
  assert.match(await page.textContent('[data-testid=job-log]'), /held out/);
  await page.screenshot({ path: join(shots, 'job.png') });
  // Its run page shows learning curves and the holdout evaluation.
  await page.click('text=Run: >> a');
  await page.waitForSelector('[data-testid=evaluation]');
  await page.waitForSelector('[data-testid=roc-chart] canvas');
  await page.waitForSelector('[data-testid=calibration-chart] canvas');
  await page.waitForSelector('[data-testid=importance] canvas');
  assert.match(await page.textContent('[data-testid=confusion-matrix]'), /true/);
  await page.screenshot({ path: join(shots, 'training-run.png'), fullPage: true });
  // A bad spec is refused with the server's message.
  await page.goBack();
  await page.goto(base + '/#/training/demo');
  // The form fills in the dataset's declared target once the datasets arrive; wait for it,
  // or it could overwrite what is typed.
  await page.waitForFunction(() => document.querySelector('input[aria-label=Target]')?.value === 'churned');
  await page.fill('input[aria-label=Target]', 'nope');
  await page.click('[data-testid=train-form] button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /target column 'nope'/);
  await page.close();
});

test('training: a search shows its trials as a table and a parallel-coordinates chart', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.goto(base + '/#/training/demo');
  await page.waitForFunction(() => document.querySelector('input[aria-label=Target]')?.value === 'churned');
  await page.fill('input[aria-label=Version]', '1');
  await page.fill('input[aria-label=Rounds]', '20');
  await page.fill('input[aria-label="Search space"]', 'max_depth=2,3,4');
  await page.click('[data-testid=train-form] button[type=submit]');
  await page.waitForSelector('[data-testid=search-table]', { timeout: 60000 });
  assert.equal((await page.$$('[data-testid=search-table] tbody tr')).length, 3);
  await page.waitForSelector('[data-testid=search-parallel] canvas');
  assert.match(await page.textContent('[data-testid=search-table]'), /best/);
  await page.screenshot({ path: join(shots, 'search.png'), fullPage: true });
  await page.close();
});

test('models, endpoints and batch: promote and roll back, watch the endpoint, try it, score a dataset', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  // The demo registers its two trained models once their jobs finish.
  for (let i = 0; i < 120; i++) {
    await page.goto(base + '/#/models/demo');
    await page.waitForSelector('main .card');
    if (await page.$('[data-testid=model-table] >> text=challenger')) break;
    await page.waitForTimeout(500);
  }
  await page.click('[data-testid=model-table] >> text=churn');
  await page.waitForSelector('[data-testid=version-table] >> text=v2');
  await page.waitForSelector('[data-testid=metric-chart] canvas');
  // Promote v2 to champion, then roll back to v1.
  await page.click('button[aria-label="Promote v2"]');
  await page.waitForSelector('.notice >> text=champion → v2');
  assert.match(await page.textContent('[data-testid=alias-table]'), /champion\s*v2/);
  await page.click('button[aria-label="Roll back champion"]');
  await page.waitForSelector('.notice >> text=rolled back to v1');
  // Lineage and gate report of v1.
  await page.click('[data-testid=version-table] >> a >> text=v1');
  await page.waitForSelector('[data-testid=lineage] >> text=churn-api');
  assert.match(await page.textContent('[data-testid=lineage]'), /dataset churn@1/);
  await page.screenshot({ path: join(shots, 'model.png'), fullPage: true });
  // The endpoint page: serving versions, live charts, try-it form, recent predictions.
  await page.click('[data-testid=lineage] >> a >> text=churn-api');
  await page.waitForSelector('[data-testid=serving] >> text=v1 (champion)');
  await page.waitForSelector('[data-testid=latency-table] >> text=v1');
  await page.waitForSelector('[data-testid=latency-chart] canvas');
  await page.waitForSelector('[data-testid=try-form] select[aria-label=plan]');
  await page.selectOption('[data-testid=try-form] select[aria-label=plan]', 'pro');
  await page.fill('[data-testid=try-form] input[aria-label=tenure_months]', '3');
  await page.click('[data-testid=try-form] button[type=submit]');
  await page.waitForSelector('[data-testid=answer] >> text=probabilities');
  assert.match(await page.textContent('[data-testid=answer]'), /"version": [12]/);
  await page.waitForSelector('[data-testid=recent-table] >> text=v');
  // Why that answer: the row's SHAP contributions as bars.
  await page.click('[data-testid=explain-button]');
  await page.waitForSelector('[data-testid=explanation] canvas');
  assert.match(await page.textContent('[data-testid=explanation]'), /base value -?\d/);
  // The demo's 300 answers, two thirds with ground truth: realised AUC beside the holdout's.
  await page.waitForSelector('[data-testid=fit-table] >> text=auc');
  assert.match(await page.textContent('[data-testid=fit-table]'), /binary/);
  // The split editor: all traffic to the champion.
  await page.fill('input[aria-label="Weight challenger"]', '0');
  await page.click('[data-testid=split-form] button[type=submit]');
  await page.waitForSelector('[data-testid=serving] >> text=v1 (champion)');
  await page.screenshot({ path: join(shots, 'endpoint.png'), fullPage: true });
  // Batch: score the second snapshot now; the job succeeds and links its output dataset.
  await page.goto(base + '/#/batch/demo');
  await page.fill('input[aria-label="Input version"]', '2');
  await page.click('[data-testid=batch-form] button[type=submit]');
  await page.waitForSelector('[data-testid=batch-table] >> text=churn-scored@', { timeout: 60000 });
  await page.waitForSelector('[data-testid=batch-table] [data-testid=job-status] >> text=succeeded');
  await page.fill('input[aria-label="Schedule name"]', 'nightly-ui');
  await page.click('[data-testid=schedule-form] button[type=submit]');
  await page.waitForSelector('[data-testid=schedule-table] >> text=nightly-ui');
  await page.screenshot({ path: join(shots, 'batch.png'), fullPage: true });
  await page.close();
});

test('monitoring: the fleet shows the drifting demo endpoint and its firing alert; its page shows drift, quality, health, alerts and the monitor', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  // The demo's endpoint serves its traffic once its models are registered; the second half
  // drifts and the price-drift rule fires.
  let row = null;
  for (let i = 0; i < 180; i++) {
    await page.goto(base + '/#/monitoring');
    await page.waitForSelector('main .card');
    row = await page.$('[data-testid=fleet-table] tr[data-endpoint=churn-api] >> text=firing');
    if (row) break;
    await page.waitForTimeout(1000);
  }
  assert.ok(row, 'the demo endpoint shows a firing alert in the fleet');
  const text = await page.textContent('[data-testid=fleet-table] tr[data-endpoint=churn-api]');
  assert.match(text, /monthly_charges/);
  assert.match(text, /price-drift/);
  await page.screenshot({ path: join(shots, 'monitoring.png'), fullPage: true });
  // The endpoint's monitoring page.
  await page.click('[data-testid=fleet-table] >> text=demo/churn-api');
  await page.waitForSelector('[data-testid=drift-table] tr[data-feature=monthly_charges] >> text=drift');
  assert.match(await page.textContent('[data-testid=drift-table] tr[data-feature=plan]'), /ok/);
  await page.click('[data-testid=drift-table] tr[data-feature=support_calls]');
  await page.waitForSelector('text=support_calls: reference against current');
  await page.waitForSelector('[data-testid=drift-chart] canvas');
  await page.waitForSelector('[data-testid=output-drift-table] >> text=score');
  await page.waitForSelector('[data-testid=violations-table] >> text=unseen_category');
  assert.match(await page.textContent('[data-testid=violations-table]'), /plan/);
  await page.waitForSelector('[data-testid=health-total] >> text=availability');
  await page.waitForSelector('[data-testid=kpi-table] >> text=retained_revenue_eur');
  // Value per outcome from the late ground truth, multivariate drift and the trends.
  await page.waitForSelector('[data-testid=kpi-table] >> text=churn_value_eur');
  assert.match(await page.textContent('[data-testid=kpi-table]'), /ground truth \(fn \d+, fp \d+, tn \d+, tp \d+\)/);
  await page.waitForSelector('[data-testid=multivariate] >> text=mean error');
  await page.waitForSelector('[data-testid=trend] canvas');
  assert.match(await page.textContent('[data-testid=trend]'), /Reconstruction error/);
  // Act on the firing alert, add a rule, and change the monitor.
  await page.waitForSelector('[data-testid=alerts-table] tr[data-alert=price-drift] >> text=firing');
  await page.click('[data-testid=alerts-table] tr[data-alert=price-drift] >> text=Acknowledge');
  await page.waitForSelector('[data-testid=alerts-table] tr[data-alert=price-drift] >> text=ack admin');
  await page.fill('input[aria-label="Alert name"]', 'calls-drift');
  await page.selectOption('select[aria-label="Alert metric"]', 'feature_drifted');
  await page.fill('input[aria-label="Alert feature"]', 'support_calls');
  await page.click('[data-testid=alert-form] button[type=submit]');
  await page.waitForSelector('[data-testid=alerts-table] tr[data-alert=calls-drift]');
  await page.selectOption('select[aria-label="Method for monthly_charges"]', 'psi');
  await page.fill('input[aria-label="Threshold for monthly_charges"]', '0.25');
  await page.click('[data-testid=monitor-form] button[type=submit]');
  await page.waitForSelector('[data-testid=monitor-saved]');
  await page.waitForSelector('[data-testid=drift-table] tr[data-feature=monthly_charges] >> text=psi');
  await page.screenshot({ path: join(shots, 'monitoring-endpoint.png'), fullPage: true });
  // A bad threshold is refused with the field named.
  await page.fill('input[aria-label="Threshold for plan"]', '-1');
  await page.click('[data-testid=monitor-form] button[type=submit]');
  await page.waitForSelector('[data-testid=monitor-form] [role=alert] >> text=rules.plan.threshold');
  await page.fill('input[aria-label="Threshold for plan"]', '');
  await page.fill('input[aria-label="Value per outcome"]', 'tp=120, fp=lots');
  await page.click('[data-testid=monitor-form] button[type=submit]');
  await page.waitForSelector('[data-testid=monitor-form] [role=alert] >> text=value.fp');
  await page.close();
});

test('moving between two runs, two endpoints and to a missing model shows only the item named in the URL', async () => {
  const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const call = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: auth, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  // Two runs of the demo: one from a training job (with a holdout evaluation), one without.
  const mlflow = '/projects/demo/api/2.0/mlflow';
  const exps = (await call('POST', `${mlflow}/experiments/search`, { max_results: 100 })).json.experiments;
  const runs = (await call('POST', `${mlflow}/runs/search`, { experiment_ids: exps.map((e) => e.experiment_id), max_results: 200 })).json.runs;
  const jobs = (await call('GET', '/api/v1/projects/demo/jobs')).json.jobs;
  const trained = jobs.find((j) => j.kind === 'train' && j.status === 'succeeded' && j.run_id && !j.spec.search);
  assert.ok(trained, 'the demo has a finished training job');
  const plain = runs.find((r) => r.info.run_id !== trained.run_id && !(r.data.tags ?? []).some((t) => t.key === 'kade.source'));
  assert.ok(plain, 'the demo has a run that no training job made');
  // A second endpoint next to the demo's.
  const created = await call('POST', '/api/v1/projects/demo/endpoints', { name: 'churn-b', model: 'churn', alias: 'champion' });
  assert.equal(created.status, 201, JSON.stringify(created.json));

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requested = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');

  await page.goto(`${base}/#/runs/demo/${trained.run_id}`);
  await page.waitForSelector('[data-testid=evaluation]');
  await page.evaluate((id) => { location.hash = `#/runs/demo/${id}`; }, plain.info.run_id);
  await page.waitForSelector(`h1 >> text=${plain.info.run_name}`);
  await page.waitForTimeout(500);
  assert.equal(await page.$('[data-testid=evaluation]'), null, 'the other run\'s evaluation is still shown');

  await page.evaluate(() => { location.hash = '#/endpoints/demo/churn-api'; });
  await page.waitForSelector('h1 >> text=Endpoint churn-api');
  await page.evaluate(() => { location.hash = '#/endpoints/demo/churn-b'; });
  await page.waitForSelector('h1 >> text=Endpoint churn-b');
  assert.doesNotMatch(await page.textContent('main'), /churn-api/);

  // A missing endpoint: the error, none of the previous endpoint, and no polling after the 404.
  await page.evaluate(() => { location.hash = '#/endpoints/demo/nope'; });
  await page.waitForSelector('.error >> text=does not exist');
  assert.doesNotMatch(await page.textContent('main'), /churn-b|Traffic/);
  await page.waitForTimeout(5000);
  const polls = requested.filter((u) => u.endsWith('/api/v1/projects/demo/endpoints/nope')).length;
  assert.equal(polls, 1, `a missing endpoint was fetched ${polls} times`);

  await page.evaluate(() => { location.hash = '#/models/demo/churn'; });
  await page.waitForSelector('[data-testid=version-table]');
  await page.evaluate(() => { location.hash = '#/models/demo/nope'; });
  await page.waitForSelector('.error >> text=does not exist');
  assert.equal(await page.$('[data-testid=version-table]'), null, 'the previous model\'s versions are still shown');
  await page.close();
  await call('DELETE', '/api/v1/projects/demo/endpoints/churn-b');
});

test('the API page lists every operation from the OpenAPI document and sends one with your token', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=project-table]');
  await page.click('nav >> text=API');
  await page.waitForSelector('[data-testid=api-op]');
  const doc = await (await fetch(base + '/api/v1/openapi.json', { headers: { Authorization: `Bearer ${token}` } })).json();
  const total = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  assert.equal(await page.locator('[data-testid=api-op]').count(), total);
  // Filter, open one operation and call it.
  await page.fill('input[aria-label="Filter operations"]', 'registered-models/search');
  await page.click('[data-testid=api-op]:has-text("/api/2.0/mlflow/registered-models/search") >> nth=0');
  await page.click('[data-testid=try-it] >> text=Send GET');
  await page.waitForSelector('[data-testid=try-answer]');
  assert.equal((await page.textContent('[data-testid=try-answer] .badge')).trim(), '200');
  assert.match(await page.textContent('[data-testid=try-answer] pre'), /registered_models/);
  await page.screenshot({ path: join(shots, 'api.png'), fullPage: false });
  // The MLflow card on the Access page sets the default project for plain names.
  await page.click('nav >> text=Access');
  await page.waitForSelector('[data-testid=default-project]');
  await page.selectOption('select[aria-label="Default project"]', 'demo');
  await page.click('text=Save default project');
  await page.waitForSelector('[data-testid=default-project] >> text=demo');
  const me = await (await fetch(base + '/api/v1/whoami', { headers: { Authorization: `Bearer ${token}` } })).json();
  assert.equal(me.default_project, 'demo');
  await page.close();
});
