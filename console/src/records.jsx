// Record search (AuditService.ListRecords with its filters, page by page), a record's detail with
// its checks, its inclusion proof checked here against the signed checkpoint, and export.
import { useState } from 'preact/hooks';
import { exportRecords, rpc } from './api.js';
import { checkInclusion } from './proof.js';
import { t } from './i18n.js';

const OUTCOMES = ['', 'VERIFIED', 'MISMATCH', 'NOT_FOUND', 'INVALID', 'PENDING', 'UNAVAILABLE'];
const DOCUMENT_TYPES = ['', 'CN_RESIDENT_ID', 'CN_RESIDENCE_PERMIT_HMT', 'CN_PERMANENT_RESIDENCE',
  'HMT_TRAVEL_PERMIT', 'PASSPORT'];
const KINDS = ['', 'verification', 'settlement', 'admin_change'];
// ListRecords' reason codes most asked about; any other code name can be typed.
const REASONS = ['ELEMENTS_MATCH', 'NAME_MISMATCH', 'NO_RECORD', 'ELEMENTS_MISMATCH',
  'AUTHORITY_PENDING', 'QUEUED_FOR_RECHECK', 'AUTHORITY_TIMEOUT', 'AUTHORITY_ERROR',
  'NO_AUTHORITY_CONFIGURED', 'TOO_MANY_ATTEMPTS', 'INVALID_CHECK_CHARACTER', 'INVALID_DATE',
  'INVALID_REGION', 'INVALID_NAME', 'INVALID_PHONE'];
// The text filters besides the account, in ListRecords' RecordFilter.
const TEXT_FILTERS = ['verification_id', 'backend', 'client_id', 'node_id'];

function toTimestamp(local) {
  return local ? new Date(local).toISOString() : undefined;
}

function Detail({ entry, onClose }) {
  const [proof, setProof] = useState(null);
  const v = entry.verification || {};
  async function prove() {
    setProof({ busy: true });
    try {
      const cps = await rpc('AuditService', 'GetCheckpoint', { node_id: entry.node_id });
      const log = cps.logs[0];
      if (BigInt(log.checkpoint_size || 0) <= BigInt(entry.index)) {
        throw new Error('no signed checkpoint covers this record yet; try again in a few seconds');
      }
      const p = await rpc('AuditService', 'GetInclusionProof', {
        node_id: entry.node_id, index: entry.index, tree_size: log.checkpoint_size,
      });
      const ok = await checkInclusion(p, log.checkpoint, log.verifier_key, entry.node_id, entry.record);
      setProof({ ok: true, text: `${t('proofOk')} (${t('size')} ${ok.size}, root ${ok.root})` });
    } catch (e) {
      setProof({ ok: false, text: `${t('proofBad')}: ${e.message}` });
    }
  }
  return (
    <section class="detail" aria-labelledby="detail-title" data-testid="record-detail">
      <h2 id="detail-title">{t('detail')} {entry.node_id} #{entry.index}</h2>
      <dl>
        <dt>{t('kind')}</dt><dd>{entry.kind}{entry.admin_action ? ` (${entry.admin_action})` : ''}</dd>
        <dt>{t('time')}</dt><dd>{v.decided_at}</dd>
        <dt>{t('account')}</dt><dd>{v.account_id}</dd>
        <dt>{t('outcome')}</dt><dd data-testid="detail-outcome">{v.outcome}</dd>
        <dt>{t('reason')}</dt><dd>{v.reason && v.reason.code}</dd>
        <dt>ID</dt><dd>{v.verification_id}</dd>
        <dt>{t('identity')}</dt><dd>{v.document_type} {v.masked_document_number} {v.masked_name}</dd>
        <dt>{t('binding')}</dt><dd>{v.binding}</dd>
        <dt>{t('client')}</dt><dd>{v.client_id}</dd>
        {(v.confirmed_elements || []).length > 0 && (
          <>
            <dt>{t('confirmedElements')}</dt>
            <dd data-testid="detail-confirmed">{v.confirmed_elements.join(', ')}</dd>
          </>
        )}
        {(v.decided_by || []).length > 0 && <><dt>{t('decidedBy')}</dt><dd>{v.decided_by.join(', ')}</dd></>}
      </dl>
      <h3>{t('checks')}</h3>
      {v.cached && <p data-testid="detail-cached">{t('fromCache')}</p>}
      {(v.checks || []).length > 0 && (
        <table>
          <thead><tr><th scope="col">{t('backend')}</th><th scope="col">{t('outcome')}</th>
            <th scope="col">{t('rawCode')}</th><th scope="col">{t('latency')}</th>
            <th scope="col">{t('confirmedElements')}</th></tr></thead>
          <tbody>
            {v.checks.map((c, i) => (
              <tr key={i}><td>{c.backend}</td><td>{c.outcome}</td><td>{c.raw_code}</td>
                <td>{(Number(c.latency_us || 0) / 1000).toFixed(1)} ms</td>
                <td>{(c.confirmed || []).join(', ')}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {!v.cached && (v.checks || []).length === 0 && <p>{t('noChecks')}</p>}
      <p>
        <button type="button" onClick={prove} data-testid="prove">{t('proveInclusion')}</button>{' '}
        <button type="button" onClick={onClose}>{t('close')}</button>
      </p>
      {proof && !proof.busy && (
        <p role="status" class={proof.ok ? 'ok' : 'error'} data-testid="proof-result">{proof.text}</p>
      )}
    </section>
  );
}

export function Records() {
  const [filter, setFilter] = useState({
    account_id: '', outcome: '', from: '', to: '', reason: '', document_type: '', kind: '',
    verification_id: '', backend: '', client_id: '', node_id: '',
  });
  const [page, setPage] = useState(null);
  const [tokens, setTokens] = useState(['']);
  const [open, setOpen] = useState(null);
  const [error, setError] = useState('');
  const [progress, setProgress] = useState('');
  // JSON Lines export with an OpenID Connect for Identity Assurance verified_claims object on each
  // VERIFIED record (ExportRecordsRequest.verified_claims; `adult` is the one claim idv can state).
  const [withClaims, setWithClaims] = useState(false);

  function request() {
    const f = {};
    for (const k of ['account_id', 'outcome', 'reason', 'document_type', 'kind', ...TEXT_FILTERS]) {
      if (filter[k].trim()) f[k] = filter[k].trim();
    }
    if (filter.from) f.from = toTimestamp(filter.from);
    if (filter.to) f.to = toTimestamp(filter.to);
    return f;
  }
  async function load(token, history) {
    setError('');
    setOpen(null);
    try {
      const r = await rpc('AuditService', 'ListRecords', { filter: request(), page_token: token, page_size: 50 });
      setPage(r);
      setTokens(history);
    } catch (e) {
      setError(e.message);
    }
  }
  async function download(format) {
    setError('');
    try {
      const req = { filter: request(), format };
      if (format === 'JSON_LINES' && withClaims) req.verified_claims = ['adult'];
      const blob = await exportRecords(req, (bytes, lines) =>
        setProgress(`${lines} ${t('exported')} (${(bytes / 1024).toFixed(0)} KiB)`));
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = format === 'CSV' ? 'idv-records.csv' : 'idv-records.jsonl';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      setError(e.message);
    }
  }
  const set = (k) => (e) => setFilter({ ...filter, [k]: e.target.value });
  return (
    <section aria-labelledby="records-title">
      <h1 id="records-title">{t('records')}</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); load('', ['']); }}>
        <label>{t('account')} <input name="account" value={filter.account_id} onInput={set('account_id')} /></label>
        <label>{t('outcome')}
          <select name="outcome" value={filter.outcome} onChange={set('outcome')}>
            {OUTCOMES.map((o) => <option value={o} key={o}>{o || t('any')}</option>)}
          </select>
        </label>
        <label>{t('from')} <input type="datetime-local" value={filter.from} onInput={set('from')} /></label>
        <label>{t('to')} <input type="datetime-local" value={filter.to} onInput={set('to')} /></label>
        <details class="more">
          <summary>{t('moreFilters')}</summary>
          <div class="filters">
            <label>{t('reason')}
              <input name="reason" list="reasons" value={filter.reason} onInput={set('reason')} />
              <datalist id="reasons">{REASONS.map((r) => <option value={r} key={r} />)}</datalist>
            </label>
            <label>{t('documentType')}
              <select name="document_type" value={filter.document_type} onChange={set('document_type')}>
                {DOCUMENT_TYPES.map((d) => <option value={d} key={d}>{d || t('any')}</option>)}
              </select>
            </label>
            <label>{t('kind')}
              <select name="kind" value={filter.kind} onChange={set('kind')}>
                {KINDS.map((k) => <option value={k} key={k}>{k || t('any')}</option>)}
              </select>
            </label>
            {TEXT_FILTERS.map((k) => (
              <label key={k}>{t(k)} <input name={k} value={filter[k]} onInput={set(k)} /></label>
            ))}
          </div>
        </details>
        <button type="submit">{t('search')}</button>
        <button type="button" onClick={() => download('JSON_LINES')} data-testid="export-jsonl">{t('exportJsonl')}</button>
        <button type="button" onClick={() => download('CSV')}>{t('exportCsv')}</button>
        <label>
          <input type="checkbox" checked={withClaims} onChange={(e) => setWithClaims(e.target.checked)}
            data-testid="export-verified-claims" /> {t('withVerifiedClaims')}
        </label>
      </form>
      {progress && <p role="status" data-testid="export-progress">{progress}</p>}
      {error && <p role="alert" class="error">{t('error')}: {error}</p>}
      {open && <Detail entry={open} onClose={() => setOpen(null)} />}
      {page && (
        (page.records || []).length === 0 ? <p>{t('noRecords')}</p> : (
          <table data-testid="records">
            <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('kind')}</th>
              <th scope="col">{t('account')}</th><th scope="col">{t('outcome')}</th>
              <th scope="col">{t('reason')}</th><th scope="col">{t('node')}</th>
              <th scope="col">{t('index')}</th><th scope="col"><span class="sr-only">{t('open')}</span></th></tr></thead>
            <tbody>
              {page.records.map((r) => {
                const v = r.verification || {};
                return (
                  <tr key={`${r.node_id}-${r.index}`}>
                    <td>{v.decided_at}</td><td>{r.kind}</td><td>{v.account_id}</td>
                    <td>{v.outcome}</td><td>{v.reason && v.reason.code}</td>
                    <td>{r.node_id}</td><td>{r.index}</td>
                    <td><button type="button" onClick={() => setOpen(r)}
                      aria-label={`${t('open')} ${r.node_id} #${r.index}`}>{t('open')}</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      )}
      {page && (
        <p>
          {tokens.length > 1 && <button type="button" onClick={() => load('', [''])}>{t('first')}</button>}{' '}
          {page.next_page_token && (
            <button type="button" onClick={() => load(page.next_page_token, [...tokens, page.next_page_token])}>
              {t('next')}
            </button>
          )}
        </p>
      )}
    </section>
  );
}
