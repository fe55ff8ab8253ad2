// Backends with their breaker state and calls in flight, the policies, the configuration history
// (each change as old -> new), and an editor: JSON validated by idvd, a dry run showing what would
// change, then apply. Administrators only: idvd refuses the others, and the page says so.
import { useEffect, useState } from 'preact/hooks';
import { rpc } from './api.js';
import { t } from './i18n.js';

const EXAMPLE = {
  name: 'carrier',
  typed_config: {
    '@type': 'type.googleapis.com/idv.config.v1.GrpcPluginConfig',
    target: '127.0.0.1:7601',
    plaintext: true,
    requires_phone: true,
  },
  timeout: '2s',
  max_in_flight: 64,
};

function Editor({ title, kind, initial, onApplied }) {
  const [text, setText] = useState(JSON.stringify(initial, null, 2));
  const [result, setResult] = useState(null);
  async function submit(dryRun) {
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      setResult({ ok: false, text: `JSON: ${e.message}` });
      return;
    }
    try {
      const r = kind === 'backend'
        ? await rpc('AdminService', 'PutBackend', { backend: value, dry_run: dryRun, probe: !dryRun })
        : await rpc('AdminService', 'PutPolicy', { policy: value, dry_run: dryRun });
      setResult({ ok: true, text: `${t('version')} ${r.version}${r.applied ? '' : ` (${t('dryRun')})`}: ${(r.changes || []).join('; ') || t('none')}` });
      if (!dryRun) onApplied();
    } catch (e) {
      setResult({ ok: false, text: `${e.code}: ${e.message}` });
    }
  }
  const id = `editor-${kind}`;
  return (
    <div class="editor">
      <label for={id}>{title}</label>
      <textarea id={id} rows="12" spellcheck={false} value={text} onInput={(e) => setText(e.target.value)} />
      <p>
        <button type="button" onClick={() => submit(true)} data-testid={`${kind}-dry-run`}>{t('dryRun')}</button>{' '}
        <button type="button" onClick={() => submit(false)} data-testid={`${kind}-apply`}>{t('apply')}</button>
      </p>
      {result && <p role="status" class={result.ok ? 'ok' : 'error'} data-testid={`${kind}-result`}>{result.text}</p>}
    </div>
  );
}

export function Backends({ session }) {
  const [state, setState] = useState(null);
  const [error, setError] = useState('');
  async function load() {
    try {
      const [b, p, h] = await Promise.all([
        rpc('AdminService', 'ListBackends', {}),
        rpc('AdminService', 'GetPolicy', {}),
        rpc('AdminService', 'ListConfigVersions', { limit: 20 }),
      ]);
      setState({ backends: b.backends || [], policies: p.policies || [], history: h.versions || [] });
      setError('');
    } catch (e) {
      setError(e.status === 403 || e.code === 'PERMISSION_DENIED' ? t('adminOnly') : e.message);
    }
  }
  useEffect(() => { load(); }, []);
  if (!session.roles.some((r) => r === 'admin' || r === 'super-admin')) {
    return <section><h1>{t('backends')}</h1><p role="alert" data-testid="admin-only">{t('adminOnly')}</p></section>;
  }
  if (error) return <section><h1>{t('backends')}</h1><p role="alert" class="error">{error}</p></section>;
  if (!state) return <p>{t('loading')}</p>;
  return (
    <section aria-labelledby="backends-title">
      <h1 id="backends-title">{t('backends')}</h1>
      <table data-testid="backends">
        <thead><tr><th scope="col">{t('backend')}</th><th scope="col">type</th><th scope="col">target</th>
          <th scope="col">{t('breaker')}</th><th scope="col">{t('inFlight')}</th></tr></thead>
        <tbody>
          {state.backends.map((b) => (
            <tr key={b.config.name}>
              <td>{b.config.name}</td>
              <td>{((b.config.typed_config || {})['@type'] || '').split('.').pop()}</td>
              <td>{(b.config.typed_config || {}).target}</td>
              <td class={`breaker-${b.breaker}`}>{b.breaker}</td><td>{b.in_flight}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('policies')}</h2>
      <pre class="mono">{JSON.stringify(state.policies, null, 2)}</pre>
      <h2>{t('history')}</h2>
      <table data-testid="history">
        <thead><tr><th scope="col">{t('version')}</th><th scope="col">{t('time')}</th>
          <th scope="col">{t('actor')}</th><th scope="col">{t('summary')}</th></tr></thead>
        <tbody>
          {state.history.map((v) => (
            <tr key={v.version}><td>{v.version}</td><td>{v.created_at}</td><td>{v.actor}</td>
              <td class="mono">{v.summary}</td></tr>
          ))}
        </tbody>
      </table>
      <h2>{t('edit')}</h2>
      <div class="columns">
        <Editor title={t('backendJson')} kind="backend" initial={EXAMPLE} onApplied={load} />
        <Editor title={t('policyJson')} kind="policy" initial={state.policies[0] || {}} onApplied={load} />
      </div>
    </section>
  );
}
