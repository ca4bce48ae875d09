"""The HTML report's style sheet, inlined in the page: phone-first, print-friendly, the
band patterns of the charts repeated in the legends' swatches."""

CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de;
  --bg: #f3f4f6; --card: #ffffff; --upright: #009e73; --slouch: #d55e00;
  --away: #999999; --paused: #e69f00; --other: #cc79a7; --blue: #0072b2;
  --stripe: rgba(255, 255, 255, 0.85); }
* { box-sizing: border-box; }
html { font-size: 100%; -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 1rem; line-height: 1.45; }
main { max-width: 62rem; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
header { margin-bottom: 1rem; }
h1 { font-size: 1.6rem; line-height: 1.2; margin: 0 0 0.3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 0 0 0.6rem; }
.period { color: var(--muted); margin: 0; }
.live { display: inline-block; margin: 0.5rem 0 0; padding: 0.15rem 0.6rem;
  border: 1px solid var(--blue); border-radius: 1rem; color: var(--blue);
  font-size: 0.85rem; }
.stats { display: grid; gap: 0.75rem; margin: 0 0 0.75rem; padding: 0; list-style: none;
  grid-template-columns: repeat(2, minmax(0, 1fr)); }
@media (min-width: 50rem) { .stats { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
.stat, .card { background: var(--card); border: 1px solid var(--line);
  border-radius: 0.6rem; }
.stat { padding: 0.75rem 0.9rem; min-width: 0; }
.stat .label { color: var(--muted); font-size: 0.8rem; text-transform: uppercase;
  letter-spacing: 0.03em; }
.stat .value { font-size: 1.6rem; font-weight: 650; line-height: 1.25;
  overflow-wrap: anywhere; }
.stat .sub { color: var(--muted); font-size: 0.875rem; }
.up { color: #006e50; } .down { color: #a84300; }
.card { padding: 1rem; margin: 0 0 0.75rem; min-width: 0; }
.note { color: var(--muted); font-size: 0.9rem; margin: -0.3rem 0 0.5rem; }
.nodata { color: var(--muted); font-style: italic; margin: 0.25rem 0; }
.pair { display: grid; gap: 0.75rem; margin: 0 0 0.75rem;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); }
.pair .card { margin: 0; }
.plot { overflow-x: auto; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart * { stroke-linejoin: round; stroke-linecap: butt; }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1.1rem; list-style: none;
  margin: 0 0 0.4rem; padding: 0; font-size: 0.9rem; }
.legend li { display: flex; align-items: center; gap: 0.45rem; }
.legend .extra { color: var(--muted); }
.sw { display: inline-block; flex: none; width: 1.7rem; height: 0.95rem; border-radius: 2px; }
.sw.upright { background: var(--upright); }
.sw.slouch, .sw.worst, .meter span { background: var(--slouch); background-image:
  repeating-linear-gradient(135deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.away { background: var(--away); background-image:
  repeating-linear-gradient(180deg, transparent 0 0.2rem, var(--stripe) 0.2rem 0.3rem); }
.sw.paused { background: var(--paused); background-image:
  repeating-linear-gradient(45deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.other { background: var(--other); }
.sw.problem { background: rgba(213, 94, 0, 0.6); background-image:
  repeating-linear-gradient(135deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.score, .sw.threshold, .sw.average { height: 0; border-radius: 0; }
.sw.score { border-top: 3px solid var(--blue); }
.sw.threshold { border-top: 2px dashed var(--ink); }
.sw.average { border-top: 2px dotted var(--ink); }
.problems { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.45rem; }
.problems li { display: grid; grid-template-columns: minmax(9rem, 14rem) 1fr auto;
  gap: 0.75rem; align-items: center; }
.meter { height: 0.8rem; background: #eef0f3; border-radius: 0.4rem; overflow: hidden; }
.meter span { display: block; height: 100%; }
.problems .time { font-variant-numeric: tabular-nums; text-align: right; min-width: 5.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem;
  font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 0.85rem; }
td.num, th.num { text-align: right; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 1rem; }
@media (max-width: 40rem) {
  main { padding: 0.9rem 0.75rem 1.5rem; }
  h1 { font-size: 1.35rem; }
  .card { padding: 0.75rem; }
  .stat { padding: 0.6rem 0.7rem; }
  .stat .value { font-size: 1.3rem; }
  .wide svg.chart { min-width: 36rem; }
  .problems li { grid-template-columns: 1fr auto; gap: 0.2rem 0.75rem; }
  .problems .meter { grid-column: 1 / -1; grid-row: 2; }
}
@media print { body { background: #fff; } .card, .stat { break-inside: avoid; } }
"""
