// The logs' newest signed checkpoints (each signature checked here), and VerifyIntegrity of a
// node's log, whole or a range of records: intact, or the first bad record and what is wrong.
import { useEffect, useState } from 'preact/hooks';
import { rpc } from './api.js';
import { openNote, pinnedKey, repin } from './proof.js';
import { t } from './i18n.js';

// Whether the node's verifier key is the one this browser pinned; a changed key is an alarm, and
// pinning the new one is the auditor's explicit choice.
function PinStatus({ pin, onRepin }) {
  if (!pin) return null;
  if (pin.changed) {
    return (
      <span class="error" role="alert" data-testid="pin-changed">
        {t('keyChanged')} {pin.since} ({pin.pinned}){' '}
        <button type="button" onClick={onRepin}>{t('repin')}</button>
      </span>
    );
  }
  return <span class="muted">{pin.first ? t('keyPinnedNow') : `${t('keyPinnedSince')} ${pin.since}`}</span>;
}

export function Integrity() {
  const [logs, setLogs] = useState(null);
  const [signed, setSigned] = useState({});
  const [reports, setReports] = useState({});
  const [error, setError] = useState('');
  const [range, setRange] = useState({ first: '', last: '' });
  const [pins, setPins] = useState({});
  useEffect(() => {
    rpc('AuditService', 'GetCheckpoint', {}).then(async (r) => {
      setLogs(r.logs || []);
      const checked = {};
      for (const l of r.logs || []) {
        if (!l.checkpoint) {
          checked[l.node_id] = 'no checkpoint yet';
          continue;
        }
        try {
          await openNote(l.checkpoint, l.verifier_key);
          checked[l.node_id] = 'signature verified';
        } catch (e) {
          checked[l.node_id] = `signature FAILED: ${e.message}`;
        }
      }
      setSigned(checked);
      const pinned = {};
      for (const l of r.logs || []) if (l.verifier_key) pinned[l.node_id] = pinnedKey(l.node_id, l.verifier_key);
      setPins(pinned);
    }, (e) => setError(e.message));
  }, []);
  async function verify(node) {
    setReports({ ...reports, [node]: { busy: true } });
    try {
      const r = await rpc('AuditService', 'VerifyIntegrity', {
        // The page speaks of record indexes (0-based, as Records shows them); the API of sequences.
        node_id: node,
        first: range.first === '' ? '0' : String(Number(range.first) + 1),
        last: range.last === '' ? '0' : String(Number(range.last) + 1),
      });
      setReports((prev) => ({ ...prev, [node]: r }));
    } catch (e) {
      setReports((prev) => ({ ...prev, [node]: { failed: e.message } }));
    }
  }
  if (error) return <p role="alert" class="error">{t('error')}: {error}</p>;
  if (!logs) return <p>{t('loading')}</p>;
  return (
    <section aria-labelledby="integrity-title">
      <h1 id="integrity-title">{t('integrity')}</h1>
      <h2>{t('checkpoints')}</h2>
      <div class="filters">
        <label>{t('firstRecord')}
          <input type="number" min="0" inputmode="numeric" value={range.first} data-testid="range-first"
            onInput={(e) => setRange({ ...range, first: e.target.value })} placeholder={t('wholeLog')} />
        </label>
        <label>{t('lastRecord')}
          <input type="number" min="0" inputmode="numeric" value={range.last} data-testid="range-last"
            onInput={(e) => setRange({ ...range, last: e.target.value })} placeholder={t('toTheEnd')} />
        </label>
      </div>
      <table>
        <thead><tr><th scope="col">{t('node')}</th><th scope="col">{t('size')}</th>
          <th scope="col">{t('time')}</th><th scope="col">{t('verifierKey')}</th><th scope="col" /><th scope="col" /></tr></thead>
        <tbody>
          {logs.map((l) => {
            const r = reports[l.node_id];
            return (
              <tr key={l.node_id}>
                <td>{l.node_id}</td><td>{l.checkpoint_size} / {l.log_size}</td><td>{l.checkpoint_time}</td>
                <td class="mono">{l.verifier_key}<br /><span class="muted">{signed[l.node_id]}</span><br />
                  <PinStatus pin={pins[l.node_id]}
                    onRepin={() => setPins({ ...pins, [l.node_id]: repin(l.node_id, l.verifier_key) })} /></td>
                <td><button type="button" onClick={() => verify(l.node_id)} data-testid={`verify-${l.node_id}`}>
                  {t('verifyIntegrity')}</button></td>
                <td role="status" data-testid={`integrity-${l.node_id}`}>
                  {r && r.failed && <span class="error">{t('error')}: {r.failed}</span>}
                  {r && !r.busy && !r.failed && (r.intact
                    ? <span class="ok">{t('intact')}: {r.records_checked} {t('recordsChecked')}, {r.checkpoints_checked} {t('checkpointsChecked')}</span>
                    : <span class="error">{t('notIntact')}{Number(r.first_bad_sequence) ? ` — ${t('firstBad')}: ${t('index')} ${Number(r.first_bad_sequence) - 1}` : ''}: {r.problem}</span>)}
                  {r && r.busy && t('loading')}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
