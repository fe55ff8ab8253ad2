// Verifications per hour by outcome (AuditService.GetStats, from the store's hourly counters),
// backend latency, and live state from idvd's metrics: cache hit rate, breakers, re-check queue.
// Refreshes every 10 s.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { metrics, rpc } from './api.js';
import { t } from './i18n.js';

const COLORS = {
  VERIFIED: '#1a7f37', MISMATCH: '#b35900', NOT_FOUND: '#8250df', INVALID: '#cf222e',
  PENDING: '#0969da', UNAVAILABLE: '#57606a',
};

// One point per bucket (hour or day) of the window, zero where the audit log has none, so the
// lines are continuous and the time axis always spans the window.
function Chart({ buckets, outcomes, from, points, step }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current) return undefined;
    const start = Date.parse(from) / 1000;
    const xs = Array.from({ length: points }, (_, i) => start + i * step);
    const at = new Map(buckets.map((b) => [Math.floor(Date.parse(b.start) / 1000), b.by_outcome || {}]));
    const series = outcomes.map((o) => xs.map((x) => Number((at.get(x) || {})[o] || 0)));
    const plot = new uPlot({
      width: Math.min(ref.current.clientWidth || 800, 1100),
      height: 260,
      scales: { x: { time: true, range: [start, start + (points - 1) * step] } },
      series: [{}, ...outcomes.map((o) => ({ label: o, stroke: COLORS[o] || '#333', width: 2 }))],
      axes: [{}, { label: t('calls') }],
    }, [xs, ...series], ref.current);
    return () => plot.destroy();
  }, [buckets, outcomes, from, points, step]);
  return <div ref={ref} class="chart" role="img" aria-label={t('outcomesPerHour')} />;
}

function sum(list, pred) {
  return list.filter(pred).reduce((n, m) => n + m.value, 0);
}

export function Dashboard() {
  const [stats, setStats] = useState(null);
  const [live, setLive] = useState(null);
  const [error, setError] = useState('');
  const [at, setAt] = useState(null);

  const [days, setDays] = useState(1);

  // The window: the last 24 hours by the hour, or the last 7 or 30 UTC days by the day.
  async function load(d) {
    const step = d === 1 ? 3600 : 86400;
    const points = d === 1 ? 24 : d;
    const now = Date.now();
    const from = new Date(Math.floor((now - (points - 1) * step * 1000) / (step * 1000)) * step * 1000)
      .toISOString();
    try {
      const [s, m] = await Promise.all([
        rpc('AuditService', 'GetStats', { filter: { from }, bucket: d === 1 ? 'HOUR' : 'DAY' }),
        metrics().catch(() => null),
      ]);
      setStats({ ...s, window: { from, step, points, days: d } });
      setLive(m);
      setAt(new Date());
      setError('');
    } catch (e) {
      setError(e.message);
    }
  }
  useEffect(() => {
    load(days);
    const timer = setInterval(() => load(days), 10000);
    return () => clearInterval(timer);
  }, [days]);

  if (error) return <p role="alert" class="error">{t('error')}: {error}</p>;
  if (!stats) return <p>{t('loading')}</p>;
  const buckets = stats.buckets || [];
  const totals = {};
  for (const b of buckets) {
    for (const [o, n] of Object.entries(b.by_outcome || {})) totals[o] = (totals[o] || 0) + Number(n);
  }
  const outcomes = Object.keys(totals).sort();
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  let cache = null;
  let breakers = [];
  let rechecks = null;
  if (live) {
    const hits = sum(live, (m) => m.name === 'idv_cache_lookups_total' && m.labels.result === 'hit');
    const lookups = sum(live, (m) => m.name === 'idv_cache_lookups_total');
    cache = lookups > 0 ? hits / lookups : null;
    breakers = live.filter((m) => m.name === 'idv_backend_breaker_state');
    const q = live.find((m) => m.name === 'idv_rechecks_queued');
    rechecks = q ? q.value : null;
  }
  return (
    <section aria-labelledby="dash-title" data-testid="dashboard" data-ready="true" data-window={stats.window.days}>
      <h1 id="dash-title">{t('dashboard')}</h1>
      <p class="muted">
        <label class="inline">{t('window')}{' '}
          <select value={days} data-testid="window" onChange={(e) => setDays(Number(e.target.value))}>
            <option value={1}>{t('last24h')}</option>
            <option value={7}>{t('last7d')}</option>
            <option value={30}>{t('last30d')}</option>
          </select>
        </label>{' '}
        {t('refreshed')} {at && at.toLocaleTimeString()}
      </p>
      <div class="tiles">
        <div class="tile"><h2>{t('total')}</h2><p class="big" data-testid="total">{all}</p></div>
        {outcomes.map((o) => (
          <div class="tile" key={o}>
            <h2>{o}</h2>
            <p class="big" data-testid={`outcome-${o}`}>{totals[o]}</p>
          </div>
        ))}
        <div class="tile">
          <h2>{t('cacheHitRate')}</h2>
          <p class="big" data-testid="cache">{cache === null ? '–' : `${(cache * 100).toFixed(1)} %`}</p>
        </div>
        <div class="tile">
          <h2>{t('rechecks')}</h2>
          <p class="big" data-testid="rechecks">{rechecks === null ? '–' : rechecks}</p>
        </div>
      </div>
      <h2>{stats.window.days === 1 ? t('outcomesPerHour') : t('outcomesPerDay')}</h2>
      <Chart buckets={buckets} outcomes={outcomes} from={stats.window.from}
        points={stats.window.points} step={stats.window.step} />
      <div class="columns">
        <div>
          <h2>{t('backendLatency')}</h2>
          <table>
            <thead><tr><th scope="col">{t('backend')}</th><th scope="col">{t('calls')}</th>
              <th scope="col">{t('p50')}</th><th scope="col">{t('p99')}</th></tr></thead>
            <tbody>
              {(stats.latency || []).map((l) => (
                <tr key={l.backend}><td>{l.backend}</td><td>{l.calls}</td>
                  <td>{(Number(l.p50_us) / 1000).toFixed(1)} ms</td>
                  <td>{(Number(l.p99_us) / 1000).toFixed(1)} ms</td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>{t('breakers')}</h2>
          {breakers.length === 0 ? <p class="muted">{live ? t('none') : t('noMetrics')}</p> : (
            <table>
              <thead><tr><th scope="col">{t('backend')}</th><th scope="col">{t('breaker')}</th></tr></thead>
              <tbody>
                {breakers.map((b) => (
                  <tr key={b.labels.backend}><td>{b.labels.backend}</td>
                    <td class={`state-${b.value}`}>{['closed', 'half_open', 'open'][b.value] || b.value}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </section>
  );
}
