// Small hand-written SVG charts for the dashboard (no library: a few series of at most 360 points).
import { esc } from './lib.js';

const W = 380;
const H = 150;
const PAD = { l: 40, r: 8, t: 10, b: 22 };

/** 1, 2, 5 × 10^n at or above v (a round axis maximum). */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmt = (v, unit) => {
  if (v === null || v === undefined) return '—';
  if (unit === 'ms') {
    if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s`;
    return `${v >= 10 || v === 0 ? Math.round(v) : v.toFixed(1)} ms`;
  }
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
};

const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * A chart as an SVG string.
 *   kind 'line': each series a line (null values break it); 'bar': series stacked per step.
 *   series: [{ name, className, values: number|null[] }]; times: ISO strings, one per value.
 */
export function chart({ title, kind = 'line', series, times, unit = '' }) {
  const n = times.length;
  const innerW = W - PAD.l - PAD.r;
  const innerH = H - PAD.t - PAD.b;
  const totals = times.map((_, i) =>
    kind === 'bar'
      ? series.reduce((s, x) => s + (x.values[i] ?? 0), 0)
      : Math.max(0, ...series.map((x) => x.values[i] ?? 0)),
  );
  const max = niceMax(Math.max(0, ...totals));
  const x = (i) => PAD.l + (n <= 1 ? innerW / 2 : (i / (n - 1)) * innerW);
  const y = (v) => PAD.t + innerH - (v / max) * innerH;
  const grid = [0, 0.5, 1]
    .map((f) => {
      const v = max * f;
      // Counts are whole: no "0.5" tick label.
      const label = unit === 'ms' || Number.isInteger(v) ? fmt(v, unit) : '';
      return `<line class="gl" x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}"/><text class="axis" x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end">${esc(label)}</text>`;
    })
    .join('');
  const quiet = series.every((x) => x.values.every((v) => !v));
  let marks = '';
  if (kind === 'bar') {
    const bw = Math.max(2, Math.min(18, (innerW / Math.max(n, 1)) * 0.7));
    for (let i = 0; i < n; i++) {
      let base = 0;
      for (const s of series) {
        const v = s.values[i] ?? 0;
        if (v > 0) {
          const cx = n <= 1 ? x(i) : PAD.l + ((i + 0.5) / n) * innerW;
          marks += `<rect class="${esc(s.className)}" x="${(cx - bw / 2).toFixed(1)}" y="${y(base + v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" rx="1.5"><title>${esc(s.name)}: ${esc(fmt(v, unit))} at ${esc(time(times[i]))}</title></rect>`;
        }
        base += v;
      }
    }
  } else {
    for (const s of series) {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      const dots = s.values
        .map((v, i) =>
          v === null || v === undefined
            ? ''
            : `<circle class="${esc(s.className)}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5"><title>${esc(s.name)}: ${esc(fmt(v, unit))} at ${esc(time(times[i]))}</title></circle>`,
        )
        .join('');
      marks += `<path class="${esc(s.className)}" d="${d}" fill="none"/>${dots}`;
    }
  }
  const xLabels =
    n > 0
      ? `<text class="axis" x="${PAD.l}" y="${H - 6}">${esc(time(times[0]))}</text><text class="axis" x="${W - PAD.r}" y="${H - 6}" text-anchor="end">${esc(time(times[n - 1]))}</text>`
      : '';
  const last = series.map(
    (s) => `${s.name} ${fmt([...s.values].reverse().find((v) => v !== null && v !== undefined) ?? null, unit)}`,
  );
  const summary = `${title}: ${last.join(', ')} (latest)`;
  const legend = series
    .map(
      (s) =>
        `<span class="legend-item"><i class="swatch ${esc(s.className)}" aria-hidden="true"></i>${esc(s.name)}</span>`,
    )
    .join('');
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(quiet ? `${title}: nothing yet` : summary)}">${grid}${marks}${xLabels}${quiet ? `<text class="quiet" x="${PAD.l + innerW / 2}" y="${PAD.t + innerH / 2 + 4}" text-anchor="middle">No activity yet</text>` : ''}</svg>
    <div class="legend">${legend}</div></figure>`;
}
